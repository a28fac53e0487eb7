package statuspage

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cairnkv/cairn/metrics"
)

// counters are the cumulative counters of one sample, for the rates of the
// next (invariant 3).
type counters struct {
	time   time.Time
	actors map[string]handled // by role
	unary  histogram
}

// handled is an actor role's messages and the seconds spent on them.
type handled struct{ count, seconds float64 }

// histogram is a histogram's buckets summed over its series: cumulative
// counts at each upper bound.
type histogram struct {
	bounds, counts []float64
	count          float64
}

// build takes a sample: it gathers the registry, asks the sources, adds the
// sample to the ring and returns the report.
func (p *Page) build(ctx context.Context, now time.Time) (*Report, error) {
	mfs, err := p.src.Gatherer.Gather()
	if err != nil {
		return nil, err
	}
	f := families{}
	for _, mf := range mfs {
		f[mf.GetName()] = mf
	}
	cur := counters{time: now, actors: map[string]handled{}, unary: f.histogram(metrics.UnaryHistogram)}
	rep := &Report{Time: unix(now), Member: p.src.Member}

	if p.src.Memory != nil {
		rep.Memory = p.src.Memory()
	}
	rep.Memory.RSS = f.sum("process_resident_memory_bytes")
	rep.Memory.Heap = f.sum("go_memstats_heap_inuse_bytes")

	dt := now.Sub(p.prev.time).Seconds()
	havePrev := !p.prev.time.IsZero() && dt > 0
	rep.Actors = p.actors(f, cur.actors, havePrev, dt)

	if p.src.Raft != nil {
		rep.Raft = p.src.Raft()
	}
	rep.Raft.LogBytes = f.sum("cairn_raft_log_bytes")
	rep.Raft.SnapshotsSending = f.byLabel("cairn_actor_running", "actor")["transport/sender"]
	if p.src.Followers != nil {
		fs, leads, err := p.src.Followers(ctx)
		if err != nil {
			p.src.Logger.Debug("status page: no progress from the raft actor", "error", err)
		} else if leads {
			rep.Raft.Followers = fs
		}
	}

	rq := &rep.Requests
	rq.ProposalsPending = f.sum("etcd_server_proposals_pending")
	rq.ProposalsFailed = f.sum("etcd_server_proposals_failed_total")
	rq.ReadsPending = f.sum("cairn_readindex_pending_reads")
	rq.WatchStreams = f.sum("etcd_debugging_mvcc_watch_stream_total")
	rq.Watchers = f.sum("etcd_debugging_mvcc_watcher_total")
	rq.StreamsCatchingUp = f.sum("cairn_watch_streams_catching_up")
	rq.WatchersLagged = f.sum("cairn_watch_lagged_total")
	rq.WatchQueuedBytes = f.sum("cairn_watch_queued_bytes")
	rq.LeasesHeld = f.sum("cairn_lessor_items_held")
	rq.Unary = cur.unary.count
	if havePrev {
		d := cur.unary.minus(p.prev.unary)
		rq.PerSecond = num(d.count / dt)
		if d.count > 0 {
			rq.P99 = num(d.quantile(0.99))
		}
	}

	p.prev = cur
	p.ring.add(sample{time: rep.Time, rss: rep.Memory.RSS, heap: rep.Memory.Heap, perSecond: rq.PerSecond, p99: rq.P99})
	rep.Samples = p.ring.columns()
	return rep, nil
}

// actors returns a row per actor role, recording each role's cumulative
// counters in into.
func (p *Page) actors(f families, into map[string]handled, havePrev bool, dt float64) []Actor {
	running := f.byLabel("cairn_actor_running", "actor")
	depth := f.byLabel("cairn_actor_mailbox_depth", "actor")
	restarts := f.byLabel("cairn_actor_restarts_total", "actor")
	for _, m := range f["cairn_actor_message_duration_seconds"].GetMetric() {
		role := label(m, "actor")
		h := into[role]
		h.count += float64(m.GetHistogram().GetSampleCount())
		h.seconds += m.GetHistogram().GetSampleSum()
		into[role] = h
	}
	roles := map[string]bool{}
	for _, m := range []map[string]float64{running, depth, restarts} {
		for r := range m {
			roles[r] = true
		}
	}
	for r := range into {
		roles[r] = true
	}
	out := make([]Actor, 0, len(roles))
	for role := range roles {
		a := Actor{Role: role, Running: running[role], Depth: depth[role], Handled: into[role].count, Restarts: restarts[role]}
		if prev, ok := p.prev.actors[role]; ok && havePrev {
			n, s := into[role].count-prev.count, into[role].seconds-prev.seconds
			a.Rate, a.Busy = num(n/dt), num(s/dt)
			if n > 0 {
				a.Mean = num(s / n)
			}
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Actor) int { return strings.Compare(a.Role, b.Role) })
	return out
}

// families are a registry's gathered families by name.
type families map[string]*dto.MetricFamily

// sum returns the sum of a gauge's or counter's series (0 if absent).
func (f families) sum(name string) float64 {
	var n float64
	for _, m := range f[name].GetMetric() {
		n += value(m)
	}
	return n
}

// byLabel returns a gauge's or counter's series by the value of one label.
func (f families) byLabel(name, l string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f[name].GetMetric() {
		out[label(m, l)] += value(m)
	}
	return out
}

// histogram sums a histogram's series (all with the same buckets).
func (f families) histogram(name string) histogram {
	var h histogram
	for _, m := range f[name].GetMetric() {
		mh := m.GetHistogram()
		if h.bounds == nil {
			for _, b := range mh.GetBucket() {
				h.bounds = append(h.bounds, b.GetUpperBound())
			}
			h.counts = make([]float64, len(h.bounds))
		}
		for i, b := range mh.GetBucket() {
			if i < len(h.counts) {
				h.counts[i] += float64(b.GetCumulativeCount())
			}
		}
		h.count += float64(mh.GetSampleCount())
	}
	return h
}

// minus returns what h counted since prev.
func (h histogram) minus(prev histogram) histogram {
	d := histogram{bounds: h.bounds, counts: slices.Clone(h.counts), count: h.count - prev.count}
	if len(prev.counts) == len(h.counts) {
		for i := range d.counts {
			d.counts[i] -= prev.counts[i]
		}
	}
	return d
}

// quantile estimates the q-quantile as Prometheus's histogram_quantile
// does: linearly within the bucket it falls in; the highest bound if it is
// beyond the last.
func (h histogram) quantile(q float64) float64 {
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			if c == below {
				return h.bounds[i]
			}
			return lower + (h.bounds[i]-lower)*(rank-below)/(c-below)
		}
		lower, below = h.bounds[i], c
	}
	if len(h.bounds) == 0 {
		return math.NaN()
	}
	return h.bounds[len(h.bounds)-1]
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// num returns a pointer to f, nil if f is not a number.
func num(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func unix(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
