package apply

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
	"github.com/cairnkv/cairn/storage/raftlog"
)

// Config of the apply actor.
type Config struct {
	Store *mvcc.Store
	// Log is read when the actor restarts and raft hands it entries that
	// start beyond its applied index (raft thinks it handed out the ones
	// in between before the restart).
	Log *raftlog.Log
	// MemberID and Incarnation identify the waiters this actor answers.
	MemberID    uint64
	Incarnation uint64
	// Compactor, if not nil, is spawned as the child named CompactorName
	// and receives CompactHistory after each committed compaction; nil
	// leaves history in place.
	Compactor *actor.Props
	// CatchUpBytes bounds the entries read from the log at once when
	// catching up after a restart. Default 16 MiB.
	CatchUpBytes uint64
	Logger       *slog.Logger
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
	// The compactor's failures are its own: restart it alone.
	return actor.PropsFromProducer(func() actor.Actor { return &applyActor{cfg: cfg} },
		actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider))), nil
}

// CompactorName is the name of the compactor child.
const CompactorName = "compactor"

type applyActor struct {
	cfg         Config
	applied     uint64
	subscribers []*actor.PID // of Applied
	members     []*actor.PID // of MembershipChanged
	compactor   *actor.PID
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
		if a.cfg.Compactor != nil {
			pid, err := ctx.SpawnNamed(a.cfg.Compactor, CompactorName)
			if err != nil {
				panic(fmt.Errorf("apply: spawn compactor: %w", err))
			}
			a.compactor = pid
		}
	case *cairnpb.SubscribeApplied:
		if ctx.Sender() != nil {
			a.subscribers = append(a.subscribers, ctx.Sender())
		}
	case *cairnpb.SubscribeMembership:
		if ctx.Sender() != nil {
			a.members = append(a.members, ctx.Sender())
		}
	case *raftpb.Message:
		if m.GetType() == raftpb.MsgStorageApply {
			a.applyMessage(ctx, m)
		}
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
	b := a.cfg.Store.NewBatch()
	defer b.Close()
	var (
		answers     []answer
		confChanges []*cairnpb.ApplyConfChange
		last        uint64
		compacted   int64
		membership  bool // the batch changed members or their attributes
	)
	for _, e := range ents {
		if e.GetIndex() <= a.applied {
			continue
		}
		last = e.GetIndex()
		switch e.GetType() {
		case raftpb.EntryNormal:
			out, err := a.applyNormal(b, e)
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
			ok, cctx, err := applyConfChange(b, e)
			if err != nil {
				return err
			}
			if ok {
				confChanges = append(confChanges, &cairnpb.ApplyConfChange{
					V2: e.GetType() == raftpb.EntryConfChangeV2, Data: e.GetData(),
				})
			}
			if ans := a.answerFor(cctx.GetOrigin(), cctx.GetId(), confChangeResult(ok)); ans != nil {
				answers = append(answers, *ans)
			}
		}
	}
	if last == 0 {
		return nil
	}
	if err := b.Commit(last); err != nil {
		return fmt.Errorf("apply: commit entries up to %d: %w", last, err)
	}
	a.applied = last

	// Raft must learn of conf changes before it hears the entries are
	// applied: both go to the same actor, in this order.
	for _, cc := range confChanges {
		ctx.Send(ctx.Sender(), cc)
	}
	addr := ctx.ActorSystem().Address()
	for _, ans := range answers {
		ctx.Send(actor.NewPID(addr, ans.waiter), ans.result)
	}
	if compacted > 0 && a.compactor != nil {
		ctx.Send(a.compactor, &cairnpb.CompactHistory{Revision: compacted})
	}
	for _, s := range a.subscribers {
		ctx.Send(s, &cairnpb.Applied{Index: last})
	}
	if membership {
		for _, s := range a.members {
			ctx.Send(s, &cairnpb.MembershipChanged{})
		}
	}
	return nil
}

// normalOutcome is what applying one normal entry leaves to do after the
// batch commits.
type normalOutcome struct {
	answer     *answer // owed to a local waiter, if any
	compactRev int64   // compaction revision the entry committed, if any
	membership bool    // the entry changed a member's attributes
}

// applyNormal applies one normal entry.
func (a *applyActor) applyNormal(b *mvcc.Batch, e *raftpb.Entry) (normalOutcome, error) {
	var out normalOutcome
	if len(e.GetData()) == 0 {
		// The empty entry a new leader appends to commit its term.
		return out, nil
	}
	p := &cairnpb.Proposal{}
	if err := proto.Unmarshal(e.GetData(), p); err != nil {
		// Every member fails alike on the same bytes: skip the entry rather
		// than stop the cluster.
		a.cfg.Logger.Error("skipping undecodable entry", "index", e.GetIndex(), "error", err)
		return out, nil
	}
	req := p.GetRequest()
	res, err := applyRequest(b, req)
	if err != nil {
		return out, fmt.Errorf("apply: entry %d: %w", e.GetIndex(), err)
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
	if o.GetMemberId() != a.cfg.MemberID || o.GetIncarnation() != a.cfg.Incarnation || o.GetWaiter() == "" {
		return nil
	}
	res.Id = id
	return &answer{waiter: o.GetWaiter(), result: res}
}

// confChangeResult answers a conf change: an error when every member refused
// it as invalid.
func confChangeResult(ok bool) *cairnpb.Result {
	if ok {
		return &cairnpb.Result{}
	}
	return errorResult(cairnpb.ErrorCode_ERROR_CODE_INVALID_CONF_CHANGE, "invalid configuration change")
}
