package raftactor

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/ticker"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Props returns the props of a raft actor. The caller chooses the supervisor.
func Props(cfg Config) (*actor.Props, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	leaders := &leaderSubscribers{} // outlives restarts: see leadership.go
	return actor.PropsFromProducer(func() actor.Actor { return &raftActor{cfg: cfg, leaders: leaders} }), nil
}

type raftActor struct {
	cfg Config
	rn  *raft.RawNode

	stopTicks   func()
	readyQueued bool // a RaftReady is in the mailbox

	// persisted is the last hard state written to the log, to tell whether
	// the next one must be synced.
	persisted *raftpb.HardState
	// readIndexTo is the read-index actor, learnt from its requests.
	readIndexTo *actor.PID

	// snapshotDirs holds where received snapshots' data is, by index, until
	// raft hands them back to be installed.
	snapshotDirs map[uint64]string
	// installing is the append waiting for its snapshot to be installed;
	// pendingAppends wait behind it.
	installing     *raftpb.Message
	pendingAppends []*raftpb.Message

	// members are the voters and learners of raft's configuration, to spot
	// messages from members the cluster removed; notMemberSeen rate-limits
	// reporting them.
	members       map[uint64]bool
	notMemberSeen map[uint64]time.Time
	// removed are the members that conf changes this actor applied took
	// out: their messages are dropped. After a restart it is empty again,
	// and their messages are stepped, as raft ignores most of them, until
	// they learn of their removal (notMember).
	removed map[uint64]bool
	// lastHeard is when each member last sent raft messages, and
	// unreachable the members remoting lost and has not connected to again:
	// a member is active when heard from within an election timeout and
	// not unreachable (ProgressRequest). Messages a member sent just before
	// it died may arrive after it is reported unreachable; only a new
	// connection makes it reachable again.
	lastHeard   map[uint64]time.Time
	unreachable map[uint64]bool
	// heardMinMatch is RaftBatch.min_match as a leader last sent it, for
	// the log compactor of a member that does not lead.
	heardMinMatch *uint64

	// batch are the proposals made since the last Ready, and waiting those
	// made while no leader was known (pending.go).
	batch        proposalBatch
	waiting      []waitingProposal
	waitingBytes int

	status  Status
	leaders *leaderSubscribers

	// readyTrace is the trace context of the last traced message stepped
	// since the last Ready (nil if none, and always when tracing is off):
	// the next Ready, which persists and sends what the message caused, is
	// a span of its trace even if its RaftReady was queued by an untraced
	// message (a tick, a heartbeat).
	readyTrace map[string]string
}

func (a *raftActor) Receive(ctx actor.Context) {
	if h := a.cfg.Tracer.Header(ctx); h != nil {
		a.readyTrace = h
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *actor.Stopping, *actor.Restarting:
		a.stop()
		a.failBatch(ctx)
		a.failWaiting(ctx)
	case *cairnpb.RaftReady:
		a.readyQueued = false
		a.cfg.Tracer.Continue(ctx, a.readyTrace, "RaftReady", func() {
			a.proposeBatch(ctx)
			a.handleReady(ctx)
		})
		a.readyTrace = nil
	case *cairnpb.Tick:
		a.rn.Tick()
	case *cairnpb.Propose:
		a.propose(ctx, m)
	case *cairnpb.ProposeAsLeader:
		a.proposeAsLeader(ctx, m)
	case *cairnpb.SubscribeLeader:
		a.subscribeLeader(ctx)
	case *cairnpb.ProposeConfChange:
		a.proposeBatch(ctx) // proposals keep their order
		a.proposeConfChange(ctx, m)
	case *cairnpb.TransferLeader:
		a.proposeBatch(ctx)
		a.rn.TransferLeader(m.GetTo())
	case *cairnpb.ProgressRequest:
		a.progress(ctx)
	case *cairnpb.LogStatusRequest:
		a.logStatus(ctx)
	case *raftpb.Message:
		applied := m.GetType() == raftpb.MsgStorageApplyResp
		if applied && a.staleApplyResp(m) {
			break
		}
		a.step(m)
		if applied {
			a.maybeCampaign()
		}
	case *cairnpb.RaftBatch:
		a.receive(ctx, m)
	case *cairnpb.PeerUnreachable:
		a.rn.ReportUnreachable(m.GetId())
		a.unreachable[m.GetId()] = true
	case *cairnpb.PeerReachable:
		delete(a.unreachable, m.GetId())
	case *cairnpb.SnapshotStatus:
		status := raft.SnapshotFailure
		if m.GetOk() {
			status = raft.SnapshotFinish
		}
		a.rn.ReportSnapshot(m.GetTo(), status)
	case *cairnpb.ReceivedSnapshot:
		a.receivedSnapshot(m)
	case *cairnpb.SnapshotInstalled:
		a.installed(ctx, m)
	case *cairnpb.ReadIndexRound:
		a.readIndex(ctx, m)
	case *cairnpb.ApplyConfChange:
		a.applyConfChange(m)
	}
	if a.rn != nil {
		a.flushWaiting(ctx)
	}
	if a.rn != nil && !a.readyQueued && (len(a.batch.entries) > 0 || a.rn.HasReady()) {
		a.readyQueued = true
		ctx.Send(ctx.Self(), &cairnpb.RaftReady{})
	}
	if !a.readyQueued {
		a.readyTrace = nil // nothing the traced message caused is left to do
	}
	a.notifyLeader(ctx)
}

func (a *raftActor) start(ctx actor.Context) {
	a.unreachable = map[uint64]bool{}
	applied, cs, err := a.cfg.Recover()
	if err != nil {
		panic(fmt.Errorf("raftactor: recover state machine: %w", err))
	}
	log := a.cfg.Log
	if err := a.settleSnapshot(applied); err != nil {
		panic(fmt.Errorf("raftactor: %w", err))
	}
	log.SetConfState(cs)
	a.setMembers(cs)
	hs, _, err := log.InitialState()
	if err != nil {
		panic(fmt.Errorf("raftactor: read hard state: %w", err))
	}
	// The state machine may be ahead of the persisted commit index: the
	// commit index is written without sync, and after a crash the apply of
	// an entry may survive while the hard state that committed it did not.
	// Applied entries are committed, so the commit index can be raised.
	if hs.GetCommit() < applied {
		hs = &raftpb.HardState{Term: proto.Uint64(hs.GetTerm()), Vote: proto.Uint64(hs.GetVote()), Commit: proto.Uint64(applied)}
		if err := log.Append(hs, nil, true); err != nil {
			panic(fmt.Errorf("raftactor: raise commit index to applied: %w", err))
		}
	}
	a.persisted = hs

	rn, err := raft.NewRawNode(a.cfg.raftConfig(applied))
	if err != nil {
		panic(fmt.Errorf("raftactor: start raft: %w", err))
	}
	a.rn = rn
	if last, _ := log.LastIndex(); last == 0 && len(a.cfg.Peers) > 0 {
		if err := rn.Bootstrap(a.cfg.Peers); err != nil {
			panic(fmt.Errorf("raftactor: bootstrap: %w", err))
		}
	}
	a.maybeCampaign()
	a.status = Status{ID: a.cfg.ID}
	a.publish()
	// Not scheduler.SendRepeatedly, which races with its cancellation.
	a.stopTicks = ticker.Start(ctx.ActorSystem(), a.cfg.TickInterval, ctx.Self(), &cairnpb.Tick{})
}

// settleSnapshot finishes in the log a snapshot install the member was in
// the middle of when it stopped (see raftlog.Log.FinishSnapshot), then
// checks that the state machine's applied index is inside the log: at or
// after its snapshot index, at or before its last index. Raft cannot start
// otherwise, and says less clearly why.
func (a *raftActor) settleSnapshot(applied uint64) error {
	log := a.cfg.Log
	md, err := log.FinishSnapshot(applied)
	if err != nil {
		return fmt.Errorf("finish the snapshot begun before a restart: %w", err)
	}
	if md != nil {
		a.cfg.Logger.Warn("recorded in the raft log the snapshot the state machine installed before a restart",
			"index", md.GetIndex(), "term", md.GetTerm())
	}
	first, _ := log.FirstIndex()
	last, _ := log.LastIndex()
	switch {
	case applied < first-1:
		return fmt.Errorf("state machine applied index %d is behind the raft log's snapshot at %d", applied, first-1)
	case applied > last:
		return fmt.Errorf("state machine applied index %d is beyond the raft log's last index %d", applied, last)
	}
	return nil
}

// maybeCampaign starts an election at once when this member is the only
// voter and has no leader: a single member need not wait an election timeout
// to lead. Raft refuses to campaign while conf changes are committed but not
// applied, so it waits until everything committed is applied (at bootstrap,
// the conf change that makes this member a voter).
func (a *raftActor) maybeCampaign() {
	bs := a.rn.BasicStatus()
	if bs.Lead != raft.None || bs.Applied < bs.GetCommit() {
		return
	}
	voters := a.rn.Status().Config.Voters.IDs()
	if _, ok := voters[a.cfg.ID]; ok && len(voters) == 1 {
		_ = a.rn.Campaign()
	}
}

func (a *raftActor) stop() {
	if a.stopTicks != nil {
		a.stopTicks()
		a.stopTicks = nil
	}
}

func (a *raftActor) propose(ctx actor.Context, m *cairnpb.Propose) {
	a.proposeOrWait(ctx, m.GetData())
}

func (a *raftActor) proposeConfChange(ctx actor.Context, m *cairnpb.ProposeConfChange) {
	cc := &raftpb.ConfChange{}
	if err := proto.Unmarshal(m.GetConfChange(), cc); err != nil {
		a.refused(ctx, err)
		return
	}
	a.refused(ctx, a.rn.ProposeConfChange(cc))
}

// refused answers the sender of a proposal raft refused at once; nil means
// raft took it, and the apply actor will answer.
func (a *raftActor) refused(ctx actor.Context, err error) {
	a.refuse(ctx, ctx.Sender(), err)
}

// refuse answers sender that raft refused its proposal (nothing if err is
// nil).
func (a *raftActor) refuse(ctx actor.Context, sender *actor.PID, err error) {
	if err == nil || sender == nil {
		return
	}
	ctx.Send(sender, &cairnpb.Result{Error: a.refusal(err)})
}

// refusal is the error a proposal's client gets when raft refused it.
func (a *raftActor) refusal(err error) *cairnpb.Error {
	code := cairnpb.ErrorCode_ERROR_CODE_INTERNAL
	if errors.Is(err, raft.ErrProposalDropped) {
		// Raft drops a proposal when no leader is known, while leadership
		// moves, or when the leader's uncommitted entries are over budget.
		code = cairnpb.ErrorCode_ERROR_CODE_NO_LEADER
		if a.rn.BasicStatus().Lead != raft.None {
			code = cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS
		}
	}
	return &cairnpb.Error{Code: code, Message: err.Error()}
}

// progress answers, if this member leads, how every member follows.
func (a *raftActor) progress(ctx actor.Context) {
	if ctx.Sender() == nil {
		return
	}
	res := &cairnpb.ProgressResult{}
	st := a.rn.Status()
	if st.RaftState == raft.StateLeader {
		res.Leader = true
		res.LeaderMatch = st.Progress[a.cfg.ID].Match
		now := time.Now()
		for id, pr := range st.Progress {
			res.Members = append(res.Members, &cairnpb.MemberProgress{
				Id:      id,
				Match:   pr.Match,
				Learner: pr.IsLearner,
				Active:  id == a.cfg.ID || (!a.unreachable[id] && now.Sub(a.lastHeard[id]) < a.cfg.ElectionTimeout()),
				// For the status page (statuspage).
				State:           pr.State.String(),
				PendingSnapshot: pr.PendingSnapshot,
			})
		}
	}
	ctx.Respond(res)
}

// logStatus tells the log compactor which entries other members still need.
func (a *raftActor) logStatus(ctx actor.Context) {
	if ctx.Sender() == nil {
		return
	}
	res := &cairnpb.LogStatus{}
	if m, ok := a.leaderMinMatch(); ok {
		res.Leader, res.MinMatch, res.MinMatchKnown = true, m, true
	} else if a.heardMinMatch != nil {
		res.MinMatch, res.MinMatchKnown = *a.heardMinMatch, true
	}
	ctx.Respond(res)
}

// leaderMinMatch returns, when this member leads, the lowest index any
// member is known to hold: its own match (the last index it persisted) or
// a lower one of another member's. ok is false when it does not lead.
func (a *raftActor) leaderMinMatch() (_ uint64, ok bool) {
	if a.rn.BasicStatus().RaftState != raft.StateLeader {
		return 0, false
	}
	var own uint64
	lowest := uint64(math.MaxUint64)
	a.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == a.cfg.ID {
			own = pr.Match
		} else {
			lowest = min(lowest, pr.Match)
		}
	})
	return min(own, lowest), true
}

func (a *raftActor) step(m *raftpb.Message) {
	err := a.rn.Step(m)
	if err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) && !errors.Is(err, raft.ErrStepLocalMsg) {
		a.cfg.Logger.Debug("raft refused a message", "type", m.GetType().String(), "from", m.GetFrom(), "error", err)
	}
}

// staleApplyResp reports whether m, the apply actor's answer to a
// MsgStorageApply, answers one of an earlier instance of this actor: the
// supervisor restarts the actor with a new RawNode but the same mailbox.
// The new node's commit index, read from the log's hard state, may be
// below the answer's last entry (committed entries are applied while the
// hard state recording their commit is still being written), and raft
// panics on an applied index above its commit. Its own answers are always
// within [applied, committed], so one outside is from before the restart,
// and dropped (raft ignores those below applied anyway).
func (a *raftActor) staleApplyResp(m *raftpb.Message) bool {
	es := m.GetEntries()
	if len(es) == 0 {
		return false
	}
	st := a.rn.BasicStatus()
	last := es[len(es)-1].GetIndex()
	if last >= st.Applied && last <= st.GetCommit() {
		return false
	}
	a.cfg.Logger.Info("dropping an apply answer from before the raft actor restarted",
		"index", last, "applied", st.Applied, "commit", st.GetCommit())
	return true
}

// receivedSnapshot records where a snapshot's data is and steps its MsgSnap.
func (a *raftActor) receivedSnapshot(m *cairnpb.ReceivedSnapshot) {
	index := m.GetMessage().GetSnapshot().GetMetadata().GetIndex()
	if a.snapshotDirs == nil {
		a.snapshotDirs = map[uint64]string{}
	}
	// Only the newest received snapshot can still be installed.
	for i, dir := range a.snapshotDirs {
		if i < index {
			_ = a.cfg.RemoveSnapshotDir(dir)
			delete(a.snapshotDirs, i)
		}
	}
	a.snapshotDirs[index] = m.GetDir()
	a.step(m.GetMessage())
}

// receive steps the messages another member sent.
func (a *raftActor) receive(ctx actor.Context, b *cairnpb.RaftBatch) {
	if b.GetClusterId() != a.cfg.ClusterID || b.GetTo() != a.cfg.ID {
		a.cfg.Logger.Warn("dropping raft messages for another cluster or member",
			"cluster", b.GetClusterId(), "to", b.GetTo(), "from", b.GetFrom())
		a.dropped("misaddressed")
		return
	}
	if a.removed[b.GetFrom()] {
		// A removed member has no say: a vote or a heartbeat of a higher
		// term from it would still move this member's term. It is told
		// that it was removed, and nothing it sends is stepped.
		a.dropped("removed")
		a.notMember(ctx, b.GetFrom())
		return
	}
	if a.lastHeard == nil {
		a.lastHeard = map[uint64]time.Time{}
	}
	a.lastHeard[b.GetFrom()] = time.Now()
	if len(a.members) > 0 && !a.members[b.GetFrom()] && a.members[a.cfg.ID] {
		a.notMember(ctx, b.GetFrom())
	}
	if a.cfg.OnReceive != nil {
		a.cfg.OnReceive(b.GetFrom(), proto.Size(b))
	}
	if b.MinMatch != nil {
		a.heardMinMatch = b.MinMatch
	}
	for _, m := range b.GetMessages() {
		if m.GetType() == raftpb.MsgProp {
			a.stepForwarded(ctx, m)
			continue
		}
		a.step(m)
	}
	for _, r := range b.GetRefused() {
		a.deliverRefusal(ctx, r)
	}
}

// notMember tells the transport, at most once a second per member, that a
// member outside raft's configuration sends messages: if the cluster removed
// it, the transport tells it to stop.
func (a *raftActor) notMember(ctx actor.Context, id uint64) {
	if a.cfg.Transport == nil {
		return
	}
	now := time.Now()
	if now.Sub(a.notMemberSeen[id]) < time.Second {
		return
	}
	if a.notMemberSeen == nil {
		a.notMemberSeen = map[uint64]time.Time{}
	}
	a.notMemberSeen[id] = now
	ctx.Send(a.cfg.Transport, &cairnpb.NotMember{Id: id})
}

func (a *raftActor) readIndex(ctx actor.Context, m *cairnpb.ReadIndexRound) {
	a.readIndexTo = ctx.Sender()
	// Raft silently drops a read index request when no leader is known;
	// answer at once instead of letting the round wait for its deadline.
	if a.rn.BasicStatus().Lead == raft.None {
		ctx.Send(a.readIndexTo, &cairnpb.ReadIndexFailed{
			Context: m.GetContext(),
			Error:   &cairnpb.Error{Code: cairnpb.ErrorCode_ERROR_CODE_NO_LEADER, Message: "no leader"},
		})
		return
	}
	a.rn.ReadIndex(m.GetContext())
}

func (a *raftActor) applyConfChange(m *cairnpb.ApplyConfChange) {
	var cc raftpb.ConfChangeI
	if m.GetV2() {
		v2 := &raftpb.ConfChangeV2{}
		if err := proto.Unmarshal(m.GetData(), v2); err != nil {
			panic(fmt.Errorf("raftactor: decode conf change: %w", err))
		}
		cc = v2
	} else {
		v1 := &raftpb.ConfChange{}
		if err := proto.Unmarshal(m.GetData(), v1); err != nil {
			panic(fmt.Errorf("raftactor: decode conf change: %w", err))
		}
		cc = v1
	}
	a.setMembers(a.rn.ApplyConfChange(cc))
}

// setMembers records the members of a conf state, and as removed those of
// the previous one that it leaves out.
func (a *raftActor) setMembers(cs *raftpb.ConfState) {
	old := a.members
	a.members = map[uint64]bool{}
	for _, ids := range [][]uint64{cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext()} {
		for _, id := range ids {
			a.members[id] = true
			delete(a.removed, id)
		}
	}
	for id := range old {
		if !a.members[id] {
			if a.removed == nil {
				a.removed = map[uint64]bool{}
			}
			a.removed[id] = true
		}
	}
}

func (a *raftActor) dropped(reason string) {
	if a.cfg.OnDrop != nil {
		a.cfg.OnDrop(reason)
	}
}
