package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

var csvHeader = []string{"workload", "system", "member", "pid", "phase", "seconds", "rss_bytes", "hwm_bytes", "anon_bytes", "heap_live_bytes", "leader"}

// writeCSV writes every memory sample of results to path, one row per
// sample, for plotting RSS over time per system:
//
//	workload,system,member,pid,phase,seconds,rss_bytes,hwm_bytes,anon_bytes,heap_live_bytes,leader
//
// seconds count from the start of that workload's run on that system.
// heap_live_bytes is the live Go heap after the process's last GC before
// the sample (heap.go), empty before its first. leader names the member
// that led at the start, on a cluster. readCSV reads the file back, for
// -plot-from.
func writeCSV(path string, results []*Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write(csvHeader)
	for _, r := range results {
		heap := r.Heap // in time order
		last := map[int]string{}
		for _, s := range r.Samples {
			for len(heap) > 0 && heap[0].At <= s.At {
				last[heap[0].PID] = strconv.FormatUint(heap[0].Live, 10)
				heap = heap[1:]
			}
			_ = w.Write([]string{
				r.Workload, r.System, s.Member, strconv.Itoa(s.PID), s.Phase,
				fmt.Sprintf("%.3f", s.At.Seconds()),
				strconv.FormatUint(s.RSS, 10), strconv.FormatUint(s.HWM, 10), strconv.FormatUint(s.Anon, 10),
				last[s.PID], r.Leader,
			})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readCSV reads what writeCSV wrote back into results, for plotting: the
// samples, the phases (where each first appears), the leader, and the heap
// after each GC as far as the samples show it (a change of
// heap_live_bytes). Figures are not in the file. It also returns the
// workloads in the order they appear.
func readCSV(path string) ([]*Result, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(rows) == 0 || len(rows[0]) < 10 || rows[0][0] != "workload" {
		return nil, nil, fmt.Errorf("%s: not a CSV of cmd/bench", path)
	}
	var results []*Result
	var workloads []string
	byKey := map[string]*Result{}
	lastHeap := map[string]string{}
	for i, row := range rows[1:] {
		if len(row) < 10 {
			return nil, nil, fmt.Errorf("%s: line %d: %d fields", path, i+2, len(row))
		}
		key := row[0] + "/" + row[1]
		r := byKey[key]
		if r == nil {
			r = &Result{Workload: row[0], System: row[1]}
			byKey[key] = r
			results = append(results, r)
			if !slices.Contains(workloads, row[0]) {
				workloads = append(workloads, row[0])
			}
		}
		pid, err1 := strconv.Atoi(row[3])
		secs, err2 := strconv.ParseFloat(row[5], 64)
		rss, err3 := strconv.ParseUint(row[6], 10, 64)
		hwm, err4 := strconv.ParseUint(row[7], 10, 64)
		anon, err5 := strconv.ParseUint(row[8], 10, 64)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return nil, nil, fmt.Errorf("%s: line %d: %w", path, i+2, err)
		}
		at := time.Duration(secs * float64(time.Second))
		s := Sample{At: at, Member: row[2], PID: pid, Phase: row[4], Memory: Memory{RSS: rss, HWM: hwm, Anon: anon}}
		r.Samples = append(r.Samples, s)
		if !slices.ContainsFunc(r.Phases, func(p PhaseMark) bool { return p.Name == s.Phase }) {
			r.Phases = append(r.Phases, PhaseMark{Name: s.Phase, At: at})
		}
		if h := row[9]; h != "" && h != lastHeap[key+"/"+row[3]] {
			lastHeap[key+"/"+row[3]] = h
			live, err := strconv.ParseUint(h, 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: line %d: %w", path, i+2, err)
			}
			r.Heap = append(r.Heap, HeapSample{At: at, Member: s.Member, PID: pid, Live: live})
		}
		if len(row) > 10 {
			r.Leader = row[10]
		}
	}
	return results, workloads, nil
}
