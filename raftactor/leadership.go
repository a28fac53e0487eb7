package raftactor

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// leaderSubscribers are the actors told of changes of leader or term
// (cairnpb.SubscribeLeader). Props allocates the set once, so it outlives
// restarts of the raft actor: a new incarnation, which knows no leader yet,
// tells the subscribers so without their subscribing again.
type leaderSubscribers struct {
	pids []*actor.PID
	// lead and term were last sent to every subscriber.
	lead, term uint64
}

// subscribeLeader adds the sender to the subscribers (once) and tells it the
// current leader and term.
func (a *raftActor) subscribeLeader(ctx actor.Context) {
	s := ctx.Sender()
	if s == nil {
		return
	}
	if !slices.ContainsFunc(a.leaders.pids, s.Equal) {
		a.leaders.pids = append(a.leaders.pids, s)
	}
	ctx.Send(s, &cairnpb.LeaderChanged{Leader: a.status.Lead, Term: a.status.Term})
}

// notifyLeader tells every subscriber the published leader and term if they
// changed since it last told them. It runs after every message.
func (a *raftActor) notifyLeader(ctx actor.Context) {
	l := a.leaders
	if l == nil || (l.lead == a.status.Lead && l.term == a.status.Term) {
		return
	}
	l.lead, l.term = a.status.Lead, a.status.Term
	for _, pid := range l.pids {
		ctx.Send(pid, &cairnpb.LeaderChanged{Leader: l.lead, Term: l.term})
	}
}

// proposeAsLeader proposes m's data only if this member leads in m's term.
func (a *raftActor) proposeAsLeader(ctx actor.Context, m *cairnpb.ProposeAsLeader) {
	bs := a.rn.BasicStatus()
	if bs.RaftState != raft.StateLeader || bs.GetTerm() != m.GetTerm() {
		if ctx.Sender() != nil {
			ctx.Respond(&cairnpb.Result{Error: &cairnpb.Error{
				Code: cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED, Message: "not the leader in this term"}})
		}
		return
	}
	// Stepped now, not with the next batch: leadership may change before
	// then. The batch goes first, so that proposals keep their order.
	a.proposeBatch(ctx)
	a.refused(ctx, a.rn.Propose(m.GetData()))
}
