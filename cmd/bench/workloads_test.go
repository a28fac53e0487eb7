package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWorkloads runs a tiny version of each cluster workload (a few seconds
// each) against a freshly built cmd/node and, when tools/bin/etcd exists,
// the real etcd, so that the tool keeps working as Cairn changes. It checks
// that the figures were measured, not what they are.
func TestWorkloads(t *testing.T) {
	ctx := t.Context()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ws := []Workload{
		&put1MB{count: 12, valueSize: 64 << 10, workers: 2, settle: 100 * time.Millisecond},
		&rewrite2MB{duration: time.Second, valueSize: 256 << 10, workers: 2, compactEvery: 500 * time.Millisecond, settle: 100 * time.Millisecond},
		&idleReads{duration: time.Second, warmup: 200 * time.Millisecond, workers: 3},
		// A log retention below what is written while the follower is
		// away: Cairn's leader may send it a snapshot (if the log compactor
		// ran in time; the test does not depend on it).
		&memberAway{bytes: 2 << 20, valueSize: 64 << 10, workers: 2, settle: 100 * time.Millisecond},
		&smallKV{name: "small-puts", duration: 300 * time.Millisecond, workers: 4, keys: 100, valueSize: 32},
		&smallKV{name: "lin-reads", reads: true, duration: 300 * time.Millisecond, workers: 4, keys: 100, valueSize: 32},
	}
	shape := LoadShape{Workers: 4, Conns: 2, Batch: 10}
	var systems []System
	bin, err := buildCairn(ctx, root, tmp, raceBuildFlags...)
	if err != nil {
		t.Fatal(err)
	}
	systems = append(systems, raceReportOnly{cairnSystem{bin: bin, args: []string{"--raft-log-retention-bytes=262144"}}})
	if etcd := filepath.Join(root, "tools", "bin", "etcd"); fileExists(etcd) {
		systems = append(systems, etcdSystem{bin: etcd})
	} else if os.Getenv("CAIRN_REQUIRE_TOOLS") == "1" {
		t.Fatalf("CAIRN_REQUIRE_TOOLS=1 but %s is missing (run make tools)", etcd)
	} else {
		t.Logf("no %s: Cairn only (make tools builds etcd)", etcd)
	}

	results, err := runAll(ctx, ws, systems, shape, tmp, true, profiler{}, testLog{t})
	for _, w := range ws {
		reportRaces(t, filepath.Join(tmp, w.Name()+"-cairn"))
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(ws)*len(systems) {
		t.Fatalf("%d results, want %d", len(results), len(ws)*len(systems))
	}
	for _, r := range results {
		for _, name := range []string{FigThroughput, FigP50, FigPeakRSS, FigFinalRSS, FigOthersPeak} {
			if f, ok := r.Figure(name); !ok || f.Value <= 0 {
				t.Errorf("%s on %s: figure %q = %v (present %v), want > 0", r.Workload, r.System, name, f.Value, ok)
			}
		}
		if r.Leader == "" {
			t.Errorf("%s on %s: no leader recorded", r.Workload, r.System)
		}
		if len(r.Heap) == 0 {
			t.Errorf("%s on %s: no GC trace read from the member logs", r.Workload, r.System)
		}
		members := map[string]bool{}
		for _, s := range r.Samples {
			members[s.Member] = true
		}
		if len(members) != 3 {
			t.Errorf("%s on %s: samples of %d members, want 3", r.Workload, r.System, len(members))
		}
	}
	if f, ok := find(results, "cairn").Figure(FigHeapPeak); !ok || f.Value <= 0 {
		t.Errorf("put-1mb on cairn: heap peak %v", f.Value)
	}
	for _, r := range results {
		if r.Workload == "member-away" {
			if f, _ := r.Figure(figCatchUp); f.Value <= 0 {
				t.Errorf("member-away on %s: catch-up %v, want > 0", r.System, f.Value)
			}
		}
	}

	var table bytes.Buffer
	printTable(&table, ws, shape, results)
	t.Logf("\n%s", table.String())
	for _, w := range ws {
		if !strings.Contains(table.String(), w.Describe(shape)) {
			t.Errorf("table has no section for %s", w.Name())
		}
	}
	paths, err := writePlots(filepath.Join(tmp, "plots"), ws, results)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(ws) {
		t.Fatalf("%d plots, want %d", len(paths), len(ws))
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if b := img.Bounds(); b.Dx() != plotWidth || b.Dy() != titleHeight+len(systems)*panelHeight {
			t.Errorf("%s is %v", p, b)
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestParseGCTrace(t *testing.T) {
	log := `=== 2026-01-01T00:00:00Z cairn-node --name m1
gc 1 @0.011s 2%: 0.040+4.1+0.009 ms clock, 0.080+0.30/0.49/0+0.019 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
{"level":"info","msg":"a log line between"}
gc 2 @12.500s 1%: 0.05+1.2+0.01 ms clock, 0.1+0.5/0.4/0+0.02 ms cpu, 130->140->65 MB, 131 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
`
	got, err := parseGCTrace(strings.NewReader(log), 2*time.Second, "m1", 42)
	if err != nil {
		t.Fatal(err)
	}
	want := []HeapSample{
		{At: 2*time.Second + 11*time.Millisecond, Member: "m1", PID: 42, Live: 1 << 20, Goal: 4 << 20},
		{At: 14*time.Second + 500*time.Millisecond, Member: "m1", PID: 42, Live: 65 << 20, Goal: 131 << 20},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestGrowth(t *testing.T) {
	var flat, rising []point
	for i := range 100 {
		at := time.Duration(i) * time.Second
		flat = append(flat, point{at, 50})
		rising = append(rising, point{at, float64(i)})
	}
	if g := growth(flat, 0, 100*time.Second); g != 0 {
		t.Errorf("growth of a flat series = %v, want 0", g)
	}
	// Early window [10s, 30s): mean 19.5; late [80s, 100s): mean 89.5.
	if g := growth(rising, 0, 100*time.Second); g != 70 {
		t.Errorf("growth of a rising series = %v, want 70", g)
	}
	if g := growth(nil, 0, time.Second); g != 0 {
		t.Errorf("growth of nothing = %v, want 0", g)
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.3, 0.5}, {1, 1}, {1.2, 2}, {37, 50}, {120, 200}, {0, 1}} {
		if got := niceStep(c.in); got != c.want {
			t.Errorf("niceStep(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
