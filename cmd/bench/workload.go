package main

import (
	"context"
	"flag"
)

// A Workload drives one system through one scenario and reports figures.
// Run is called once per system, with a fresh Env (fresh data dirs and
// ports); it must stop every member it started before returning, or leave
// that to Env.Close on error.
type Workload interface {
	// Name is the workload's name in the table and in -workloads.
	Name() string
	// Describe is a one-line summary of the scenario with the parameters in
	// use, printed above its rows of the table.
	Describe(shape LoadShape) string
	// Flags registers the workload's own flags. It is called once, before
	// flags are parsed.
	Flags(fs *flag.FlagSet)
	// Run runs the scenario against env's system.
	Run(ctx context.Context, env *Env) (*Result, error)
}

// workloads lists every workload in the order they run and print: issue
// 5's five.
var workloads = []Workload{
	&put1MB{},
	&rewrite2MB{},
	&idleReads{},
	&memberAway{},
	&restart1M{},
}

// speedWorkloads compare speed; they run only when named. small-puts and
// lin-reads compare where etcd is at its best, small keys
// (-workloads small-puts,lin-reads); speedLoads (speed.go) are the three
// loads of make bench-speed (-workloads speed), which add what each request
// costs.
// The flood of issue 10's overload benchmark (overload.go) also runs only
// when named.
var speedWorkloads = append([]Workload{
	&smallKV{name: "small-puts"},
	&smallKV{name: "lin-reads", reads: true},
	&overloadFlood{},
}, speedLoads...)

// Kind says what unit a figure is in and so how it is printed.
type Kind int

const (
	Rate     Kind = iota // per second
	Duration             // seconds; printed in ms below 1 s, in µs below 1 ms
	Bytes                // printed in MiB
	Count                // a plain number
	Size                 // bytes, printed in B, KiB or MiB as fits (per-op costs)
)

// Figure is one measured value of one run.
type Figure struct {
	Name  string
	Kind  Kind
	Value float64 // per Kind: ops/s, seconds, bytes or a count
}

// The standard figures every workload reports, first in the table.
const (
	FigThroughput = "ops/s"
	FigP50        = "p50"
	FigP90        = "p90"
	FigP99        = "p99"
	FigPeakRSS    = "peak RSS"
	FigFinalRSS   = "RSS after"
)

// Figures several workloads report. On a cluster, peak RSS and RSS after
// are the leader's.
const (
	FigMiBps      = "MiB/s"       // value bytes written per second
	FigHeapPeak   = "heap peak"   // the highest live Go heap after a GC (heap.go)
	FigOthersPeak = "others peak" // peak RSS of the members that do not lead
	// FigCapped is 1 when a load ended early because a member's RSS passed
	// the cap (-rss-cap); its figures cover the load until then.
	FigCapped = "RSS capped"
	// FigLeaderMoved is 1 when another member led at the end of the run
	// than at its start (absent otherwise).
	FigLeaderMoved = "leader moved"
)

// Result is what one workload measured on one system.
type Result struct {
	Workload string
	System   string
	Figures  []Figure
	// Samples are the RSS samples of every member over the whole run.
	Samples []Sample
	// Heap is the live Go heap after each GC of every member (heap.go).
	Heap []HeapSample
	// Phases are when the workload's phases began.
	Phases []PhaseMark
	// Leader names the member that led, on a cluster ("" on one member).
	Leader string
}

// Add appends a figure.
func (r *Result) Add(name string, kind Kind, value float64) {
	r.Figures = append(r.Figures, Figure{Name: name, Kind: kind, Value: value})
}

// Figure returns the named figure.
func (r *Result) Figure(name string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f, true
		}
	}
	return Figure{}, false
}
