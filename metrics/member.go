package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.etcd.io/raft/v3"

	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/raftactor"
)

// Sources are what a member's metrics read when scraped. Nil fields are
// not exported.
type Sources struct {
	// MemberID labels etcd_server_id.
	MemberID uint64
	// Status is the raft actor's board.
	Status func() raftactor.Status
	// Proposals returns the proposals waiting for their apply and those
	// that failed (frontdoor.Server.ProposalStats).
	Proposals func() (pending int64, failed uint64)
	// DBSize returns the bytes the storage engine uses on disk.
	DBSize func() int64
	// Revision and CompactRevision are the store's.
	Revision, CompactRevision func() int64
	// Keys returns the number of live keys, false while not known.
	Keys func() (int64, bool)
	// RaftLogBytes returns the bytes of entries the raft log retains.
	RaftLogBytes func() uint64
	// PendingReads returns the linearizable reads waiting for a read index.
	PendingReads func() int64
	// LeasesHeld returns what the lessor holds in memory.
	LeasesHeld func() int64
	// Watch is the watch hub's counters.
	Watch *watch.Stats
	// TxnRangeBytes returns the bytes of key-values of txn ranges the
	// member applied, built for its clients and only measured
	// (mvcc.Store.TxnRangeBytes).
	TxnRangeBytes func() (built, measured int64)
	// StorageWrites returns what each of the storage engine's databases
	// has written (storage.go).
	StorageWrites func() []StorageWrites
}

// Member is one member's metrics.
type Member struct {
	reg *prometheus.Registry

	walFsync      prometheus.Histogram
	backendCommit prometheus.Histogram
	slowApplies   prometheus.Counter
	sent          *prometheus.CounterVec
	received      *prometheus.CounterVec
	dropped       *prometheus.CounterVec

	actorTime *prometheus.HistogramVec
	restarts  *prometheus.CounterVec
	depths    *depthCollector
	unary     *prometheus.HistogramVec // grpc.go
}

// New returns a member's metrics, registered on a new registry with Go's
// and the process's collectors (as etcd's /metrics shows them).
func New(src Sources) *Member {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Member{
		reg: reg,
		walFsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "etcd", Subsystem: "disk", Name: "wal_fsync_duration_seconds",
			Help:    "The latency distributions of synced appends to the raft log (one pebble batch: write and fsync).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		backendCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "etcd", Subsystem: "disk", Name: "backend_commit_duration_seconds",
			Help:    "The latency distributions of commits of applied batches to the state machine.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		slowApplies: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "etcd", Subsystem: "server", Name: "slow_apply_total",
			Help: "The total number of slow apply requests (likely overloaded from slow disk).",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "etcd", Subsystem: "network", Name: "peer_sent_bytes_total",
			Help: "The total number of bytes sent to peers.",
		}, []string{"To"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "etcd", Subsystem: "network", Name: "peer_received_bytes_total",
			Help: "The total number of bytes received from peers.",
		}, []string{"From"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cairn", Subsystem: "network", Name: "peer_batches_dropped_total",
			Help: "Raft batches from peers dropped unstepped: misaddressed (another cluster's, or for another member) or removed (from a member the cluster removed); and stale-refusal, refusals of forwarded proposals not of this run of the member.",
		}, []string{"reason"}),
		actorTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "cairn", Subsystem: "actor", Name: "message_duration_seconds",
			Help:    "Time an actor spent handling one message, by actor and message type. The rate of its sum is the actor's busy fraction.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}, []string{"actor", "message"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cairn", Subsystem: "actor", Name: "restarts_total",
			Help: "Restarts of the actors of a role by their supervisor, after a failure.",
		}, []string{"actor"}),
		depths: newDepthCollector(),
		unary:  newUnaryHistogram(),
	}
	reg.MustRegister(m.walFsync, m.backendCommit, m.slowApplies, m.sent, m.received, m.dropped, m.actorTime, m.restarts, m.depths, m.unary)
	m.registerSources(src)
	return m
}

// Registry returns the registry the member's metrics are registered on;
// register more on it to serve them on the same /metrics.
func (m *Member) Registry() *prometheus.Registry { return m.reg }

func (m *Member) registerSources(src Sources) {
	gauge := func(ns, sub, name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, f))
	}
	counter := func(ns, sub, name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, f))
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	if src.MemberID != 0 {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "etcd", Subsystem: "server", Name: "id", Help: "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
			ConstLabels: prometheus.Labels{"server_id": strconv.FormatUint(src.MemberID, 16)},
		}, func() float64 { return 1 }))
	}
	if st := src.Status; st != nil {
		gauge("etcd", "server", "has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
			func() float64 { return b2f(st().Lead != raft.None) })
		gauge("etcd", "server", "is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
			func() float64 { return b2f(st().State == raft.StateLeader) })
		counter("etcd", "server", "leader_changes_seen_total", "The number of leader changes seen.",
			func() float64 { return float64(st().LeaderChanges) })
		// Gauges, as in etcd: they follow raft's commit and applied indexes.
		gauge("etcd", "server", "proposals_committed_total", "The total number of consensus proposals committed (raft's commit index).",
			func() float64 { return float64(st().Commit) })
		gauge("etcd", "server", "proposals_applied_total", "The total number of consensus proposals applied (the applied index raft knows).",
			func() float64 { return float64(st().Applied) })
		gauge("cairn", "raft", "term", "The member's raft term.", func() float64 { return float64(st().Term) })
	}
	if p := src.Proposals; p != nil {
		gauge("etcd", "server", "proposals_pending", "The current number of pending proposals to commit.",
			func() float64 { n, _ := p(); return float64(n) })
		counter("etcd", "server", "proposals_failed_total", "The total number of failed proposals seen.",
			func() float64 { _, n := p(); return float64(n) })
	}
	if f := src.DBSize; f != nil {
		gauge("etcd", "mvcc", "db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes (pebble's disk usage).",
			func() float64 { return float64(f()) })
	}
	if f := src.Revision; f != nil {
		gauge("etcd", "debugging", "mvcc_current_revision", "The current revision of store.", func() float64 { return float64(f()) })
	}
	if f := src.CompactRevision; f != nil {
		gauge("etcd", "debugging", "mvcc_compact_revision", "The revision of the last compaction in store.", func() float64 { return float64(f()) })
	}
	if f := src.Keys; f != nil {
		m.reg.MustRegister(keysCollector{desc: prometheus.NewDesc("etcd_debugging_mvcc_keys_total",
			"Total number of keys (absent until the member has counted them after it started).", nil, nil), keys: f})
	}
	if f := src.StorageWrites; f != nil {
		m.reg.MustRegister(newStorageCollector(f))
	}
	if f := src.RaftLogBytes; f != nil {
		gauge("cairn", "raft", "log_bytes", "Bytes of entries the raft log retains (applied entries kept for members that are behind, and entries not yet applied).",
			func() float64 { return float64(f()) })
	}
	if f := src.PendingReads; f != nil {
		gauge("cairn", "readindex", "pending_reads", "Linearizable reads waiting for a read index.", func() float64 { return float64(f()) })
	}
	if f := src.LeasesHeld; f != nil {
		gauge("cairn", "lessor", "items_held", "Leases, scheduled checkpoints and questions the lessor holds in memory (0 on a member that does not lead).",
			func() float64 { return float64(f()) })
	}
	if f := src.TxnRangeBytes; f != nil {
		counter("cairn", "mvcc", "txn_range_built_bytes_total", "Bytes of key-values the member built for the ranges of the txns it applied and answered.",
			func() float64 { n, _ := f(); return float64(n) })
		counter("cairn", "mvcc", "txn_range_measured_bytes_total", "Bytes of key-values of the ranges of txns the member applied for another member's client: measured against the txn's response bound, not built.",
			func() float64 { _, n := f(); return float64(n) })
	}
	if w := src.Watch; w != nil {
		gauge("etcd", "debugging", "mvcc_watch_stream_total", "Total number of watch streams.", func() float64 { return float64(w.Streams.Load()) })
		gauge("etcd", "debugging", "mvcc_watcher_total", "Total number of watchers.", func() float64 { return float64(w.Watchers.Load()) })
		counter("cairn", "watch", "lagged_total", "Watchers moved from the live stream to catching up from history, because their queue was full.",
			func() float64 { return float64(w.Lagged.Load()) })
		gauge("cairn", "watch", "streams_catching_up", "Watch streams with watchers catching up from history.",
			func() float64 { return float64(w.CatchingUp.Load()) })
		gauge("cairn", "watch", "queued_bytes", "Bytes of responses queued in all watch streams for their clients.",
			func() float64 { return float64(w.QueuedBytes.Load()) })
	}
}

// keysCollector exports the key count once it is known.
type keysCollector struct {
	desc *prometheus.Desc
	keys func() (int64, bool)
}

func (c keysCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c keysCollector) Collect(ch chan<- prometheus.Metric) {
	if n, ok := c.keys(); ok {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
	}
}

// Hooks returned for the actors that observe events as they happen.

// OnSync observes a synced raft log append (raftactor.Config.OnSync).
func (m *Member) OnSync(d time.Duration) { m.walFsync.Observe(d.Seconds()) }

// OnCommit observes an applied batch's commit (apply.Config.OnCommit).
func (m *Member) OnCommit(d time.Duration) { m.backendCommit.Observe(d.Seconds()) }

// OnSlowApply counts a slow apply (apply.Config.OnSlowApply).
func (m *Member) OnSlowApply() { m.slowApplies.Inc() }

// OnSend returns the hook that counts bytes sent to peers
// (transport.Config.OnSend). Its caches are its own: give it to one actor.
func (m *Member) OnSend() func(to uint64, n int) { return peerCounter(m.sent) }

// OnReceive returns the hook that counts bytes received from peers
// (raftactor.Config.OnReceive).
func (m *Member) OnReceive() func(from uint64, n int) { return peerCounter(m.received) }

// OnDrop returns the hook that counts raft batches dropped unstepped
// (raftactor.Config.OnDrop).
func (m *Member) OnDrop() func(reason string) {
	return func(reason string) { m.dropped.WithLabelValues(reason).Inc() }
}

// peerCounter counts bytes by peer, labelled with the peer's hexadecimal
// ID as etcd labels them.
func peerCounter(v *prometheus.CounterVec) func(uint64, int) {
	var byPeer sync.Map // uint64 -> prometheus.Counter
	return func(id uint64, n int) {
		c, ok := byPeer.Load(id)
		if !ok {
			c, _ = byPeer.LoadOrStore(id, v.WithLabelValues(strconv.FormatUint(id, 16)))
		}
		c.(prometheus.Counter).Add(float64(n))
	}
}
