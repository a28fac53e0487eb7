package main

import (
	"context"
	"time"
)

// Helpers that turn an Env's samples into figures.

// PhaseWindow returns when the first phase called name began and when the
// phase after it began (or now, if it is the current one), since the Env
// started. ok is false if there was no such phase.
func (e *Env) PhaseWindow(name string) (from, to time.Duration, ok bool) {
	marks := e.rec.phases()
	for i, m := range marks {
		if m.Name != name {
			continue
		}
		to = e.rec.now()
		if i+1 < len(marks) {
			to = marks[i+1].At
		}
		return m.At, to, true
	}
	return 0, 0, false
}

// point is one value at one time, for growth.
type point struct {
	at time.Duration
	v  float64
}

// rssPoints returns the RSS samples of member between from and to.
func rssPoints(samples []Sample, member string, from, to time.Duration) []point {
	var out []point
	for _, s := range samples {
		if s.Member == member && s.At >= from && s.At < to {
			out = append(out, point{s.At, float64(s.RSS)})
		}
	}
	return out
}

// heapPoints returns the live heap after each GC of member between from
// and to.
func heapPoints(hs []HeapSample, member string, from, to time.Duration) []point {
	var out []point
	for _, h := range hs {
		if h.Member == member && h.At >= from && h.At < to {
			out = append(out, point{h.At, float64(h.Live)})
		}
	}
	return out
}

// growth compares the end of a series with its beginning: the mean of the
// points in the last fifth of [from, to) less the mean of those in the
// second tenth to the third (the first tenth is warm-up). It is 0 when
// either window has no point. Memory that follows the configuration shows
// no growth however long the series; a leak shows growth in proportion to
// the work done.
func growth(ps []point, from, to time.Duration) float64 {
	span := to - from
	early := mean(ps, from+span/10, from+3*span/10)
	late := mean(ps, to-span/5, to)
	if early < 0 || late < 0 {
		return 0
	}
	return late - early
}

// mean is the mean of the points in [from, to), or -1 if there are none.
func mean(ps []point, from, to time.Duration) float64 {
	var sum float64
	n := 0
	for _, p := range ps {
		if p.at >= from && p.at < to {
			sum += p.v
			n++
		}
	}
	if n == 0 {
		return -1
	}
	return sum / float64(n)
}

// maxOf returns the largest value of ps, or 0.
func maxOf(ps []point) float64 {
	var m float64
	for _, p := range ps {
		m = max(m, p.v)
	}
	return m
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
