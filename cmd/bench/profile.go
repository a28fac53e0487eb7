package main

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// nodeOverlay holds the files -cpuprofile adds to cmd/node's package with
// go build -overlay: an init that serves net/http/pprof and /debug/memory
// (Go runtime figures and resident memory by kind of mapping) on
// $CAIRN_BENCH_PPROF_ADDR. cmd/node itself has no profiling endpoint; this
// way the profiled member is still cmd/node, in a cluster or alone.
//
//go:embed nodeoverlay/*.txt
var nodeOverlay embed.FS

// profileAddrEnv names the environment variable the overlay reads.
const profileAddrEnv = "CAIRN_BENCH_PPROF_ADDR"

// writeProfileOverlay writes the overlay's files and its JSON map into dir
// and returns the map's path, for go build -overlay.
func writeProfileOverlay(root, dir string) (string, error) {
	replace := map[string]string{}
	for _, name := range []string{"pprof.go.txt"} {
		b, err := nodeOverlay.ReadFile("nodeoverlay/" + name)
		if err != nil {
			return "", err
		}
		src := filepath.Join(dir, "overlay-"+name)
		if err := os.WriteFile(src, b, 0o600); err != nil {
			return "", err
		}
		goName := "zz_bench_" + name[:len(name)-len(".txt")]
		replace[filepath.Join(root, "cmd", "node", goName)] = src
	}
	b, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	return path, os.WriteFile(path, b, 0o600)
}

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

// memory appends the /debug/memory report of the member at url (its
// /debug/pprof base) to path, headed by the member and phase. Members
// without the endpoint (etcd) are skipped quietly.
func (p profiler) memory(ctx context.Context, url, member, phase, path string, logf func(string, ...any)) {
	if url == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url[:len(url)-len("/pprof")]+"/memory", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		logf("memory report of %s: %v", member, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		logf("memory report: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "=== %s, end of phase %s, %s\n%s\n", member, phase, time.Now().Format(time.RFC3339), b)
}
