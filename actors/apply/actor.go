package apply

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/trace"

	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
	"github.com/cairnkv/cairn/storage/raftlog"
	"github.com/cairnkv/cairn/tracing"
)

// Config of the apply actor.
type Config struct {
	Store *mvcc.Store
	// Engine installs snapshots (InstallSnapshot).
	Engine *storage.Engine
	// Log is read when the actor restarts and raft hands it entries that
	// start beyond its applied index (raft thinks it handed out the ones
	// in between before the restart).
	Log *raftlog.Log
	// MemberID and Incarnation identify the waiters this actor answers.
	MemberID    uint64
	ClusterID   uint64
	Incarnation uint64
	// Compactor, if not nil, is spawned as the child named CompactorName
	// and receives CompactHistory after each committed compaction; nil
	// leaves history in place.
	Compactor *actor.Props
	// CatchUpBytes bounds the entries read from the log at once when
	// catching up after a restart. Default 16 MiB.
	CatchUpBytes uint64
	Logger       *slog.Logger
	// Lessor, if not nil, receives LeasesApplied after each committed batch
	// that granted, revoked or checkpointed a lease, before the batch's
	// answers are sent (lease.go). A PID, not a subscription, so that it
	// survives restarts of either actor.
	Lessor *actor.PID
	// WatchHub, if not nil, receives the events of each committed batch
	// (cairnpb.WatchEvents) through a watch.Feed, which keeps the events
	// the hub has not acknowledged within WatchHubBytes (0: its default).
	WatchHub      *actor.PID
	WatchHubBytes int64
	// WatchStats, if not nil, follows the bytes in flight to the hub
	// (watch.Stats.HubBytes).
	WatchStats *watch.Stats

	// Tracer, if on, makes the apply of every entry whose proposal carries
	// a trace context a span of the request's trace, on every member.
	Tracer *tracing.Tracer
	// Keys, if not nil, follows the number of live keys (see KeyCount).
	Keys *KeyCount
	// OnCommit, if not nil, is told how long each batch's commit took
	// (etcd_disk_backend_commit_duration_seconds).
	OnCommit func(time.Duration)
	// SlowApply is how long applying one batch may take before it is
	// logged as etcd logs "apply request took too long", and counted by
	// OnSlowApply. Default 100ms (etcd's --warning-apply-duration).
	SlowApply   time.Duration
	OnSlowApply func()
	// Tokens, if not nil, holds the simple tokens as this member applies
	// them (auth.Tokens): AssignToken entries add one, auth changes drop
	// them as etcd's do, a snapshot drops all. nil (JWT tokens): AssignToken
	// entries are decided alike and hold nothing here.
	Tokens *auth.Tokens
}

// Validate names the first missing field.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("apply: Store is required")
	case c.Log == nil:
		return errors.New("apply: Log is required")
	case c.MemberID == 0:
		return errors.New("apply: MemberID must not be zero")
	}
	return nil
}

// Props returns the props of an apply actor. The caller chooses the supervisor.
func Props(cfg Config) (*actor.Props, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CatchUpBytes == 0 {
		cfg.CatchUpBytes = 16 << 20
	}
	if cfg.SlowApply == 0 {
		cfg.SlowApply = 100 * time.Millisecond
	}
	// The compactor's failures are its own: restart it alone.
	subs := &subscriptions{}
	return actor.PropsFromProducer(func() actor.Actor { return &applyActor{cfg: cfg, subs: subs} },
		actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider))), nil
}

// CompactorName is the name of the compactor child.
const CompactorName = "compactor"

type applyActor struct {
	cfg       Config
	applied   uint64
	subs      *subscriptions
	compactor *actor.PID
	leases    []*cairnpb.LeaseChange // of the batch being applied, for the lessor
	watch     *watch.Feed            // to the watch hub; nil without one
}

// subscriptions are the actors told of applied batches and of membership
// changes. Props allocates them once, so that they outlive restarts of the
// apply actor: a subscriber that is not restarted with it (the transport)
// keeps hearing from the new incarnation.
type subscriptions struct {
	applied []*actor.PID // of Applied
	members []*actor.PID // of MembershipChanged
}

// subscribe adds pid to pids unless it is there already (a subscriber
// restarted with the apply actor subscribes again).
func subscribe(pids []*actor.PID, pid *actor.PID) []*actor.PID {
	if slices.ContainsFunc(pids, pid.Equal) {
		return pids
	}
	return append(pids, pid)
}

// answer is one result to send once the batch is committed.
type answer struct {
	waiter string
	result *cairnpb.Result
}

func (a *applyActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.applied = a.cfg.Store.AppliedIndex()
		a.watch = watch.NewFeed(a.cfg.WatchHub, a.cfg.WatchHubBytes, a.cfg.WatchStats)
		a.watch.Sync(ctx, a.cfg.Store.Rev())
		if a.cfg.Keys != nil {
			a.cfg.Keys.recount(a.cfg.Store)
		}
		if a.cfg.Compactor != nil {
			pid, err := ctx.SpawnNamed(a.cfg.Compactor, CompactorName)
			if err != nil {
				panic(fmt.Errorf("apply: spawn compactor: %w", err))
			}
			a.compactor = pid
		}
	case *cairnpb.SubscribeApplied:
		if ctx.Sender() != nil {
			a.subs.applied = subscribe(a.subs.applied, ctx.Sender())
			// The subscriber may have missed batches applied before it
			// subscribed: tell it where things stand now.
			ctx.Respond(&cairnpb.Applied{Index: a.applied})
		}
	case *cairnpb.SubscribeMembership:
		if ctx.Sender() != nil {
			a.subs.members = subscribe(a.subs.members, ctx.Sender())
		}
	case *raftpb.Message:
		if m.GetType() == raftpb.MsgStorageApply {
			a.applyMessage(ctx, m)
		}
	case *cairnpb.InstallSnapshot:
		a.installSnapshot(ctx, m)
	case *cairnpb.WatchEventsAck:
		a.watch.Acked(ctx, m)
	}
}

func (a *applyActor) applyMessage(ctx actor.Context, m *raftpb.Message) {
	ents := m.GetEntries()
	if len(ents) > 0 && ents[0].GetIndex() > a.applied+1 {
		if err := a.catchUp(ctx, ents[0].GetIndex()); err != nil {
			panic(err)
		}
	}
	if err := a.apply(ctx, ents); err != nil {
		panic(err)
	}
	for _, r := range m.GetResponses() {
		ctx.Send(ctx.Sender(), r)
	}
}

// catchUp applies, from the log, the entries between the applied index and
// next: raft handed them to an earlier incarnation of this actor, which
// failed before committing them. It reads at most Config.CatchUpBytes of
// entries at a time.
func (a *applyActor) catchUp(ctx actor.Context, next uint64) error {
	for a.applied+1 < next {
		ents, err := a.cfg.Log.Entries(a.applied+1, next, a.cfg.CatchUpBytes)
		if err != nil {
			return fmt.Errorf("apply: read entries [%d, %d) missed before a restart: %w", a.applied+1, next, err)
		}
		if err := a.apply(ctx, ents); err != nil {
			return err
		}
	}
	return nil
}

func (a *applyActor) apply(ctx actor.Context, ents []*raftpb.Entry) error {
	start := time.Now()
	props, keys := a.decode(ents)
	b := a.cfg.Store.NewBatchWithSize(batchSizeHint(ents, keys))
	defer b.Close()
	// Spans of traced entries end once the batch is committed (or failed).
	var spans []trace.Span
	defer func() {
		for _, s := range spans {
			s.End()
		}
	}()
	var (
		answers     []answer
		confChanges []*cairnpb.ApplyConfChange
		last        uint64
		compacted   int64
		membership  bool // the batch changed members or their attributes
		removedSelf bool // the batch removed this member
	)
	if len(keys) > 0 {
		if err := b.Prefetch(keys); err != nil {
			return fmt.Errorf("apply: look up the keys of entries up to %d: %w", ents[len(ents)-1].GetIndex(), err)
		}
	}
	for i, e := range ents {
		if e.GetIndex() <= a.applied {
			continue
		}
		last = e.GetIndex()
		switch e.GetType() {
		case raftpb.EntryNormal:
			out, err := a.applyNormal(b, e, props[i])
			if out.span != nil {
				spans = append(spans, out.span)
			}
			if err != nil {
				return err
			}
			if out.answer != nil {
				answers = append(answers, *out.answer)
			}
			compacted = max(compacted, out.compactRev)
			membership = membership || out.membership
		case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
			membership = true
			ok, cctx, refusal, err := applyConfChange(b, e)
			if err != nil {
				return err
			}
			if ok {
				confChanges = append(confChanges, &cairnpb.ApplyConfChange{
					V2: e.GetType() == raftpb.EntryConfChangeV2, Data: e.GetData(),
				})
				removedSelf = removedSelf || removes(e, a.cfg.MemberID)
			}
			if ans := a.answerFor(cctx.GetOrigin(), cctx.GetId(), confChangeResult(ok, refusal)); ans != nil {
				answers = append(answers, *ans)
			}
		}
	}
	if last == 0 {
		return nil
	}
	committing := time.Now()
	if err := b.Commit(last); err != nil {
		return fmt.Errorf("apply: commit entries up to %d: %w", last, err)
	}
	a.observe(start, committing, last, len(ents), b)
	a.applied = last
	a.watch.Publish(ctx, b.Rev(), b.Events())

	// Raft must learn of conf changes before it hears the entries are
	// applied: both go to the same actor, in this order.
	for _, cc := range confChanges {
		ctx.Send(ctx.Sender(), cc)
	}
	a.sendLeases(ctx, last)
	addr := ctx.ActorSystem().Address()
	for _, ans := range answers {
		ctx.Send(actor.NewPID(addr, ans.waiter), ans.result)
	}
	if compacted > 0 && a.compactor != nil {
		ctx.Send(a.compactor, &cairnpb.CompactHistory{Revision: compacted})
	}
	if len(a.subs.applied) > 0 {
		var bytes uint64
		for _, e := range ents {
			bytes += uint64(len(e.GetData()))
		}
		for _, s := range a.subs.applied {
			ctx.Send(s, &cairnpb.Applied{Index: last, Bytes: bytes})
		}
	}
	if membership {
		for _, s := range a.subs.members {
			ctx.Send(s, &cairnpb.MembershipChanged{})
		}
	}
	if removedSelf {
		// The member is no longer in the cluster: its supervisor stops it.
		ctx.Send(ctx.Parent(), &cairnpb.YouAreRemoved{ClusterId: a.cfg.ClusterID})
	}
	return nil
}

// normalOutcome is what applying one normal entry leaves to do after the
// batch commits.
type normalOutcome struct {
	answer     *answer    // owed to a local waiter, if any
	compactRev int64      // compaction revision the entry committed, if any
	membership bool       // the entry changed a member's attributes
	span       trace.Span // of the entry's apply, if its request is traced
}

// decode returns the proposal of each normal entry of ents not yet applied
// (nil for the others, for the empty entry a new leader appends to commit
// its term, and for undecodable entries), and the keys their requests may
// put, for the batch to look up in one pass (mvcc.Batch.Prefetch). The keys
// alias the proposals.
func (a *applyActor) decode(ents []*raftpb.Entry) (props []*cairnpb.Proposal, keys [][]byte) {
	props = make([]*cairnpb.Proposal, len(ents))
	for i, e := range ents {
		if e.GetIndex() <= a.applied || e.GetType() != raftpb.EntryNormal || len(e.GetData()) == 0 {
			continue
		}
		p := &cairnpb.Proposal{}
		if err := unmarshalProposal(e.GetData(), p); err != nil {
			// Every member fails alike on the same bytes: skip the entry
			// rather than stop the cluster.
			a.cfg.Logger.Error("skipping undecodable entry", "index", e.GetIndex(), "error", err)
			continue
		}
		props[i] = p
		switch r := p.GetRequest(); {
		case r.GetPut() != nil:
			keys = append(keys, r.GetPut().GetKey())
		case r.GetTxn() != nil:
			keys = mvcc.TxnPutKeys(keys, r.GetTxn())
		}
	}
	return props, keys
}

// applyNormal applies one normal entry, whose proposal decode returned (nil:
// nothing to apply).
func (a *applyActor) applyNormal(b *mvcc.Batch, e *raftpb.Entry, p *cairnpb.Proposal) (normalOutcome, error) {
	var out normalOutcome
	if p == nil {
		return out, nil
	}
	req := p.GetRequest()
	if len(p.GetTrace()) > 0 && a.cfg.Tracer.On() {
		out.span = a.startSpan(p, e)
	}
	if at := p.GetAssignToken(); at != nil {
		res, err := a.assignToken(b, at, e.GetIndex())
		if err != nil {
			return out, fmt.Errorf("apply: entry %d: %w", e.GetIndex(), err)
		}
		out.answer = a.answerFor(p.GetOrigin(), p.GetId(), res)
		return out, nil
	}
	// Only the member a client waits on builds the ranges of a txn; every
	// member bounds them alike (mvcc.Batch.TxnWith).
	txn := mvcc.TxnOptions{MaxResponseBytes: p.GetMaxResponseBytes(), Answer: a.waits(p.GetOrigin())}
	res, err := applyRequest(b, req, txn)
	if out.span != nil {
		out.span.SetAttributes(tracing.RevisionAttr.Int64(b.Rev()))
	}
	if err != nil {
		return out, fmt.Errorf("apply: entry %d: %w", e.GetIndex(), err)
	}
	a.noteLease(req, res)
	if res.GetError() == nil && auth.IsAuthRequest(req) {
		a.cfg.Tokens.Applied(req)
	}
	if res.GetCompaction() != nil {
		out.compactRev = req.GetCompaction().GetRevision()
	}
	out.membership = req.GetClusterMemberAttrSet() != nil
	out.answer = a.answerFor(p.GetOrigin(), p.GetId(), res)
	return out, nil
}

// answerFor returns the answer owed to origin, or nil when the waiter is not
// of this member's current incarnation.
func (a *applyActor) answerFor(o *cairnpb.Origin, id uint64, res *cairnpb.Result) *answer {
	if !a.waits(o) {
		return nil
	}
	res.Id = id
	return &answer{waiter: o.GetWaiter(), result: res}
}

// waits reports whether origin names a waiter of this member's current
// incarnation: the only one this actor answers.
func (a *applyActor) waits(o *cairnpb.Origin) bool {
	return o.GetMemberId() == a.cfg.MemberID && o.GetIncarnation() == a.cfg.Incarnation && o.GetWaiter() != ""
}

// confChangeResult answers a conf change: an error when every member refused
// it.
func confChangeResult(ok bool, refusal cairnpb.ErrorCode) *cairnpb.Result {
	if ok {
		return &cairnpb.Result{}
	}
	return errorResult(refusal, "configuration change refused: "+refusal.String())
}

// assignToken applies a simple token's assignment: every member decides
// alike whether it may be (auth.CheckAssign) and, if so, holds its hash
// under the entry's index. The answer carries the index, the token's
// number.
func (a *applyActor) assignToken(b *mvcc.Batch, at *cairnpb.AssignToken, index uint64) (*cairnpb.Result, error) {
	if err := auth.CheckAssign(b, at.GetUser(), at.GetAuthRevision()); err != nil {
		if !isAuthError(err) {
			return nil, fmt.Errorf("assign token: %w", err)
		}
		return errorResult(cairnpb.ErrorCode_ERROR_CODE_AUTH, err.Error()), nil
	}
	hash := at.GetHash()
	if len(hash) != sha256.Size {
		// No member of this version proposes one; all refuse it alike.
		return errorResult(cairnpb.ErrorCode_ERROR_CODE_INTERNAL, "token hash of a wrong size"), nil
	}
	a.cfg.Tokens.Assign([sha256.Size]byte(hash), at.GetUser(), index)
	return &cairnpb.Result{Index: index}, nil
}
