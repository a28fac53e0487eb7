package raftactor

import (
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
)

// Status is the raft actor's view of the cluster, as last published.
type Status struct {
	ID     uint64
	Term   uint64
	Lead   uint64 // 0 when no leader is known
	Commit uint64
	// Applied is the highest index the apply actor has acknowledged to raft.
	Applied uint64
	State   raft.StateType
	// LeaderChanges counts the leader changes this actor has seen.
	LeaderChanges uint64
}

// Board publishes the raft actor's Status to other goroutines (the front door
// fills response headers from it) without a message round trip. Only the raft
// actor writes it; a published Status is never modified.
type Board struct {
	cur atomic.Pointer[Status]
	// waiting is the bytes of proposals waiting for a leader
	// (pending.go), stored by the actor whenever they change.
	waiting atomic.Int64

	mu       sync.Mutex
	leaderCh chan struct{} // closed and replaced when the leader changes
}

// NewBoard returns a board showing no leader.
func NewBoard(id uint64) *Board {
	b := &Board{leaderCh: make(chan struct{})}
	b.cur.Store(&Status{ID: id})
	return b
}

// Load returns the last published status.
func (b *Board) Load() Status { return *b.cur.Load() }

// WaitingBytes returns the bytes of the proposals waiting for a leader to
// be known now (at most MaxWaitingBytes).
func (b *Board) WaitingBytes() int64 { return b.waiting.Load() }

// LeaderChanged returns a channel closed at the next change of leader
// (including from none to some).
func (b *Board) LeaderChanged() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leaderCh
}

func (b *Board) publish(s Status) {
	prev := b.cur.Swap(&s)
	if prev.Lead != s.Lead {
		b.mu.Lock()
		close(b.leaderCh)
		b.leaderCh = make(chan struct{})
		b.mu.Unlock()
	}
}
