package lessor

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/ticker"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// Config of the lessor.
type Config struct {
	// MemberID is this member's raft ID: the lessor leads while raft's
	// leader is this ID.
	MemberID uint64
	// Store is read on promotion (every lease record) and for leases the
	// lessor is asked about but does not track.
	Store *mvcc.Store
	// Raft is the local raft actor: it receives SubscribeLeader and
	// ProposeAsLeader. Filled in by the node supervisor.
	Raft *actor.PID
	// Board gives raft's commit index, which a renewal or lookup of an
	// unknown lease waits for the apply actor to reach.
	Board *raftactor.Board

	// MinTTL is the least TTL, in seconds, a lease is timed with (see
	// MinTTL). The front door raises grants to it; leases recorded with
	// less (under an earlier configuration) are timed with it.
	MinTTL int64
	// Extend is added to every lease's remaining TTL when this member
	// becomes leader, so that leases do not expire while clients find the
	// new leader. Default 1s; the member sets it to the election timeout.
	Extend time.Duration
	// RevokeRate bounds the revokes of expired leases proposed per second.
	// Default 1000 (etcd's).
	RevokeRate int
	// CheckpointInterval is how often the remaining TTL of each lease longer
	// than it is recorded through raft, so that a new leader does not give
	// it its full TTL again. Default 5 min (etcd's); negative disables
	// checkpoints.
	CheckpointInterval time.Duration
	// CheckpointRate bounds the checkpoints proposed per second, all of one
	// tick in one proposal. Default 1000.
	CheckpointRate int
	// RetryInterval is how long after proposing the revoke of an expired
	// lease the lessor proposes it again if it has not applied (the
	// proposal may be lost with a leader change). Default 7s.
	RetryInterval time.Duration
	// TickInterval is how often, while leading, the lessor looks for
	// expired leases and due checkpoints: a lease is revoked up to one tick
	// after it expires. Default 100ms.
	TickInterval time.Duration
	// WaitTimeout bounds how long a renewal or lookup of a lease the lessor
	// does not know waits for the apply actor to catch up with the commit
	// index (the lease may be granted by an entry committed but not yet
	// applied here). Default 1s (etcd's apply timeout).
	WaitTimeout time.Duration
	// MaxWaiting bounds those waiting requests; more are refused with
	// TOO_MANY_REQUESTS. Default 10,000.
	MaxWaiting int

	// Held, if not nil, is kept equal to the number of items the lessor
	// holds in memory: tracked leases, queued checkpoints and waiting
	// requests. It is zero on a member that does not lead.
	Held *atomic.Int64
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Extend == 0 {
		c.Extend = time.Second
	}
	if c.RevokeRate == 0 {
		c.RevokeRate = 1000
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 5 * time.Minute
	}
	if c.CheckpointRate == 0 {
		c.CheckpointRate = 1000
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 7 * time.Second
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = time.Second
	}
	if c.MaxWaiting == 0 {
		c.MaxWaiting = 10_000
	}
	if c.Held == nil {
		c.Held = new(atomic.Int64)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate names the first field that is missing or out of range.
func (c Config) Validate() error {
	switch {
	case c.MemberID == 0:
		return errors.New("lessor: MemberID must not be zero")
	case c.Store == nil || c.Raft == nil || c.Board == nil:
		return errors.New("lessor: Store, Raft and Board are required")
	case c.MinTTL < 1:
		return fmt.Errorf("lessor: minimum TTL (%d) must be at least one second", c.MinTTL)
	case c.RevokeRate < 0 || c.CheckpointRate < 0:
		return errors.New("lessor: revoke and checkpoint rates must be positive")
	case c.TickInterval < 0 || c.RetryInterval < 0 || c.WaitTimeout < 0 || c.Extend < 0:
		return errors.New("lessor: durations must be positive")
	}
	return nil
}

// MinTTL returns the least TTL, in seconds, a lease may be granted with, as
// etcd derives it: one and a half election timeouts (in whole ticks),
// rounded up to a second. A shorter lease could expire while the cluster
// elects a leader.
func MinTTL(tick time.Duration, electionTicks int) int64 {
	d := time.Duration(3*electionTicks/2) * tick
	return max(1, int64(math.Ceil(d.Seconds())))
}

// Props returns the props of a lessor. The caller chooses the supervisor.
func Props(cfg Config) (*actor.Props, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return actor.PropsFromProducer(func() actor.Actor { return newLessor(cfg) }), nil
}

type lessorActor struct {
	cfg  Config
	base time.Time // the clock's origin: now() is monotonic nanoseconds since
	x    *expiry

	leading bool
	term    uint64 // the term this member leads in, while leading
	// synced is the applied index of the state read on promotion: lease
	// changes at or below it are already in the expiry state.
	synced uint64

	waiting   []request
	stopTicks func() // while leading
	lastTick  int64
	// Token buckets of the revoke and checkpoint rates, refilled every tick.
	revokeTokens, ckptTokens float64
}

// request is a renewal or a lookup.
type request struct {
	to    *actor.PID
	id    int64
	renew bool
	// commit is raft's commit index when the request arrived: "not found"
	// is answered only once the state machine has applied it.
	commit   uint64
	deadline int64
}

func newLessor(cfg Config) *lessorActor {
	interval := int64(cfg.CheckpointInterval)
	if interval < 0 {
		interval = 0
	}
	return &lessorActor{
		cfg:  cfg,
		base: time.Now(),
		x: newExpiry(params{
			minTTL:   cfg.MinTTL,
			extend:   int64(cfg.Extend),
			interval: interval,
			retry:    int64(cfg.RetryInterval),
			rate:     cfg.RevokeRate,
		}),
	}
}

func (a *lessorActor) now() int64 { return int64(time.Since(a.base)) }

func (a *lessorActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// The raft actor answers with the current leader at once.
		ctx.Request(a.cfg.Raft, &cairnpb.SubscribeLeader{})
	case *actor.Stopping, *actor.Restarting:
		a.demote(ctx)
	case *cairnpb.LeaderChanged:
		a.leaderChanged(ctx, m)
	case *cairnpb.LeasesApplied:
		a.applied(m)
	case *cairnpb.LeaseRenew:
		a.request(ctx, request{to: ctx.Sender(), id: m.GetId(), renew: true})
	case *cairnpb.LeaseLookup:
		a.request(ctx, request{to: ctx.Sender(), id: m.GetId()})
	case *cairnpb.LessorTick:
		a.tick(ctx)
	case *cairnpb.Result:
		// Raft refused a revoke or checkpoint: leadership moved (a
		// LeaderChanged follows) or raft is over budget (the revoke is
		// proposed again after the retry interval).
		a.cfg.Logger.Debug("lessor proposal refused", "error", m.GetError().GetMessage())
	}
	a.cfg.Held.Store(int64(a.x.held() + len(a.waiting)))
}

func (a *lessorActor) leaderChanged(ctx actor.Context, m *cairnpb.LeaderChanged) {
	leads := m.GetLeader() == a.cfg.MemberID
	switch {
	case leads && (!a.leading || m.GetTerm() != a.term):
		a.promote(ctx, m.GetTerm())
	case !leads && a.leading:
		a.demote(ctx)
	}
}

// promote starts timing every lease in the state machine (etcd's Promote).
func (a *lessorActor) promote(ctx actor.Context, term uint64) {
	a.x.reset()
	a.answerWaiting(ctx, cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED, "leader changed")
	now := a.now()
	v := a.cfg.Store.Read()
	err := v.Leases(func(id, ttl, remaining int64) error {
		a.x.load(now, id, ttl, remaining)
		return nil
	})
	a.synced = v.AppliedIndex()
	v.Close()
	if err != nil {
		// The supervisor restarts the lessor, which subscribes again and
		// is promoted again.
		panic(fmt.Errorf("lessor: read leases on promotion: %w", err))
	}
	a.x.finishLoad(now)
	a.leading, a.term = true, term
	a.lastTick = now
	a.revokeTokens, a.ckptTokens = a.burst(a.cfg.RevokeRate), a.burst(a.cfg.CheckpointRate)
	if a.stopTicks == nil {
		a.stopTicks = ticker.Start(ctx.ActorSystem(), a.cfg.TickInterval, ctx.Self(), &cairnpb.LessorTick{})
	}
	a.cfg.Logger.Info("lessor leads", "term", term, "leases", a.x.leases())
}

// demote drops all expiry state (etcd's Demote; unlike etcd before 3.5,
// nothing about expired leases is kept).
func (a *lessorActor) demote(ctx actor.Context) {
	if a.stopTicks != nil {
		a.stopTicks()
		a.stopTicks = nil
	}
	if a.leading {
		a.cfg.Logger.Info("lessor no longer leads", "term", a.term)
	}
	a.leading, a.term = false, 0
	a.x.reset()
	a.answerWaiting(ctx, cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED, "leader changed")
}

// applied follows the lease changes the state machine applied.
func (a *lessorActor) applied(m *cairnpb.LeasesApplied) {
	if !a.leading || m.GetIndex() <= a.synced {
		return
	}
	now := a.now()
	for _, c := range m.GetChanges() {
		switch c.GetKind() {
		case cairnpb.LeaseChange_KIND_GRANT:
			a.x.granted(now, c.GetId(), c.GetTtl())
		case cairnpb.LeaseChange_KIND_REVOKE:
			a.x.revoked(c.GetId())
		case cairnpb.LeaseChange_KIND_CHECKPOINT:
			a.x.checkpointed(c.GetId(), c.GetRemaining())
		}
	}
}

func (a *lessorActor) request(ctx actor.Context, r request) {
	if r.to == nil {
		return
	}
	if !a.leading {
		a.fail(ctx, r, cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED, "not the leader's lessor")
		return
	}
	now := a.now()
	r.commit = a.cfg.Board.Load().Commit
	if a.serve(ctx, now, r) {
		return
	}
	if len(a.waiting) >= a.cfg.MaxWaiting {
		a.fail(ctx, r, cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS, "too many lease requests waiting")
		return
	}
	r.deadline = now + int64(a.cfg.WaitTimeout)
	a.waiting = append(a.waiting, r)
}

// serve answers r unless it must wait for the apply actor.
func (a *lessorActor) serve(ctx actor.Context, now int64, r request) (done bool) {
	wait, err := a.resolve(now, r)
	if err != nil {
		a.fail(ctx, r, cairnpb.ErrorCode_ERROR_CODE_INTERNAL, err.Error())
		return true
	}
	if wait {
		return false
	}
	if r.renew {
		ttl, clearRecorded := a.x.renew(now, r.id)
		if clearRecorded {
			a.propose(ctx, &pb.InternalRaftRequest{LeaseCheckpoint: &pb.LeaseCheckpointRequest{
				Checkpoints: []*pb.LeaseCheckpoint{{ID: r.id, Remaining_TTL: 0}},
			}})
		}
		ctx.Send(r.to, &cairnpb.LeaseRenewResult{Id: r.id, Ttl: ttl})
		return true
	}
	left, ttl, found := a.x.remaining(now, r.id)
	ctx.Send(r.to, &cairnpb.LeaseLookupResult{Id: r.id, Found: found, Remaining: left, GrantedTtl: ttl})
	return true
}

// resolve makes the expiry state track lease r.id if the state machine has
// it and the state does not (its grant is on its way from the apply actor).
// It reports that r must wait when the lease is not found but the state
// machine has not applied r.commit yet.
func (a *lessorActor) resolve(now int64, r request) (wait bool, err error) {
	if a.x.status(now, r.id) != unknown {
		return false, nil
	}
	v := a.cfg.Store.Read()
	defer v.Close()
	ttl, _, err := v.Lease(r.id)
	switch {
	case err == nil:
		a.x.granted(now, r.id, ttl)
		return false, nil
	case errors.Is(err, mvcc.ErrLeaseNotFound):
		return v.AppliedIndex() < r.commit, nil
	}
	return false, err
}

func (a *lessorActor) tick(ctx actor.Context) {
	if !a.leading {
		return
	}
	now := a.now()
	elapsed := float64(now-a.lastTick) / float64(time.Second)
	a.lastTick = now

	a.revokeTokens = min(a.burst(a.cfg.RevokeRate), a.revokeTokens+elapsed*float64(a.cfg.RevokeRate))
	if n := int(a.revokeTokens); n > 0 {
		ids := a.x.expire(now, n)
		a.revokeTokens -= float64(len(ids))
		for _, id := range ids {
			a.propose(ctx, &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
		}
	}

	a.ckptTokens = min(a.burst(a.cfg.CheckpointRate), a.ckptTokens+elapsed*float64(a.cfg.CheckpointRate))
	if n := int(a.ckptTokens); n > 0 {
		if cps := a.x.checkpoints(now, n); len(cps) > 0 {
			a.ckptTokens -= float64(len(cps))
			a.propose(ctx, &pb.InternalRaftRequest{LeaseCheckpoint: &pb.LeaseCheckpointRequest{Checkpoints: cps}})
		}
	}

	kept := a.waiting[:0]
	for _, r := range a.waiting {
		switch {
		case a.serve(ctx, now, r):
		case now >= r.deadline:
			a.fail(ctx, r, cairnpb.ErrorCode_ERROR_CODE_TIMEOUT, "timed out waiting for the applied index")
		default:
			kept = append(kept, r)
		}
	}
	clear(a.waiting[len(kept):])
	a.waiting = kept
}

// burst is a rate's bucket size: one tick's worth, at least one.
func (a *lessorActor) burst(rate int) float64 {
	return max(1, float64(rate)*a.cfg.TickInterval.Seconds())
}

// propose proposes r through raft, in this member's term as leader. Nobody
// waits for the entry: the apply actor reports its effect in LeasesApplied.
func (a *lessorActor) propose(ctx actor.Context, r *pb.InternalRaftRequest) {
	data, err := proto.Marshal(&cairnpb.Proposal{Request: r})
	if err != nil {
		panic(fmt.Errorf("lessor: marshal proposal: %w", err)) // cannot fail for a valid message
	}
	ctx.Request(a.cfg.Raft, &cairnpb.ProposeAsLeader{Data: data, Term: a.term})
}

func (a *lessorActor) answerWaiting(ctx actor.Context, code cairnpb.ErrorCode, msg string) {
	for _, r := range a.waiting {
		a.fail(ctx, r, code, msg)
	}
	a.waiting = nil
}

func (a *lessorActor) fail(ctx actor.Context, r request, code cairnpb.ErrorCode, msg string) {
	e := &cairnpb.Error{Code: code, Message: msg}
	if r.renew {
		ctx.Send(r.to, &cairnpb.LeaseRenewResult{Id: r.id, Error: e})
	} else {
		ctx.Send(r.to, &cairnpb.LeaseLookupResult{Id: r.id, Error: e})
	}
}
