package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
)

// writeCSV writes every memory sample of results to path, one row per
// sample, for plotting RSS over time per system:
//
//	workload,system,member,pid,phase,seconds,rss_bytes,hwm_bytes,anon_bytes
//
// seconds count from the start of that workload's run on that system.
func writeCSV(path string, results []*Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"workload", "system", "member", "pid", "phase", "seconds", "rss_bytes", "hwm_bytes", "anon_bytes"})
	for _, r := range results {
		for _, s := range r.Samples {
			_ = w.Write([]string{
				r.Workload, r.System, s.Member, strconv.Itoa(s.PID), s.Phase,
				fmt.Sprintf("%.3f", s.At.Seconds()),
				strconv.FormatUint(s.RSS, 10), strconv.FormatUint(s.HWM, 10), strconv.FormatUint(s.Anon, 10),
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
