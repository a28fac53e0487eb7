package frontdoor

import (
	"math"
	"time"
)

// The adaptive limit on requests in flight.
//
// Fixed limits bound memory, but not the wait: a member that admits as
// many requests as its limits allow, while it can serve only a few hundred
// a second, answers each after seconds. Measured with cmd/bench's
// overload-flood (2,000 clients putting 64 KiB values to 3 members on 2
// cores): p50 3.0 s and p99 10 s for the puts that succeeded, 44% of the
// puts per second a modest load got. Admitting fewer makes the others
// wait less: with an eighth of the default bytes in flight, p99 3.3 s and
// 62%.
//
// What "fewer" is depends on the machine and the requests, so the member
// finds it as TCP finds its window: each request that took at most half
// the target latency (InFlightLimits.Latency) raises the limit by one (it
// doubles in a limit's worth of such requests), one that took at most the
// target by 1/limit (one in a limit's worth), and a request that took longer cuts it
// by a tenth, at most once per target latency (one slow burst is one
// cut). The limit stays between minAdaptive and InFlightLimits.Requests. A
// request beyond it is refused at once with "too many requests", as one
// beyond any other limit. A member that is not overloaded answers within
// the target and keeps its limit at the maximum: the limit only binds
// while requests queue.

// minAdaptive is the fewest requests a member admits at once however slow
// they are: enough to keep raft's pipeline busy.
const minAdaptive = 16

// adaptiveLimit is the adaptive limit; its owner serializes the calls.
type adaptiveLimit struct {
	target   time.Duration // 0: off
	max      float64
	limit    float64
	lastCut  time.Time
	disabled bool
}

func newAdaptiveLimit(target time.Duration, maxRequests int64) adaptiveLimit {
	if target <= 0 || maxRequests < 0 {
		return adaptiveLimit{disabled: true}
	}
	m := float64(max(maxRequests, minAdaptive))
	return adaptiveLimit{target: target, max: m, limit: m}
}

// admits reports whether one more request may join inFlight others.
func (a *adaptiveLimit) admits(inFlight int64) bool {
	return a.disabled || float64(inFlight) < math.Floor(a.limit)
}

// done adjusts the limit for a request that took took, answered at now.
func (a *adaptiveLimit) done(took time.Duration, now time.Time) {
	if a.disabled {
		return
	}
	switch {
	case took <= a.target/2:
		a.limit = min(a.max, a.limit+1)
		return
	case took <= a.target:
		a.limit = min(a.max, a.limit+1/a.limit)
		return
	}
	if now.Sub(a.lastCut) < a.target {
		return
	}
	a.lastCut = now
	a.limit = max(minAdaptive, a.limit*0.9)
}

// current is the limit now, -1 when there is none.
func (a *adaptiveLimit) current() int64 {
	if a.disabled {
		return -1
	}
	return int64(a.limit)
}
