// Package node is a member's supervisor actor: it spawns the member's actors
// and decides what their failures mean.
//
// Children, spawned in this order with these names (so their PIDs are
// <node>/<name>, see ChildPID):
//
//	apply      applies committed entries; its child "compactor" removes
//	           compacted history (restarted alone when it fails)
//	raft       owns raft.RawNode
//	readindex  batches linearizable reads
//
// Supervision: raft, apply and readindex depend on each other's state (what
// raft handed to apply, which rounds readindex has in raft), so a failure of
// any of them restarts all three from what is on disk, as a process restart
// would (all-for-one). More than MaxRestarts failures within RestartWindow
// stop the member: the supervisor stops itself and reports the failure
// through Config.OnStop, and the process decides whether to exit.
package node
