package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSpeedLoads runs two rounds of tiny speed loads against a freshly
// built cmd/node and, when tools/bin/etcd exists, the real etcd: the
// per-request costs must have been read from every member (/proc and
// /metrics) and the rounds folded into one table.
func TestSpeedLoads(t *testing.T) {
	ctx := t.Context()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ws := []Workload{
		&speedLoad{name: "speed-put-1mb", count: 8, workers: 4, conns: 2, valueSize: 64 << 10, maxRequestBytes: 2 << 20},
		&speedLoad{name: "speed-small-puts", duration: 300 * time.Millisecond, workers: 8, conns: 4, keys: 100, valueSize: 32},
		&speedLoad{name: "speed-lin-reads", reads: true, duration: 300 * time.Millisecond, workers: 8, conns: 4, keys: 100, valueSize: 32},
	}
	bin, err := buildCairn(ctx, root, tmp, raceBuildFlags...)
	if err != nil {
		t.Fatal(err)
	}
	systems := []System{raceReportOnly{cairnSystem{bin: bin}}}
	if etcd := filepath.Join(root, "tools", "bin", "etcd"); fileExists(etcd) {
		systems = append(systems, etcdSystem{bin: etcd})
	} else if os.Getenv("CAIRN_REQUIRE_TOOLS") == "1" {
		t.Fatalf("CAIRN_REQUIRE_TOOLS=1 but %s is missing (run make tools)", etcd)
	}

	// keep: the rounds' data dirs must not collide.
	rounds, err := runRounds(ctx, 2, ws, systems, LoadShape{}, tmp, true, profiler{}, testLog{t})
	for _, w := range ws {
		for r := range 2 {
			reportRaces(t, filepath.Join(tmp, fmt.Sprintf("round-%d", r+1), w.Name()+"-cairn"))
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	medians := medianResults(rounds)
	if len(medians) != len(ws)*len(systems) {
		t.Fatalf("%d median results, want %d", len(medians), len(ws)*len(systems))
	}
	for _, r := range medians {
		for _, name := range []string{FigReqRate, FigP50, FigP99, figAllocPerOp, figWCharPerOp, FigPeakRSS} {
			if f, ok := r.Figure(name); !ok || f.Value <= 0 {
				t.Errorf("%s on %s: figure %q = %v (present %v), want > 0", r.Workload, r.System, name, f.Value, ok)
			}
		}
		for _, name := range []string{figCPUPerOp, figDiskPerOp} { // may round to 0 on a load this small
			if _, ok := r.Figure(name); !ok {
				t.Errorf("%s on %s: no figure %q", r.Workload, r.System, name)
			}
		}
	}
	var out bytes.Buffer
	printTable(&out, ws, LoadShape{}, medians)
	printRounds(&out, rounds, medians)
	printSyncRates(&out, syncRates{Small: 1000, Large: 100}, medians)
	t.Logf("\n%s", out.String())
	for _, w := range ws {
		if !strings.Contains(out.String(), w.Describe(LoadShape{})) {
			t.Errorf("table has no section for %s", w.Name())
		}
	}
}

func TestPrintSyncRates(t *testing.T) {
	r := &Result{Workload: "speed-put-1mb", System: "cairn"}
	r.Add(FigReqRate, Rate, 5)
	r.Add(figDiskPerOp, Size, 10<<20)
	var out bytes.Buffer
	printSyncRates(&out, syncRates{Small: 2000, Large: 100}, []*Result{r})
	// 100 MiB/s over 10 MiB a put allows 10 puts/s; 5/s is half.
	for _, want := range []string{"2000/s", "100 MiB/s", "cairn: 1 MB puts at 5.0/s, each writing 10.0MiB", "50% of the 10.0/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output has no %q:\n%s", want, out.String())
		}
	}
}

func TestSyncedWrites(t *testing.T) {
	rate, err := syncedWrites(t.TempDir(), 4<<10, 20*time.Millisecond)
	if err != nil || rate <= 0 {
		t.Errorf("syncedWrites = %v, %v; want a rate", rate, err)
	}
}
