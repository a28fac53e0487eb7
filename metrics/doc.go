// Package metrics is a member's Prometheus metrics and its HTTP endpoints
// for monitoring: /metrics, and /health, /livez and /readyz as etcd serves
// them.
//
// Metrics take etcd's names where the meaning is the same, so that etcd's
// dashboards and alerts work unchanged (etcd_server_has_leader,
// etcd_server_proposals_committed_total, etcd_disk_wal_fsync_duration_seconds,
// etcd_network_peer_sent_bytes_total, ...: see New for the list and what
// each measures in Cairn). Cairn's own are named cairn_*: per actor, the
// mailbox depth and the time spent handling each message type; the raft
// log bytes retained; pending linearizable reads; watch streams, watchers
// and their queued bytes; leases held in memory.
//
// Each member has its own registry (several members may share a process in
// tests). Most values are read when scraped, from counters the member keeps
// anyway (the raft actor's status board, the watch hub's Stats); the rest
// are observed as they happen through hooks given to the actors (Hooks).
//
// The actor middleware (ActorOptions) is a receiver middleware that times
// each message an actor handles, and a mailbox with statistics that counts
// the messages waiting. It is given to every actor of the member by the node
// supervisor, as the tracing middleware is. Invariant: an instrumented
// actor's mailbox is unbounded (protoactor's default; no actor of Cairn sets
// another).
package metrics
