package frontdoor

import (
	"testing"
	"time"
)

// A member whose requests take longer than the target admits fewer at
// once, down to minAdaptive; fast requests give the room back.
func TestAdaptiveLimitFollowsLatency(t *testing.T) {
	const target = 100 * time.Millisecond
	a := newAdaptiveLimit(target, 1000)
	if !a.admits(999) || a.admits(1000) {
		t.Fatalf("a fresh limit admits up to Requests: limit %d", a.current())
	}
	now := time.Unix(0, 0)
	// A burst of slow answers at one moment is one cut.
	for range 50 {
		a.done(time.Second, now)
	}
	if got := a.current(); got != 900 {
		t.Fatalf("after a burst of slow requests the limit is %d, want 900", got)
	}
	// Slow answers for a while cut it to the floor, and no further.
	for i := range 200 {
		a.done(time.Second, now.Add(time.Duration(i+1)*target))
	}
	if got := a.current(); got != minAdaptive {
		t.Fatalf("after slow requests for 20 s the limit is %d, want %d", got, minAdaptive)
	}
	if a.admits(minAdaptive) || !a.admits(minAdaptive-1) {
		t.Fatal("the floor does not bound the requests admitted")
	}
	// Requests within the target raise it slowly, fast ones double it.
	a.done(target, now)
	if got := a.limit; got <= minAdaptive || got >= minAdaptive+1 {
		t.Fatalf("one request at the target moved the limit to %v", got)
	}
	for range 2 * minAdaptive {
		a.done(time.Millisecond, now)
	}
	if got := a.current(); got < 2*minAdaptive {
		t.Fatalf("after %d fast requests the limit is %d", 2*minAdaptive, got)
	}
	for range 5000 {
		a.done(time.Millisecond, now)
	}
	if got := a.current(); got != 1000 {
		t.Fatalf("fast requests raised the limit to %d, past or short of Requests (1000)", got)
	}
}

// A negative target, or no bound on requests, turns the adaptive limit off.
func TestAdaptiveLimitOff(t *testing.T) {
	for _, a := range []adaptiveLimit{newAdaptiveLimit(-1, 1000), newAdaptiveLimit(time.Second, -1)} {
		a.done(time.Hour, time.Now())
		if !a.admits(1<<40) || a.current() != -1 {
			t.Fatalf("an adaptive limit that is off refuses, or reports limit %d", a.current())
		}
	}
}
