package raftactor

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// A proposal made while no leader is known waits, as in etcd, for a leader
// rather than failing at once: elections are short, and a member that has
// just restarted knows no leader for a moment. It waits at most an election
// timeout, in a queue bounded in bytes; then it fails with "no leader".

// MaxWaitingBytes bounds the proposals waiting for a leader (a part of the
// member's memory budget, cairn.Config.MemoryBudget). Board.WaitingBytes
// says how much waits now.
const MaxWaitingBytes = 16 << 20

const maxWaitingBytes = MaxWaitingBytes

type waitingProposal struct {
	data     []byte
	sender   *actor.PID
	deadline time.Time
}

// Proposals are stepped into raft in batches: the Propose messages handled
// between two Readies become one MsgProp with all their entries (stepped
// just before the Ready, or once the batch reaches maxBatchBytes). Raft
// then appends them at once and sends each follower one MsgApp for the
// batch, not one per proposal, and each follower answers one MsgAppResp.
// The proposals wait no longer than before: raft would only persist and
// send them at that Ready. A batch raft refuses is refused to each of its
// senders alike.

// maxBatchBytes bounds the data of one batch of proposals: a batch is no
// larger than raft's MaxSizePerMsg default, so that a refusal for
// uncommitted bytes (MaxUncommittedEntriesSize) refuses few proposals that
// would have fit one by one.
const maxBatchBytes = 1 << 20

// proposalBatch holds the proposals made since the last Ready.
type proposalBatch struct {
	entries []*raftpb.Entry
	senders []*actor.PID // of each entry; nil when the sender wants no answer
	bytes   int
}

// proposeOrWait proposes data with the next batch, or queues it while no
// leader is known.
func (a *raftActor) proposeOrWait(ctx actor.Context, data []byte) {
	if a.rn.BasicStatus().Lead == raft.None {
		a.wait(ctx, ctx.Sender(), data)
		return
	}
	b := &a.batch
	b.entries = append(b.entries, &raftpb.Entry{Data: data})
	b.senders = append(b.senders, ctx.Sender())
	b.bytes += len(data)
	if b.bytes >= maxBatchBytes {
		a.proposeBatch(ctx)
	}
}

// proposeBatch steps the batch of proposals into raft as one MsgProp (or
// queues them while no leader is known), and empties it.
func (a *raftActor) proposeBatch(ctx actor.Context) {
	b := &a.batch
	if len(b.entries) == 0 {
		return
	}
	if a.rn.BasicStatus().Lead == raft.None {
		for i, e := range b.entries {
			a.wait(ctx, b.senders[i], e.GetData())
		}
	} else if err := a.rn.Step(&raftpb.Message{
		Type:    raftpb.MsgProp.Enum(),
		From:    proto.Uint64(a.cfg.ID),
		Entries: b.entries,
	}); err != nil {
		for _, s := range b.senders {
			a.refuse(ctx, s, err)
		}
	}
	// Raft keeps the entries; the slices are not reused.
	*b = proposalBatch{}
}

// failBatch answers the proposals of the batch that the member is stopping.
func (a *raftActor) failBatch(ctx actor.Context) {
	for _, s := range a.batch.senders {
		if s != nil {
			ctx.Send(s, &cairnpb.Result{Error: &cairnpb.Error{
				Code: cairnpb.ErrorCode_ERROR_CODE_STOPPED, Message: "member is stopping"}})
		}
	}
	a.batch = proposalBatch{}
}

func (a *raftActor) wait(ctx actor.Context, sender *actor.PID, data []byte) {
	if a.waitingBytes+len(data) > maxWaitingBytes {
		a.refuse(ctx, sender, raft.ErrProposalDropped)
		return
	}
	a.waiting = append(a.waiting, waitingProposal{
		data:     data,
		sender:   sender,
		deadline: time.Now().Add(a.cfg.ElectionTimeout()),
	})
	a.waitingBytes += len(data)
	a.cfg.Board.waiting.Store(int64(a.waitingBytes))
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
	a.cfg.Board.waiting.Store(int64(a.waitingBytes))
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
	a.cfg.Board.waiting.Store(0)
}
