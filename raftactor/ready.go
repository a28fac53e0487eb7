package raftactor

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// handleReady hands out one Ready: see the package documentation.
func (a *raftActor) handleReady(ctx actor.Context) {
	if !a.rn.HasReady() {
		return
	}
	rd := a.rn.Ready()
	a.publish()

	for _, rs := range rd.ReadStates {
		if a.readIndexTo != nil {
			ctx.Send(a.readIndexTo, &cairnpb.ReadState{Context: rs.RequestCtx, Index: rs.Index})
		}
	}

	var (
		appendMsg *raftpb.Message
		out       outbox
	)
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			appendMsg = m
		case raft.LocalApplyThread:
			// The apply actor answers to the sender: this actor.
			ctx.Request(a.cfg.Apply, m)
		default:
			out.add(m)
		}
	}
	a.flush(ctx, &out)
	// Appending last lets the messages above (to the apply actor and to
	// followers) proceed while this actor waits for the disk.
	if appendMsg != nil {
		a.append(ctx, appendMsg)
	}
}

// append persists one MsgStorageAppend and then delivers its responses.
func (a *raftActor) append(ctx actor.Context, m *raftpb.Message) {
	if snap := m.GetSnapshot(); snap != nil && !raft.IsEmptySnap(snap) {
		if err := a.cfg.Log.ApplySnapshot(snap); err != nil {
			panic(fmt.Errorf("raftactor: apply snapshot to log: %w", err))
		}
	}
	var hs *raftpb.HardState
	if m.Term != nil {
		hs = &raftpb.HardState{Term: proto.Uint64(m.GetTerm()), Vote: proto.Uint64(m.GetVote()), Commit: proto.Uint64(m.GetCommit())}
	}
	// Only entries, term and vote must be durable before raft relies on them;
	// a lost commit index is learnt again from the leader (or, on a single
	// member, from the applied index: see start).
	sync := len(m.GetEntries()) > 0 ||
		(hs != nil && (hs.GetTerm() != a.persisted.GetTerm() || hs.GetVote() != a.persisted.GetVote()))
	if len(m.GetEntries()) > 0 || hs != nil {
		if err := a.cfg.Log.Append(hs, m.GetEntries(), sync); err != nil {
			panic(fmt.Errorf("raftactor: append to log: %w", err))
		}
	}
	if hs != nil {
		a.persisted = hs
	}
	var out outbox
	for _, r := range m.GetResponses() {
		if r.GetTo() == a.cfg.ID {
			a.step(r)
		} else {
			out.add(r)
		}
	}
	a.flush(ctx, &out)
}

// outbox groups the messages of one Ready by member, so that each member
// gets one RaftBatch per Ready.
type outbox struct {
	order   []uint64
	batches map[uint64]*cairnpb.RaftBatch
}

func (o *outbox) add(m *raftpb.Message) {
	if o.batches == nil {
		o.batches = map[uint64]*cairnpb.RaftBatch{}
	}
	b, ok := o.batches[m.GetTo()]
	if !ok {
		b = &cairnpb.RaftBatch{To: m.GetTo()}
		o.batches[m.GetTo()] = b
		o.order = append(o.order, m.GetTo())
	}
	b.Messages = append(b.Messages, m)
}

// flush hands the batches to the transport.
func (a *raftActor) flush(ctx actor.Context, o *outbox) {
	if a.cfg.Transport == nil {
		return
	}
	for _, to := range o.order {
		ctx.Send(a.cfg.Transport, o.batches[to])
	}
}

// publish refreshes the board from raft's status.
func (a *raftActor) publish() {
	bs := a.rn.BasicStatus()
	next := Status{
		ID:            a.cfg.ID,
		Term:          bs.GetTerm(),
		Lead:          bs.Lead,
		Commit:        bs.GetCommit(),
		Applied:       bs.Applied,
		State:         bs.RaftState,
		LeaderChanges: a.status.LeaderChanges,
	}
	if next.Lead != a.status.Lead && next.Lead != raft.None {
		next.LeaderChanges++
	}
	if next != a.status {
		a.status = next
		a.cfg.Board.publish(next)
	}
}
