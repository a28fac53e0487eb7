package raftactor

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// A proposal made while no leader is known waits, as in etcd, for a leader
// rather than failing at once: elections are short, and a member that has
// just restarted knows no leader for a moment. It waits at most an election
// timeout, in a queue bounded in bytes; then it fails with "no leader".

// MaxWaitingBytes bounds the proposals waiting for a leader (a part of the
// member's memory budget, cairn.Config.MemoryBudget).
const MaxWaitingBytes = 16 << 20

const maxWaitingBytes = MaxWaitingBytes

type waitingProposal struct {
	data     []byte
	sender   *actor.PID
	deadline time.Time
}

// proposeOrWait proposes data, or queues it while no leader is known.
func (a *raftActor) proposeOrWait(ctx actor.Context, data []byte) {
	if a.rn.BasicStatus().Lead == raft.None {
		a.wait(ctx, data)
		return
	}
	a.refused(ctx, a.rn.Propose(data))
}

func (a *raftActor) wait(ctx actor.Context, data []byte) {
	if a.waitingBytes+len(data) > maxWaitingBytes {
		a.refused(ctx, raft.ErrProposalDropped)
		return
	}
	a.waiting = append(a.waiting, waitingProposal{
		data:     data,
		sender:   ctx.Sender(),
		deadline: time.Now().Add(a.cfg.ElectionTimeout()),
	})
	a.waitingBytes += len(data)
}

// flushWaiting proposes the waiting proposals once a leader is known, and
// fails those past their deadline. Called after every message.
func (a *raftActor) flushWaiting(ctx actor.Context) {
	if len(a.waiting) == 0 {
		return
	}
	lead := a.rn.BasicStatus().Lead
	now := time.Now()
	kept := a.waiting[:0]
	a.waitingBytes = 0
	for _, w := range a.waiting {
		switch {
		case lead != raft.None:
			if err := a.rn.Propose(w.data); err != nil {
				a.refuse(ctx, w.sender, err)
			}
		case now.After(w.deadline):
			a.refuse(ctx, w.sender, raft.ErrProposalDropped)
		default:
			kept = append(kept, w)
			a.waitingBytes += len(w.data)
		}
	}
	clear(a.waiting[len(kept):])
	a.waiting = kept
}

// failWaiting fails every waiting proposal (the actor is stopping).
func (a *raftActor) failWaiting(ctx actor.Context) {
	for _, w := range a.waiting {
		if w.sender != nil {
			ctx.Send(w.sender, &cairnpb.Result{Error: &cairnpb.Error{
				Code: cairnpb.ErrorCode_ERROR_CODE_STOPPED, Message: "member is stopping"}})
		}
	}
	a.waiting, a.waitingBytes = nil, 0
}
