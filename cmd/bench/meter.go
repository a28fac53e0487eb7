package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// counters are the cumulative figures of member processes that the speed
// loads (speed.go) take the difference of over a load phase, to divide it
// by the requests done: what each request cost the whole cluster.
type counters struct {
	CPU time.Duration // utime+stime, /proc/PID/stat
	// WriteBytes is write_bytes of /proc/PID/io: the bytes the process
	// dirtied in the page cache of a disk-backed file system, counted once
	// per page until it is written back, so a page rewritten before
	// writeback counts once. WChar is every byte passed to write(2) and
	// the like, whether or not it reaches a disk.
	WriteBytes, WChar uint64
	// Alloc is go_memstats_alloc_bytes_total of the member's /metrics:
	// the bytes the Go runtime has allocated on the heap, freed or not.
	Alloc float64
}

// sub returns c - before.
func (c counters) sub(before counters) counters {
	return counters{
		CPU:        c.CPU - before.CPU,
		WriteBytes: c.WriteBytes - before.WriteBytes,
		WChar:      c.WChar - before.WChar,
		Alloc:      c.Alloc - before.Alloc,
	}
}

// readCounters reads the counters of every member in ms and sums them.
func readCounters(ctx context.Context, ms []*Member) (counters, error) {
	var sum counters
	for _, m := range ms {
		cpu, err := m.CPU()
		if err != nil {
			return counters{}, err
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", m.PID()))
		if err != nil {
			return counters{}, err
		}
		wb, wc, err := parseProcIO(string(b))
		if err != nil {
			return counters{}, fmt.Errorf("/proc/%d/io: %w", m.PID(), err)
		}
		alloc, err := scrapeMetric(ctx, m.Spec.MetricsURL+"/metrics", "go_memstats_alloc_bytes_total")
		if err != nil {
			return counters{}, fmt.Errorf("%s: %w", m.Spec.Name, err)
		}
		sum.CPU += cpu
		sum.WriteBytes += wb
		sum.WChar += wc
		sum.Alloc += alloc
	}
	return sum, nil
}

// parseProcIO returns write_bytes and wchar of a /proc/PID/io file, whose
// lines are "name: value". For a process they count every thread, the
// ones that have exited too.
func parseProcIO(s string) (writeBytes, wchar uint64, err error) {
	found := 0
	for _, line := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		var field *uint64
		switch name {
		case "write_bytes":
			field = &writeBytes
		case "wchar":
			field = &wchar
		}
		if !ok || field == nil {
			continue
		}
		if *field, err = strconv.ParseUint(strings.TrimSpace(value), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("no write_bytes or wchar")
	}
	return writeBytes, wchar, nil
}

// scrapeMetric returns the value of the unlabelled metric name from the
// Prometheus text at url.
func scrapeMetric(ctx context.Context, url, name string) (float64, error) {
	return scrape(ctx, url, func(r io.Reader) (float64, error) { return metricValue(r, name) })
}

// scrapeMetricSum returns the sum of every sample of name on a metrics
// page, whatever their labels; 0 if it has none.
func scrapeMetricSum(ctx context.Context, url, name string) (float64, error) {
	return scrape(ctx, url, func(r io.Reader) (float64, error) { return metricSum(r, name) })
}

// scrape reads the metrics page at url with read.
func scrape(ctx context.Context, url string, read func(io.Reader) (float64, error)) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	v, err := read(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return v, nil
}

// metricSum sums the samples "name{labels} value" and "name value" in
// Prometheus text.
func metricSum(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sum := 0.0
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue
		}
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// metricValue finds the sample "name value [timestamp]" in Prometheus
// text.
func metricValue(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+" ")
		if f := strings.Fields(rest); ok && len(f) > 0 {
			return strconv.ParseFloat(f[0], 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no metric %s", name)
}
