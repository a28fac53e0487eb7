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

// workloads lists every workload in the order they run and print. Issue 5
// lists the ones still to write: 1 MB puts, a 2 MB key rewritten
// continuously, idle with linearizable reads, a member stopped while
// writing.
var workloads = []Workload{
	&restart1M{},
}

// Kind says what unit a figure is in and so how it is printed.
type Kind int

const (
	Rate     Kind = iota // per second
	Duration             // seconds; printed in ms below 1 s
	Bytes                // printed in MiB
	Count                // a plain number
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

// Result is what one workload measured on one system.
type Result struct {
	Workload string
	System   string
	Figures  []Figure
	// Samples are the RSS samples of every member over the whole run.
	Samples []Sample
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
