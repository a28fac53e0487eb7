// Package statuspage is a member's live status page, served on its metrics
// port beside /metrics: /status draws what /status.json reports, refreshed
// every second, and / links to both.
//
// /status.json reports, at one moment:
//
//   - the memory budget item by item (cairn.MemoryBudget, as
//     `node --print-memory-budget` prints it), each beside what it uses now
//     and a note that says what is counted (or, when a value cannot be
//     read at that moment, why: Used is then null), and RSS and the Go
//     heap against the budget's total;
//   - per actor role: running actors, mailbox depth, messages handled per
//     second, busy fraction, mean handling time and restarts;
//   - raft: term, leader, commit and applied index, and, on the leader, each
//     member's match index and replication state; snapshots in flight;
//   - pending reads and proposals, watch streams and watchers, streams
//     catching up, leases;
//   - the last samples of RSS, Go heap, unary requests per second and their
//     p99, which the page plots with uPlot (vendored in assets/uplot, see
//     its SOURCE file; nothing is fetched from elsewhere).
//
// Almost every number is read from the member's Prometheus registry, so
// the page and /metrics cannot disagree; what the registry does not have
// (the budget's live usage, the leader's view of its followers, the
// leader's ID) comes from Sources.
//
// Invariants:
//
//  1. Nobody looking costs nothing: there is no sampling goroutine. A
//     sample is taken when /status.json is asked for and the last one is at
//     least an Interval old; meanwhile every viewer gets the same report.
//     The plots therefore cover the time someone (a page, a script) has
//     been looking, with a gap where nobody was.
//  2. Memory is fixed: the samples are a ring of Options.Samples, allocated
//     once; the state kept between samples is one set of counters per
//     actor role and the request histogram's buckets.
//  3. Rates (messages/s, requests/s, p99) are over the time between the
//     last two samples, and absent (null) until there are two.
package statuspage
