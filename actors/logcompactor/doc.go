// Package logcompactor is the actor that keeps the raft log short: after
// entries are applied it removes them, keeping only what other members can
// still use, within a byte budget.
//
// On every tick, and each time FlushAfterBytes/2 of entries were applied, it
// asks the raft actor for the lowest index another member holds and
// compacts the log up to
//
//	min(applied, that index)           when what lies after it fits the budget,
//	the first index whose tail fits    otherwise (capped at applied),
//
// where applied is the applied index of the state machine as pebble has
// flushed it (apply.RecoverDurable): the state machine's database has no
// write-ahead log, so a restart after a crash applies again every entry
// after that index, and the log must still hold them. When the entries
// applied but not yet flushed pass Config.FlushAfterBytes it starts a flush
// of the state machine, and compacts again as soon as the flush ends.
//
// The lowest index comes from raft's progress on the leader, and from the
// leader's word on the others (RaftBatch.min_match): every member keeps
// what the members behind still need, so that whichever comes to lead can
// feed them from its log, and otherwise keeps nothing applied. A member
// further behind than the budget is sent a snapshot instead. Keeping costs
// more than memory: an entry still in the log when its memtable fills is
// written out again (before they kept an eighth of the budget on every
// member that did not lead, followers wrote every 1 MiB value a second
// time).
//
// It accepts LogCompactTick (its own timer), Applied (from the apply actor)
// and LogStatus (the raft actor's answer). It calls raftlog.Log.Compact
// itself: the log serializes its writers, so compaction costs the raft
// actor at most a short wait for an unsynced batch, and no message.
package logcompactor
