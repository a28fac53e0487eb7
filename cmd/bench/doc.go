// Command bench runs the same workloads against Cairn and the real etcd, each
// as a real server process on 127.0.0.1 with its own temporary data
// directory, and prints one table: throughput, latency percentiles, peak and
// final resident memory, and figures particular to each workload, with a
// Cairn/etcd ratio row under each workload.
//
//	go run ./cmd/bench                      # every workload, defaults
//	go run ./cmd/bench -keys 20000          # a quick restart-1m run
//	go run ./cmd/bench -csv rss.csv         # also write every RSS sample
//
// Cairn is cmd/node, built with `go build` unless -cairn-bin names a binary;
// etcd is tools/bin/etcd (`make tools`) unless -etcd-bin names one. Both run
// with their defaults, which match where the two share a setting (heartbeat
// 100 ms, election 1 s, max-request-bytes 1.5 MiB, max-txn-ops 128, an fsync
// per raft Ready); etcd's backend quota is raised to 8 GiB so that no
// workload hits it. The systems run one after the other, never at the same
// time, and the benchmark's clients share the machine's cores with the
// server under test.
//
// While a workload runs, every server process's VmRSS, VmHWM and RssAnon are
// read from /proc/PID/status about every 100 ms. The samples are kept with the
// result (phase-labelled, so a plot can mark load, restart and idle) and
// -csv writes them out.
//
// # Workloads
//
// Each workload is one file implementing Workload, listed in the workloads
// table in workload.go. A workload drives one system through an Env: it
// starts and stops members (Env.StartMember keeps a member's data dir and
// ports across restarts), labels phases for the RSS samples, runs load with
// runLoad, and returns its figures. The standard figures (FigThroughput,
// latency percentiles, FigPeakRSS, FigFinalRSS) come first in the table;
// anything else a workload reports becomes an extra column.
//
//   - restart-1m: load N keys of 100 bytes into one member, stop it, start it
//     on the same data, and time process start to the first linearizable Get.
//     etcd rebuilds an in-memory B-tree of every key on start and keeps it;
//     Cairn's key index is in pebble, so its start time and RSS should not
//     grow with N. Its columns: ops/s and p50/p90/p99 of the load (ops are
//     keys, latency is per request); peak RSS over both processes; RSS after
//     the idle time that follows the restart; RSS loaded (right after the
//     load); load CPU (the server's user+system time during the load); disk
//     (du of the data dir after the load); stop (SIGTERM to exit);
//     start→serve; RSS served (right after the first Get); restart peak (peak
//     RSS of the restarted process); anon after (RssAnon at the end: RSS
//     without file pages such as the executable and bbolt's mmap).
//
// # Profiling
//
// -cpuprofile DIR writes, for each workload and system, a CPU profile of the
// server from the start of its load phase (-cpuprofile-time long) and heap
// profiles after the load and at the end (restart-1m: after the idle time,
// which shows what a restarted member keeps). etcd serves them
// with --enable-pprof. Cairn's cmd/node has no profiling endpoint, so with
// -cpuprofile Cairn runs as this binary's hidden "serve-cairn" subcommand:
// the same member through the embedding API with cmd/node's defaults, plus
// net/http/pprof on a port of its own.
package main
