// Package node is a member's supervisor actor: it spawns the member's actors
// and decides what their failures mean.
//
// Children, spawned in this order with these names (so their PIDs are
// <node>/<name>, see ChildPID):
//
//	watch      the watch hub: forwards committed events to one child per
//	           gRPC Watch stream; a satellite (restarted alone; a restart
//	           stops its streams, whose clients watch again from their last
//	           revision), spawned first so that apply's events find it
//	apply      applies committed entries; its child "compactor" removes
//	           compacted history (restarted alone when it fails)
//	transport  carries raft messages to other members
//	raft       owns raft.RawNode
//	readindex  batches linearizable reads
//	lessor     times leases on the leader and proposes their expiry; a
//	           satellite (restarted alone, so a lessor failure never
//	           restarts raft or apply), which keeps no state across
//	           restarts: it subscribes to raft's leadership again and
//	           rebuilds its expiry state from pebble
//
// Supervision (strategy.go): raft, apply and readindex, the core, depend on
// each other's state (what raft handed to apply, which rounds readindex has
// in raft), so a failure of any of them restarts all three from what is on
// disk, as a process restart would. Every other child keeps only its own
// state and is restarted alone. More than MaxRestarts failures within
// RestartWindow (of the core, or of one other child) stop it, and then the
// member: the supervisor stops itself and reports the failure through
// Config.OnStop, and the process decides whether to exit.
//
// Instrumentation (instrument.go): every child is spawned with the props
// options Config.Instrument gives for its name (tracing and metrics
// middleware), and with a spawn middleware that instruments the children
// it spawns in turn, so that every actor of the member is covered without
// the actors knowing. Without options, props are used as they are.
package node
