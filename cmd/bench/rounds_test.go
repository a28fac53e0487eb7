package main

import (
	"slices"
	"testing"
)

func TestRoundOrder(t *testing.T) {
	systems := []string{"cairn", "etcd"}
	want := [][]string{{"cairn", "etcd"}, {"etcd", "cairn"}, {"cairn", "etcd"}, {"etcd", "cairn"}}
	for r, w := range want {
		if got := roundOrder(r, systems); !slices.Equal(got, w) {
			t.Errorf("round %d: %v, want %v", r, got, w)
		}
	}
	if !slices.Equal(systems, []string{"cairn", "etcd"}) {
		t.Errorf("roundOrder changed its argument: %v", systems)
	}
	if got := roundOrder(1, []string{"etcd"}); !slices.Equal(got, []string{"etcd"}) {
		t.Errorf("one system, round 1: %v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 5}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{9, 1, 1}, 1}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestMedianResults(t *testing.T) {
	res := func(system string, rate float64, moved bool) *Result {
		r := &Result{Workload: "w", System: system}
		r.Add(FigReqRate, Rate, rate)
		if moved {
			r.Add(FigLeaderMoved, Count, 1)
		}
		return r
	}
	// The rounds alternate the systems' order; the medians keep the first.
	rounds := [][]*Result{
		{res("cairn", 10, false), res("etcd", 100, true)},
		{res("etcd", 300, false), res("cairn", 30, true)},
		{res("cairn", 20, false), res("etcd", 200, true)},
	}
	got := medianResults(rounds)
	if len(got) != 2 || got[0].System != "cairn" || got[1].System != "etcd" {
		t.Fatalf("medianResults = %+v, want cairn then etcd", got)
	}
	for _, c := range []struct {
		r     *Result
		rate  float64
		moved float64
	}{{got[0], 20, 1}, {got[1], 200, 2}} {
		if f, _ := c.r.Figure(FigReqRate); f.Value != c.rate || f.Kind != Rate {
			t.Errorf("%s: %s = %+v, want %v", c.r.System, FigReqRate, f, c.rate)
		}
		if f, _ := c.r.Figure(FigLeaderMoved); f.Value != c.moved {
			t.Errorf("%s: %s = %v, want %v rounds", c.r.System, FigLeaderMoved, f.Value, c.moved)
		}
	}
	if got[0].Figures[0].Name != FigReqRate {
		t.Errorf("figure order %+v, want the first result's", got[0].Figures)
	}
}
