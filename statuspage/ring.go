package statuspage

// sample is one point of the plots.
type sample struct {
	time, rss, heap float64
	perSecond, p99  *float64
}

// ring keeps the last len(buf) samples; it never grows.
type ring struct {
	buf  []sample
	next int // where the next sample goes
	n    int // samples held
}

func newRing(size int) *ring { return &ring{buf: make([]sample, size)} }

func (r *ring) add(s sample) {
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// columns returns the samples, oldest first.
func (r *ring) columns() Samples {
	out := Samples{
		Time: make([]float64, 0, r.n), RSS: make([]float64, 0, r.n), Heap: make([]float64, 0, r.n),
		PerSecond: make([]*float64, 0, r.n), P99: make([]*float64, 0, r.n),
	}
	for i := range r.n {
		s := r.buf[(r.next-r.n+i+len(r.buf))%len(r.buf)]
		out.Time = append(out.Time, s.time)
		out.RSS = append(out.RSS, s.rss)
		out.Heap = append(out.Heap, s.heap)
		out.PerSecond = append(out.PerSecond, s.perSecond)
		out.P99 = append(out.P99, s.p99)
	}
	return out
}
