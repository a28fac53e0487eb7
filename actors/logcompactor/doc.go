// Package logcompactor is the actor that keeps the raft log short: after
// entries are applied it removes them, keeping only what other members can
// still use, within a byte budget.
//
// On every tick it asks the raft actor for the lowest index another member
// holds (when this member leads) and compacts the log up to
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
// so the log never holds more than RetentionBytes of applied entries, and a
// member further behind than the budget is sent a snapshot instead. A member
// that does not lead keeps an eighth of the budget of applied entries, so
// that if it comes to lead it can still feed members slightly behind: every
// entry kept longer is flushed and compacted by pebble with the rest, which
// with 1 MiB values cost followers a seventh of put-1mb's throughput (58
// puts/s with the whole budget kept, 65-66 with an eighth).
//
// It accepts LogCompactTick (its own timer) and LogStatus (the raft actor's
// answer). It calls raftlog.Log.Compact itself: the log serializes its
// writers, so compaction costs the raft actor at most a short wait for an
// unsynced batch, and no message.
package logcompactor
