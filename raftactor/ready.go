package raftactor

import (
	"fmt"
	"time"

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
			a.route(ctx, &out, m)
		}
	}
	a.flush(ctx, &out)
	// Appending last lets the messages above (to the apply actor and to
	// followers) proceed while this actor waits for the disk.
	if appendMsg != nil {
		a.append(ctx, appendMsg)
	}
}

// append persists one MsgStorageAppend and then delivers its responses. An
// append that carries a snapshot first has the apply actor install the
// snapshot's data; appends that follow wait for it, in order.
func (a *raftActor) append(ctx actor.Context, m *raftpb.Message) {
	if a.installing != nil {
		a.pendingAppends = append(a.pendingAppends, m)
		return
	}
	if snap := m.GetSnapshot(); snap != nil && !raft.IsEmptySnap(snap) {
		index := snap.GetMetadata().GetIndex()
		dir, ok := a.snapshotDirs[index]
		if !ok {
			// Raft took a snapshot whose data this incarnation did not
			// receive: restart from the log; the leader sends it again.
			panic(fmt.Errorf("raftactor: no data for snapshot at index %d", index))
		}
		delete(a.snapshotDirs, index)
		// The log learns first which snapshot the state machine is about
		// to hold, so that a crash after the state machine installed it
		// and before the log recorded it leaves the log able to record it
		// at the next start (raftlog.Log.FinishSnapshot).
		if err := a.cfg.Log.BeginSnapshot(snap.GetMetadata()); err != nil {
			panic(fmt.Errorf("raftactor: begin snapshot at index %d: %w", index, err))
		}
		a.snapshotStep(SnapshotBegun, index)
		a.installing = m
		ctx.Request(a.cfg.Apply, &cairnpb.InstallSnapshot{Index: index, Dir: dir})
		return
	}
	a.persist(ctx, m)
}

// installed finishes the append that waited for its snapshot to be
// installed, then the appends queued behind it.
func (a *raftActor) installed(ctx actor.Context, res *cairnpb.SnapshotInstalled) {
	m := a.installing
	if m == nil || res.GetIndex() != m.GetSnapshot().GetMetadata().GetIndex() {
		return
	}
	if e := res.GetError(); e != nil {
		panic(fmt.Errorf("raftactor: install snapshot at index %d: %s", res.GetIndex(), e.GetMessage()))
	}
	a.snapshotStep(SnapshotIngested, res.GetIndex())
	if err := a.cfg.Log.ApplySnapshot(m.GetSnapshot()); err != nil {
		panic(fmt.Errorf("raftactor: apply snapshot to log: %w", err))
	}
	a.setMembers(m.GetSnapshot().GetMetadata().GetConfState())
	a.installing = nil
	a.persist(ctx, m)
	queued := a.pendingAppends
	a.pendingAppends = nil
	for i, q := range queued {
		a.append(ctx, q)
		if a.installing != nil {
			// Another snapshot: the rest waits again, in order.
			a.pendingAppends = append(a.pendingAppends, queued[i+1:]...)
			return
		}
	}
}

// persist writes the entries and hard state of an append, then delivers its
// responses.
func (a *raftActor) persist(ctx actor.Context, m *raftpb.Message) {
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
		start := time.Now()
		if err := a.cfg.Log.Append(hs, m.GetEntries(), sync); err != nil {
			panic(fmt.Errorf("raftactor: append to log: %w", err))
		}
		if sync && a.cfg.OnSync != nil {
			a.cfg.OnSync(time.Since(start))
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
			a.route(ctx, &out, r)
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
	b := o.batch(m.GetTo())
	b.Messages = append(b.Messages, m)
}

// batch returns the batch for member to, started if there is none yet.
func (o *outbox) batch(to uint64) *cairnpb.RaftBatch {
	if o.batches == nil {
		o.batches = map[uint64]*cairnpb.RaftBatch{}
	}
	b, ok := o.batches[to]
	if !ok {
		b = &cairnpb.RaftBatch{To: to}
		o.batches[to] = b
		o.order = append(o.order, to)
	}
	return b
}

// route puts a message for another member in the outbox, except a snapshot,
// which the transport streams on its own.
func (a *raftActor) route(ctx actor.Context, out *outbox, m *raftpb.Message) {
	if m.GetType() == raftpb.MsgSnap {
		if a.cfg.Transport != nil {
			ctx.Send(a.cfg.Transport, &cairnpb.SendSnapshot{Message: m})
		} else {
			a.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
		}
		return
	}
	out.add(m)
}

// flush hands the batches to the transport.
func (a *raftActor) flush(ctx actor.Context, o *outbox) {
	if a.cfg.Transport == nil || len(o.order) == 0 {
		return
	}
	// Members that do not lead keep the log from the lowest match, so
	// that one of them coming to lead can feed the members behind.
	var minMatch *uint64
	if m, ok := a.leaderMinMatch(); ok {
		minMatch = &m
	}
	for _, to := range o.order {
		b := o.batches[to]
		b.MinMatch = minMatch
		ctx.Send(a.cfg.Transport, b)
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

func (a *raftActor) snapshotStep(step SnapshotStep, index uint64) {
	if a.cfg.OnSnapshotStep != nil {
		a.cfg.OnSnapshotStep(step, index)
	}
}
