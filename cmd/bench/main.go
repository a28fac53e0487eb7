package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	workloads   []Workload
	systems     []string
	rounds      int
	cairnBin    string
	etcdBin     string
	shape       LoadShape
	csvPath     string
	dir         string
	keep        bool
	profileDir  string
	profileTime time.Duration
	plotDir     string
	plotFrom    string
	cairnArgs   []string
	etcdArgs    []string
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: bench [flags]\n\nRuns workloads against Cairn and etcd and prints throughput, latency and RSS. Workloads:\n\n")
		for _, w := range workloads {
			fmt.Fprintf(out, "  %s\n", w.Name())
		}
		fmt.Fprintf(out, "\nand, only when named:\n\n")
		for _, w := range speedWorkloads {
			fmt.Fprintf(out, "  %s\n", w.Name())
		}
		fmt.Fprintf(out, "\n-workloads speed names the speed-* ones (make bench-speed).\n")
		fmt.Fprintf(out, "\nFlags:\n\n")
		fs.PrintDefaults()
	}
	o := &options{}
	names := fs.String("workloads", "all", "Comma-separated workloads to run, all, or speed (the speed-* loads and the disk's synced-write rates).")
	systems := fs.String("systems", "cairn,etcd", "Comma-separated systems to run: cairn, etcd.")
	fs.StringVar(&o.cairnBin, "cairn-bin", "", "Cairn member binary. Default: go build ./cmd/node into the temporary directory.")
	fs.StringVar(&o.etcdBin, "etcd-bin", "", "etcd binary. Default: tools/bin/etcd of the module (make tools).")
	fs.IntVar(&o.rounds, "rounds", 1, "Run every workload on every system this many times, alternating which system runs first, and print each figure's median "+
		"and each round's throughput. Above 1, not with -csv or -plot-dir.")
	fs.IntVar(&o.shape.Workers, "workers", 64, "Concurrent requests in flight.")
	fs.IntVar(&o.shape.Conns, "conns", 4, "gRPC connections the workers share.")
	fs.IntVar(&o.shape.Batch, "batch", 100, "Puts per write request; above 1 each request is a txn.")
	fs.Uint64Var(&o.shape.RSSCap, "rss-cap", defaultRSSCap(), "End a load early once a server's RSS passes this many bytes, so that a system whose memory follows the workload "+
		"(3 members of it) cannot take the machine's; such runs are marked 'RSS capped'. Default: a sixth of the machine's memory. 0: no cap.")
	fs.StringVar(&o.csvPath, "csv", "", "Write every RSS sample (with the live heap of the last GC) to this CSV file.")
	fs.StringVar(&o.plotDir, "plot-dir", "", "Write a PNG plot of RSS over time per workload (rss-WORKLOAD.png) into this directory.")
	fs.StringVar(&o.plotFrom, "plot-from", "", "Run nothing: draw the plots of a CSV that -csv wrote into -plot-dir.")
	cairnArgs := fs.String("cairn-args", "", "Extra flags for every Cairn member, space-separated (e.g. \"--pebble-cache-bytes=8388608\").")
	etcdArgs := fs.String("etcd-args", "", "Extra flags for every etcd member, space-separated.")
	fs.StringVar(&o.dir, "dir", "", "Parent of the temporary directory for data dirs and member logs. Default: $TMPDIR.")
	fs.BoolVar(&o.keep, "keep", false, "Keep the temporary directory (data dirs, member logs).")
	fs.StringVar(&o.profileDir, "cpuprofile", "", "Write servers' CPU profiles (from the start of the load) and heap profiles into this directory. "+
		"cmd/node is then built with a file added (go build -overlay) that serves /debug/pprof and /debug/memory.")
	fs.DurationVar(&o.profileTime, "cpuprofile-time", 30*time.Second, "CPU profile window, from the start of the load.")
	for _, w := range slices.Concat(workloads, speedWorkloads) {
		w.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var err error
	o.cairnArgs, o.etcdArgs = strings.Fields(*cairnArgs), strings.Fields(*etcdArgs)
	if o.workloads, err = selectWorkloads(*names); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(*systems, ",") {
		if s != "cairn" && s != "etcd" {
			return nil, fmt.Errorf("systems: unknown system %q", s)
		}
		o.systems = append(o.systems, s)
	}
	if err := o.shape.Validate(); err != nil {
		return nil, err
	}
	if o.rounds < 1 {
		return nil, errors.New("rounds must be at least 1")
	}
	if o.rounds > 1 && (o.csvPath != "" || o.plotDir != "") {
		return nil, errors.New("-csv and -plot-dir keep the samples of one round: use -rounds 1")
	}
	return o, nil
}

func selectWorkloads(list string) ([]Workload, error) {
	switch list {
	case "all":
		return workloads, nil
	case "speed":
		return speedLoads, nil
	}
	var out []Workload
	known := slices.Concat(workloads, speedWorkloads)
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(known, func(w Workload) bool { return w.Name() == name })
		if i < 0 {
			return nil, fmt.Errorf("workloads: unknown workload %q", name)
		}
		out = append(out, known[i])
	}
	return out, nil
}

// run runs the benchmark and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if o.plotFrom != "" {
		return replot(o, stderr)
	}
	tmp, err := os.MkdirTemp(o.dir, "cairn-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if o.keep {
		fmt.Fprintln(stderr, "bench: keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	systems, err := resolveSystems(ctx, o, tmp)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	// With the speed loads, the disk's synced-write rates are measured
	// first, before any member runs and competes for the disk.
	speed := slices.ContainsFunc(o.workloads, isSpeedLoad)
	var rates syncRates
	if speed {
		if rates, err = measureSyncRates(tmp); err != nil {
			fmt.Fprintln(stderr, "bench: synced-write rates:", err)
			return 1
		}
	}
	prof := profiler{dir: o.profileDir, seconds: o.profileTime}
	rounds, runErr := runRounds(ctx, o.rounds, o.workloads, systems, o.shape, tmp, o.keep, prof, stderr)
	results := rounds[0]
	if o.rounds > 1 {
		results = medianResults(rounds)
		fmt.Fprintf(stdout, "Medians of %d rounds; the systems alternate which runs first.\n", len(rounds))
	}
	if speed {
		fmt.Fprint(stdout, speedLegend)
	}
	printTable(stdout, o.workloads, o.shape, results)
	if o.rounds > 1 {
		printRounds(stdout, rounds, results)
	}
	if speed {
		printSyncRates(stdout, rates, results)
	}
	if o.csvPath != "" {
		if err := writeCSV(o.csvPath, results); err != nil {
			fmt.Fprintln(stderr, "bench: csv:", err)
			return 1
		}
	}
	if o.plotDir != "" {
		paths, err := writePlots(o.plotDir, o.workloads, results)
		if err != nil {
			fmt.Fprintln(stderr, "bench: plot:", err)
			return 1
		}
		for _, p := range paths {
			fmt.Fprintln(stderr, "bench: wrote", p)
		}
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "bench:", runErr)
		return 1
	}
	return 0
}

// resolveSystems finds or builds the binaries of the selected systems.
func resolveSystems(ctx context.Context, o *options, tmp string) ([]System, error) {
	needRoot := (slices.Contains(o.systems, "cairn") && o.cairnBin == "") ||
		(slices.Contains(o.systems, "etcd") && o.etcdBin == "")
	var root string
	if needRoot {
		var err error
		if root, err = moduleRoot(ctx); err != nil {
			return nil, err
		}
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	var out []System
	for _, name := range o.systems {
		switch name {
		case "cairn":
			s := cairnSystem{bin: o.cairnBin, profile: o.profileDir != "", args: o.cairnArgs}
			if s.profile && s.bin != "" {
				return nil, errors.New("-cpuprofile builds cmd/node itself: it cannot profile a -cairn-bin")
			}
			if s.bin == "" {
				var flags []string
				if s.profile {
					overlay, err := writeProfileOverlay(root, tmp)
					if err != nil {
						return nil, err
					}
					flags = append(flags, "-overlay", overlay)
				}
				bin, err := buildCairn(ctx, root, tmp, flags...)
				if err != nil {
					return nil, err
				}
				s.bin = bin
			}
			out = append(out, s)
		case "etcd":
			bin := o.etcdBin
			if bin == "" {
				bin = filepath.Join(root, "tools", "bin", "etcd")
			}
			if _, err := os.Stat(bin); err != nil {
				return nil, fmt.Errorf("etcd binary: %w (run make tools, or give -etcd-bin)", err)
			}
			out = append(out, etcdSystem{bin: bin, profile: o.profileDir != "", args: o.etcdArgs})
		}
	}
	return out, nil
}

// runAll runs every workload on every system, one at a time, and returns
// the results so far and the first error.
func runAll(ctx context.Context, ws []Workload, systems []System, shape LoadShape, tmp string, keep bool, prof profiler, progress io.Writer) ([]*Result, error) {
	var results []*Result
	for _, w := range ws {
		for _, sys := range systems {
			env, err := newEnv(w.Name(), sys, shape, tmp, progress, prof)
			if err != nil {
				return results, err
			}
			res, err := w.Run(ctx, env)
			samples := env.Close()
			heap := env.HeapSamples() // from the member logs, before they go
			if !keep {
				os.RemoveAll(env.Dir) // data dirs can be large; free them before the next run
			}
			if err != nil {
				return results, fmt.Errorf("%s on %s: %w", w.Name(), sys.Name(), err)
			}
			res.Samples = samples
			res.Heap = heap
			res.Phases = env.rec.phases()
			results = append(results, res)
		}
	}
	return results, nil
}

// defaultRSSCap is a sixth of MemTotal: three members at the cap leave half
// the machine to everything else. 0 if /proc/meminfo cannot be read.
func defaultRSSCap() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb uint64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err == nil {
				return kb << 10 / 6
			}
		}
	}
	return 0
}

// replot draws the plots of the CSV o.plotFrom into o.plotDir.
func replot(o *options, stderr io.Writer) int {
	if o.plotDir == "" {
		fmt.Fprintln(stderr, "bench: -plot-from needs -plot-dir")
		return 2
	}
	results, names, err := readCSV(o.plotFrom)
	if err == nil {
		var ws []Workload
		if ws, err = selectWorkloads(strings.Join(names, ",")); err == nil {
			var paths []string
			paths, err = writePlots(o.plotDir, ws, results)
			for _, p := range paths {
				fmt.Fprintln(stderr, "bench: wrote", p)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench: plot:", err)
		return 1
	}
	return 0
}
