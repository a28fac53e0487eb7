package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"time"
)

// syncRates are what the disk under the bench's data dirs does when each
// write must be durable before the next, as each raft Ready's fsync makes
// it for both systems: the ceiling their writes are measured against.
type syncRates struct {
	Small float64 // 4 KiB writes per second, each followed by fdatasync
	Large float64 // 1 MiB writes per second, each followed by fdatasync
}

// syncProbeTime is how long each of the two rates is measured.
const syncProbeTime = 2 * time.Second

// measureSyncRates measures both rates in a temporary file under dir.
func measureSyncRates(dir string) (syncRates, error) {
	small, err := syncedWrites(dir, 4<<10, syncProbeTime)
	if err != nil {
		return syncRates{}, err
	}
	large, err := syncedWrites(dir, 1<<20, syncProbeTime)
	return syncRates{Small: small, Large: large}, err
}

// syncedWrites appends blocks of size random bytes to a new file in dir,
// each followed by fdatasync, for about d, and returns the writes per
// second. Appending, as a log does: each fdatasync also commits the file's
// new size, which is part of what a log's sync costs.
func syncedWrites(dir string, size int, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "sync-probe-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, size)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// printSyncRates prints the rates and, for each system that ran the 1 MB
// puts of the speed loads, how close its puts came to what the synced
// bandwidth allows: bandwidth divided by the bytes the 3 members wrote to
// disk per put (they share the one disk). That bandwidth is one stream's;
// the members write and sync in parallel, so they can pass it.
func printSyncRates(out io.Writer, s syncRates, results []*Result) {
	bw := s.Large * (1 << 20)
	fmt.Fprintf(out, "\nDisk under the data dirs, measured once before the loads (appending to a file, fdatasync after each write, %s each):\n", syncProbeTime)
	fmt.Fprintf(out, "  synced 4 KiB writes: %.0f/s\n", s.Small)
	fmt.Fprintf(out, "  synced 1 MiB writes: %.0f MiB/s\n", s.Large)
	for _, r := range results {
		if r.Workload != "speed-put-1mb" {
			continue
		}
		rate, ok1 := r.Figure(FigReqRate)
		disk, ok2 := r.Figure(figDiskPerOp)
		if !ok1 || !ok2 || disk.Value <= 0 {
			continue
		}
		allows := bw / disk.Value
		fmt.Fprintf(out, "  %s: 1 MB puts at %.1f/s, each writing %s to disk (3 members): %.0f%% of the %.1f/s that bandwidth allows\n",
			r.System, rate.Value, format(disk), 100*rate.Value/allows, allows)
	}
	fmt.Fprintf(out, "  (one stream's bandwidth: the members write and sync in parallel, so they can pass 100%%)\n")
}
