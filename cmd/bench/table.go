package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printTable prints, for each workload, its description, a row per system
// and a cairn/etcd row with the ratio of each figure (below 1: Cairn is
// lower, which for everything but ops/s means better).
func printTable(out io.Writer, ws []Workload, shape LoadShape, results []*Result) {
	for _, w := range ws {
		var rows []*Result
		for _, r := range results {
			if r.Workload == w.Name() {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s\n\n", w.Describe(shape))
		names := columns(rows)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "workload\tsystem\t%s\t\n", strings.Join(names, "\t"))
		for _, r := range rows {
			cells := make([]string, len(names))
			for i, n := range names {
				cells[i] = "-"
				if f, ok := r.Figure(n); ok {
					cells[i] = format(f)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", r.Workload, r.System, strings.Join(cells, "\t"))
		}
		if c, e := find(rows, "cairn"), find(rows, "etcd"); c != nil && e != nil {
			cells := make([]string, len(names))
			for i, n := range names {
				cells[i] = ratio(c, e, n)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", w.Name(), "cairn/etcd", strings.Join(cells, "\t"))
		}
		tw.Flush()
	}
}

// columns lists the figure names of rows in order of first appearance.
func columns(rows []*Result) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range rows {
		for _, f := range r.Figures {
			if !seen[f.Name] {
				seen[f.Name] = true
				names = append(names, f.Name)
			}
		}
	}
	return names
}

func find(rows []*Result, system string) *Result {
	for _, r := range rows {
		if r.System == system {
			return r
		}
	}
	return nil
}

func ratio(c, e *Result, name string) string {
	cf, ok1 := c.Figure(name)
	ef, ok2 := e.Figure(name)
	if !ok1 || !ok2 || ef.Value == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", cf.Value/ef.Value)
}

// format prints a figure in its kind's unit.
func format(f Figure) string {
	switch f.Kind {
	case Rate:
		return fmt.Sprintf("%.0f", f.Value)
	case Duration:
		if f.Value < 1e-3 {
			return fmt.Sprintf("%.0fµs", f.Value*1e6)
		}
		if f.Value < 1 {
			return fmt.Sprintf("%.1fms", f.Value*1000)
		}
		return fmt.Sprintf("%.2fs", f.Value)
	case Bytes:
		if f.Value < 0 {
			return "-" + mib(uint64(-f.Value))
		}
		return mib(uint64(f.Value))
	case Size:
		switch {
		case f.Value < 1<<10:
			return fmt.Sprintf("%.0fB", f.Value)
		case f.Value < 1<<20:
			return fmt.Sprintf("%.1fKiB", f.Value/(1<<10))
		}
		return fmt.Sprintf("%.1fMiB", f.Value/(1<<20))
	default:
		return fmt.Sprintf("%.0f", f.Value)
	}
}

// mib prints bytes in MiB.
func mib(b uint64) string {
	v := float64(b) / (1 << 20)
	if v < 100 {
		return fmt.Sprintf("%.1fMiB", v)
	}
	return fmt.Sprintf("%.0fMiB", v)
}
