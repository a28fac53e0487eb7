// Command bench runs the same workloads against Cairn and the real etcd, each
// as real server processes on 127.0.0.1 with their own temporary data
// directories, and prints one table: throughput, latency percentiles, peak and
// final resident memory, and figures particular to each workload, with a
// Cairn/etcd ratio row under each workload.
//
//	go run ./cmd/bench                      # every workload, defaults (make bench-memory)
//	go run ./cmd/bench -workloads put-1mb   # one workload
//	go run ./cmd/bench -keys 20000          # a quick restart-1m run
//	go run ./cmd/bench -csv rss.csv -plot-dir plots  # also every sample, and PNGs
//	go run ./cmd/bench -workloads speed -rounds 5   # make bench-speed
//
// Cairn is cmd/node, built with `go build` unless -cairn-bin names a binary;
// etcd is tools/bin/etcd (`make tools`) unless -etcd-bin names one. Both run
// with their defaults, which match where the two share a setting (heartbeat
// 100 ms, election 1 s, max-request-bytes 1.5 MiB, max-txn-ops 128, an fsync
// per raft Ready); etcd's backend quota is raised to 8 GiB so that no
// workload hits it, and a workload that needs larger requests raises
// --max-request-bytes on both. -cairn-args and -etcd-args add flags to
// every member of one system. The systems run one after the other, never at
// the same time, and the benchmark's clients share the machine's cores with
// the servers under test.
//
// While a workload runs, every server process's VmRSS, VmHWM and RssAnon are
// read from /proc/PID/status about every 100 ms. The samples are kept with the
// result (phase-labelled, so a plot can mark load, restart and idle); -csv
// writes them out and -plot-dir draws them (plot.go, one PNG per workload,
// a panel per system on the same scales). The Go heap of every member comes
// from the runtime's GC trace (GODEBUG=gctrace=1, see heap.go): the live heap
// after each GC, read the same way from both systems without a metrics or
// profiling endpoint.
//
// On a cluster, "peak RSS" and "RSS after" are the leader's (the member the
// clients write to); "others peak" is the highest peak of the other members.
//
// Every member serves Prometheus /metrics on a port of its own
// (--listen-metrics-urls, which both systems take; Cairn serves it nowhere
// else), for go_memstats_alloc_bytes_total.
//
// -rounds N runs every workload on every system N times, the systems
// alternating which goes first (rounds.go), and the table shows the median
// of each figure, followed by each round's throughput: on a machine shared
// with other work one run says little.
//
// # Workloads
//
// Each workload is one file implementing Workload, listed in the workloads
// table in workload.go. A workload drives one system through an Env: it
// starts and stops members (Env.StartCluster starts a new cluster,
// Env.StartMember one member or a restart, keeping its data dir and ports),
// labels phases for the samples, runs load with runLoadSpec, and returns
// its figures. The standard figures (FigThroughput, latency percentiles,
// FigPeakRSS, FigFinalRSS) come first in the table; anything else a
// workload reports becomes an extra column. Issue 5's five:
//
//   - put-1mb (workload 1, etcd issue 17098): 1,000 puts of 1 MiB values to
//     the leader of 3 members. Columns beyond the standard ones: MiB/s, heap
//     peak (the leader's highest live Go heap), others peak.
//   - rewrite-2mb (workload 2, the Easegress case): one 2 MiB key rewritten
//     for -rewrite-duration (5 minutes) on 3 members, history compacted every
//     10 s on both systems (as etcd's auto-compaction or kube-apiserver
//     would; without it both disks fill). RSS 1st min and RSS last min are
//     the leader's mean RSS over the first and last minute: growth between
//     them is memory that follows the workload.
//   - idle-reads (workload 3, the etcd 3.1 ReadIndex leak): 3 members, no
//     writes, linearizable reads of one key from every member for
//     -idle-duration (10 minutes). Heap growth and RSS growth compare the
//     last fifth of the reads with their second and third tenths (see
//     growth in figures.go); max heap growth is the largest of any member.
//   - member-away (workload 4): a follower stopped while -away-bytes (2 GiB)
//     of 1 MiB values are written to the leader, then started. away peak is
//     the leader's peak RSS while the follower is stopped; catch-up is from
//     the follower's start until its revision reaches the leader's; member
//     peak and member after are the restarted follower's; snapshots counts
//     the snapshots it logged receiving.
//   - restart-1m (workload 5): load N keys of 100 bytes into one member, stop
//     it, start it on the same data, and time process start to the first
//     linearizable Get. etcd rebuilds an in-memory B-tree of every key on
//     start and keeps it; Cairn's key index is in pebble, so its start time
//     and RSS should not grow with N. Its columns: ops/s and p50/p90/p99 of
//     the load (ops are keys, latency is per request); peak RSS over both
//     processes; RSS after the idle time that follows the restart; RSS loaded
//     (right after the load); load CPU (the server's user+system time during
//     the load); disk (du of the data dir after the load); stop (SIGTERM to
//     exit); start→serve; RSS served (right after the first Get); restart
//     peak (peak RSS of the restarted process); anon after (RssAnon at the
//     end: RSS without file pages such as the executable and bbolt's mmap).
//
// More workloads run only when named. small-puts and lin-reads (smallkv.go)
// compare speed where etcd is at its best, small keys. -workloads speed
// (speed.go; make bench-speed, with -rounds 5) names three loads that also
// show what each request costs, summed over the 3 members over the load
// phase: CPU time (utime+stime of /proc/PID/stat), Go heap allocated
// (go_memstats_alloc_bytes_total), bytes written to disk (write_bytes of
// /proc/PID/io) and passed to write (wchar):
//
//   - speed-put-1mb: 300 puts of 1 MiB to distinct keys on the leader, 4 in
//     flight on 2 connections, --max-request-bytes 2 MiB on both.
//   - speed-small-puts: puts of 256 B to one of 10,000 keys on the leader,
//     100 in flight on 10 connections, for 20 s.
//   - speed-lin-reads: linearizable gets of those keys, 100 in flight on 10
//     connections spread over the members, for 20 s.
//
// With them the disk under the data dirs is measured once, before the
// loads (syncrate.go): 4 KiB and 1 MiB appends each followed by fdatasync,
// and each system's 1 MB puts are set against what that synced bandwidth
// allows for the bytes each put wrote.
//
// Every workload has flags to make it smaller or shorter (see -help);
// go test ./cmd/bench runs a tiny version of each.
//
// # Profiling
//
// -cpuprofile DIR writes, for each workload and system, a CPU profile of the
// server from the start of its load phase (-cpuprofile-time long) and heap
// profiles after the load and at the end (restart-1m: after the idle time,
// which shows what a restarted member keeps). etcd serves them with
// --enable-pprof. Cairn's cmd/node has no profiling endpoint, so with
// -cpuprofile cmd/node is built with one more file (go build -overlay, from
// nodeoverlay/): net/http/pprof and /debug/memory (the Go runtime's figures,
// pebble's bytes off the Go heap, RSS by kind of mapping) on a port of its
// own. At every phase change each Cairn member's /debug/memory is appended
// to DIR/WORKLOAD-cairn.memory.txt. The member is still cmd/node, so this
// works for clusters too.
package main
