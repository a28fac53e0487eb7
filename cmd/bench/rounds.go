package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// On a machine shared with other work, one run of a load says little:
// -rounds runs every workload on every system several times and the table
// shows each figure's median. The systems alternate which runs first, so
// that neither always gets the cooler machine, or the disk right after the
// other's writes.

// roundOrder returns the systems in the order round r (from 0) runs them:
// as given in even rounds, reversed in odd ones.
func roundOrder[T any](r int, systems []T) []T {
	out := slices.Clone(systems)
	if r%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// runRounds runs every workload on every system, rounds times, each round
// in its own subdirectory of tmp, and returns the results of each round
// completed or begun, and the first error.
func runRounds(ctx context.Context, rounds int, ws []Workload, systems []System, shape LoadShape, tmp string, keep bool, prof profiler, progress io.Writer) ([][]*Result, error) {
	var out [][]*Result
	for r := range rounds {
		order := roundOrder(r, systems)
		dir := tmp
		if rounds > 1 {
			var names []string
			for _, s := range order {
				names = append(names, s.Name())
			}
			fmt.Fprintf(progress, "bench: round %d of %d: %s\n", r+1, rounds, strings.Join(names, " then "))
			dir = filepath.Join(tmp, fmt.Sprintf("round-%d", r+1))
		}
		res, err := runAll(ctx, ws, order, shape, dir, keep, prof, progress)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// medianResults folds the rounds' results into one per workload and
// system, in the order of their first appearance, each figure the median
// of the rounds that have it. FigCapped and FigLeaderMoved, which a result
// has only when it happened, become the number of rounds it happened in.
func medianResults(rounds [][]*Result) []*Result {
	var out []*Result
	values := map[*Result]map[string][]float64{}
	for _, round := range rounds {
		for _, r := range round {
			i := slices.IndexFunc(out, func(m *Result) bool { return m.Workload == r.Workload && m.System == r.System })
			if i < 0 {
				out = append(out, &Result{Workload: r.Workload, System: r.System})
				i = len(out) - 1
				values[out[i]] = map[string][]float64{}
			}
			m := out[i]
			for _, f := range r.Figures {
				if _, ok := values[m][f.Name]; !ok {
					m.Figures = append(m.Figures, Figure{Name: f.Name, Kind: f.Kind})
				}
				values[m][f.Name] = append(values[m][f.Name], f.Value)
			}
		}
	}
	for _, m := range out {
		for i, f := range m.Figures {
			vs := values[m][f.Name]
			if f.Name == FigCapped || f.Name == FigLeaderMoved {
				m.Figures[i].Value = float64(len(vs))
			} else {
				m.Figures[i].Value = median(vs)
			}
		}
	}
	return out
}

// median returns the middle value of vs, or the mean of the two middle
// ones; 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// printRounds prints the throughput figure of every round, in round order,
// for each workload and system: how far the rounds, and so the machine,
// varied around the medians.
func printRounds(out io.Writer, rounds [][]*Result, medians []*Result) {
	fmt.Fprintf(out, "\nThroughput of each round, in round order:\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, m := range medians {
		cells := []string{m.Workload, m.System}
		for _, round := range rounds {
			for _, r := range round {
				if r.Workload != m.Workload || r.System != m.System {
					continue
				}
				if f, ok := throughput(r); ok {
					cells = append(cells, format(f))
				}
			}
		}
		fmt.Fprintf(tw, "  %s\t\n", strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// throughput is a result's first figure that is a rate: req/s or ops/s.
func throughput(r *Result) (Figure, bool) {
	i := slices.IndexFunc(r.Figures, func(f Figure) bool { return f.Kind == Rate })
	if i < 0 {
		return Figure{}, false
	}
	return r.Figures[i], true
}
