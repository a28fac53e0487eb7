package cairn

import (
	"context"
	"net/http"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairnkv/cairn/metrics"
)

// newMetrics returns the member's metrics, read from what the member keeps.
func (n *Node) newMetrics() *metrics.Member {
	return metrics.New(metrics.Sources{
		MemberID: n.ID(),
		Status:   n.board.Load,
		Proposals: func() (int64, uint64) {
			if n.front == nil { // not started yet
				return 0, 0
			}
			return n.front.ProposalStats()
		},
		DBSize:          n.engine.DiskUsage,
		Revision:        n.store.Rev,
		CompactRevision: n.store.CompactRev,
		Keys:            n.keys.Keys,
		RaftLogBytes:    n.log.Bytes,
		PendingReads:    n.pendingReads.Load,
		LeasesHeld:      n.leasesHeld.Load,
		Watch:           &n.watchStats,
		TxnRangeBytes:   n.store.TxnRangeBytes,
		StorageWrites:   n.storageWrites,
	})
}

// storageWrites reads what both of the engine's databases have written from
// pebble's metrics. The state machine's has no write-ahead log (pebble
// counts the bytes of its batches as WAL bytes all the same).
func (n *Node) storageWrites() []metrics.StorageWrites {
	state := dbWrites("state", n.engine.DB.Metrics())
	state.WAL = 0
	return []metrics.StorageWrites{state, dbWrites("log", n.engine.Log.Metrics())}
}

// dbWrites sums the levels' metrics: not Metrics.Total, whose flushed bytes
// include the WAL's. pebble (v2.1) counts the blob files a flush writes as
// compacted too.
func dbWrites(name string, m *pebble.Metrics) metrics.StorageWrites {
	w := metrics.StorageWrites{DB: name, WAL: m.WAL.BytesWritten}
	for i := range m.Levels {
		l := &m.Levels[i]
		w.Flushed += l.TableBytesFlushed + l.BlobBytesFlushed
		w.Compacted += l.TableBytesCompacted + l.BlobBytesCompacted - min(l.BlobBytesFlushed, l.BlobBytesCompacted)
		w.Ingested += l.TableBytesIngested
	}
	return w
}

// Metrics returns the member's metrics; register more on its Registry to
// serve them on the same /metrics.
func (n *Node) Metrics() *metrics.Member { return n.metrics }

// MonitorHandler serves the member's /metrics, /health, /livez and /readyz,
// as etcd serves them on --listen-metrics-urls (see metrics.Handler), and
// its status page: /status, /status.json, and / linking them (see package
// statuspage).
func (n *Node) MonitorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", n.metrics.Handler(health{n}, n.cfg.Logger.With("member", n.cfg.Name)))
	n.status.Register(mux)
	return mux
}

// health answers the health endpoints' questions.
type health struct{ n *Node }

func (h health) Leader() uint64 { return h.n.board.Load().Lead }

func (h health) CheckRead(ctx context.Context, serializable bool) error {
	return h.n.front.CheckRead(ctx, serializable)
}

func (h health) IsLearner() bool {
	ms, err := h.n.recordedMembers()
	if err != nil {
		return false
	}
	for _, m := range ms {
		if m.GetId() == h.n.ID() {
			return m.GetIsLearner()
		}
	}
	return false
}
