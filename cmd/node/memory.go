package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/cairnkv/cairn"
)

// memoryOptions are the flags of the memory budget that are not fields of
// cairn.Config (see addMemoryFlags).
type memoryOptions struct {
	// limit is --memory-limit: 0 derives it from the budget, negative
	// leaves the Go runtime's limit alone.
	limit int64
	// printBudget is --print-memory-budget.
	printBudget bool
}

// addMemoryFlags registers the memory budget's flags that flags.go does
// not (the pebble and raft sizes are there), and returns a check to run
// after parsing.
func addMemoryFlags(fs *flag.FlagSet, o *memoryOptions, c *cairn.Config) (check func() error) {
	fs.Int64Var(&c.MaxResponseBytes, "max-response-bytes", 64<<20,
		"Maximum bytes of key-values in one unary Range response (or in all the ranges of a Txn, which then writes nothing); a range over more fails with ResourceExhausted and a hint to use a limit or get --stream (RangeStream). The member builds at most about this much per range. Negative: no bound.")
	fs.Int64Var(&c.RaftEntryCacheBytes, "raft-entry-cache-bytes", 4<<20,
		"Size in bytes of the cache of recent raft log entries (raft reads older ones from pebble). Negative: no cache.")
	fs.Uint64Var(&c.ApplyCatchUpBytes, "apply-catch-up-bytes", 16<<20,
		"Maximum bytes of committed entries read from the raft log at once when apply catches up after a restart.")
	fs.IntVar(&c.SnapshotChunkBytes, "snapshot-chunk-bytes", 1<<20,
		"Size in bytes of one chunk of a snapshot sent to a member that is behind; up to 4 are unacknowledged per transfer.")
	fs.Int64Var(&c.Watch.HubBytes, "watch-hub-bytes", 64<<20,
		"Maximum bytes of events handed from apply to the watch hub and not yet dispatched to streams; beyond it watchers catch up from history.")
	fs.IntVar(&c.Watch.MaxStreams, "watch-max-streams", 0,
		"Maximum watch streams open at once (each holds up to --watch-queue-bytes); more are refused with 'too many requests'. 0: no bound.")
	fs.Int64Var(&o.limit, "memory-limit", 0,
		"Memory limit in bytes for the whole process; the Go runtime's share (the limit less pebble's cache and memtables, which live off the Go heap, "+
			"and the executable's pages) becomes its soft limit (GOMEMLIMIT): the GC works harder and returns memory sooner near it. "+
			"0: the memory budget's total plus 48 MiB (see --print-memory-budget). Negative, or GOMEMLIMIT set: leave the Go runtime's limit alone.")
	fs.BoolVar(&o.printBudget, "print-memory-budget", false,
		"Print the memory budget of the other flags (what each knob bounds, and the total) and exit.")
	return func() error {
		switch {
		case c.MaxResponseBytes == 0:
			return fmt.Errorf("max-response-bytes must not be 0 (negative: no bound)")
		case c.SnapshotChunkBytes <= 0:
			return fmt.Errorf("snapshot-chunk-bytes (%d) must be positive", c.SnapshotChunkBytes)
		case c.ApplyCatchUpBytes == 0:
			return fmt.Errorf("apply-catch-up-bytes must be positive")
		case c.Watch.HubBytes <= 0:
			return fmt.Errorf("watch-hub-bytes (%d) must be positive", c.Watch.HubBytes)
		}
		return nil
	}
}

// applyMemory prints the budget and reports done if --print-memory-budget
// was given; otherwise it sets the Go runtime's memory limit from
// --memory-limit and has malloc return freed memory (malloc.go).
func applyMemory(o *options, out io.Writer, logger *slog.Logger) (done bool) {
	budget := o.cfg.MemoryBudget()
	limit := o.memory.limit
	if limit == 0 {
		limit = budget.DefaultMemoryLimit()
	}
	if o.memory.printBudget {
		budget.Print(out)
		if limit > 0 {
			fmt.Fprintf(out, "memory limit %.1f MiB: Go runtime limit (GOMEMLIMIT) %.1f MiB\n",
				float64(limit)/(1<<20), float64(budget.GoMemoryLimit(limit))/(1<<20))
		}
		return true
	}
	tuned := tuneMalloc()
	goLimit := int64(-1)
	switch {
	case os.Getenv("GOMEMLIMIT") != "":
		logger.Info("GOMEMLIMIT is set: the Go runtime's limit is left as it is", "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
	case limit > 0:
		goLimit = budget.GoMemoryLimit(limit)
		debug.SetMemoryLimit(goLimit)
	}
	logger.Info("memory budget", "total", budget.Total(), "off-go-heap", budget.OffHeap(),
		"memory-limit", limit, "go-memory-limit", goLimit, "malloc-tuned", tuned)
	if limit > 0 && limit < budget.Total() {
		logger.Warn("memory-limit is below the memory budget's total: under load the Go runtime will collect often, and RSS may exceed it",
			"memory-limit", limit, "budget", budget.Total())
	}
	return false
}
