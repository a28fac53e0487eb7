package raftactor

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/reply"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Refusals of forwarded proposals.
//
// raft forwards a follower's proposals to the leader as a MsgProp, and
// when the leader drops them (its uncommitted entries over budget, a
// leadership transfer under way) it tells nobody: the clients of the
// follower waited their whole request timeout for an answer that never
// came, where the leader's own clients hear TOO_MANY_REQUESTS at once. So a
// member whose raft drops a MsgProp that another member sent reads the
// origin (cairnpb.Origin) of each of its entries and answers the proposing
// member in the refused list of a RaftBatch; that member's raft actor hands
// each refusal to its waiter, if the refusal is for this run of the member
// (the incarnation) and names a waiter (reply.IsWaiterID), never another
// actor.

// stepForwarded steps a MsgProp another member sent, and answers its
// proposals if raft drops them.
func (a *raftActor) stepForwarded(ctx actor.Context, m *raftpb.Message) {
	err := a.rn.Step(m)
	if !errors.Is(err, raft.ErrProposalDropped) {
		if err != nil {
			a.cfg.Logger.Debug("raft refused a message", "type", m.GetType().String(), "from", m.GetFrom(), "error", err)
		}
		return
	}
	refusal := a.refusal(err)
	var out outbox
	for _, e := range m.GetEntries() {
		o := proposalOrigin(e.GetData())
		if o == nil || o.GetMemberId() == a.cfg.ID || !reply.IsWaiterID(o.GetWaiter()) {
			continue
		}
		b := out.batch(o.GetMemberId())
		b.Refused = append(b.Refused, &cairnpb.RefusedProposal{
			Incarnation: o.GetIncarnation(), Waiter: o.GetWaiter(), Error: refusal})
	}
	a.flush(ctx, &out)
}

// deliverRefusal hands a refusal of one of this member's forwarded
// proposals to its waiter.
func (a *raftActor) deliverRefusal(ctx actor.Context, r *cairnpb.RefusedProposal) {
	if r.GetIncarnation() != a.cfg.Incarnation || !reply.IsWaiterID(r.GetWaiter()) || r.GetError() == nil {
		a.dropped("stale-refusal")
		return
	}
	ctx.Send(actor.NewPID(ctx.ActorSystem().Address(), r.GetWaiter()), &cairnpb.Result{Error: r.GetError()})
}

// proposalOrigin reads the origin of an encoded cairnpb.Proposal without
// decoding the rest (its request may hold a large value), or nil.
func proposalOrigin(data []byte) *cairnpb.Origin {
	const originField = 2 // cairnpb.Proposal.origin
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return nil
		}
		data = data[n:]
		if num == originField && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(data)
			if n < 0 {
				return nil
			}
			o := &cairnpb.Origin{}
			if proto.Unmarshal(v, o) != nil {
				return nil
			}
			return o
		}
		n = protowire.ConsumeFieldValue(num, typ, data)
		if n < 0 {
			return nil
		}
		data = data[n:]
	}
	return nil
}
