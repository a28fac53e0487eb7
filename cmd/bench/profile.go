package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profiler fetches CPU and heap profiles from a member's /debug/pprof/.
// The zero value (no dir) profiles nothing.
type profiler struct {
	dir     string        // where profiles are written
	seconds time.Duration // CPU profile window
}

// start begins a CPU profile of the member at url (its /debug/pprof base)
// for p.seconds, written to dir/name.cpu.pprof. The returned function waits
// for it, then writes a heap profile to dir/name.heap.pprof. Failures are
// logged, not returned: a profile is an aid, not a result.
func (p profiler) start(ctx context.Context, url, name string, logf func(string, ...any)) (wait func()) {
	done := make(chan struct{})
	cpuPath := filepath.Join(p.dir, name+".cpu.pprof")
	go func() {
		defer close(done)
		err := fetch(ctx, fmt.Sprintf("%s/profile?seconds=%d", url, int(p.seconds.Seconds())), cpuPath, p.seconds+time.Minute)
		if err != nil {
			logf("cpu profile: %v", err)
		}
	}()
	logf("profiling CPU for %s into %s", p.seconds, cpuPath)
	return func() {
		<-done
		p.heap(ctx, url, name, logf)
	}
}

// heap writes a heap profile of the member at url to dir/name.heap.pprof.
func (p profiler) heap(ctx context.Context, url, name string, logf func(string, ...any)) {
	path := filepath.Join(p.dir, name+".heap.pprof")
	if err := fetch(ctx, url+"/heap", path, time.Minute); err != nil {
		logf("heap profile: %v", err)
		return
	}
	logf("heap profile written: %s", path)
}

func fetch(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
