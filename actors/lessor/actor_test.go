package lessor

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// harness runs a lessor against a real store, with the test in the raft
// actor's place: it receives the lessor's messages to raft on a channel and
// sends LeaderChanged itself.
type harness struct {
	t      *testing.T
	system *actor.ActorSystem
	store  *mvcc.Store
	lessor *actor.PID
	toRaft chan any
	held   *atomic.Int64
}

const self = 1

var discard = slog.New(slog.DiscardHandler)

// quiet drops pebble's messages.
type quiet struct{}

func (quiet) Infof(string, ...any)              {}
func (quiet) Errorf(string, ...any)             {}
func (quiet) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func newHarness(t *testing.T, tune func(*Config)) *harness {
	t.Helper()
	db, err := pebble.Open("db", &pebble.Options{FS: vfs.NewMem(), FormatMajorVersion: pebble.FormatNewest, Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	store, err := mvcc.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }))
	h := &harness{t: t, system: system, store: store, toRaft: make(chan any, 100), held: new(atomic.Int64)}
	raft, err := h.system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(proto.Message); ok {
			h.toRaft <- ctx.Message()
		}
	}), "raft")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		MemberID:     self,
		Store:        store,
		Raft:         raft,
		Board:        raftactor.NewBoard(self),
		MinTTL:       1,
		Extend:       100 * time.Millisecond,
		TickInterval: 5 * time.Millisecond,
		Held:         h.held,
		Logger:       discard,
	}
	if tune != nil {
		tune(&cfg)
	}
	props, err := Props(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h.lessor, err = h.system.Root.SpawnNamed(props, "lessor"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.system.Root.PoisonFuture(h.lessor).Wait()
		_ = db.Close()
	})
	if _, ok := h.next().(*cairnpb.SubscribeLeader); !ok {
		t.Fatal("the lessor did not subscribe to leadership")
	}
	return h
}

// commit applies fn to a batch of the store and commits it.
func (h *harness) commit(index uint64, fn func(b *mvcc.Batch) error) {
	h.t.Helper()
	b := h.store.NewBatch()
	defer b.Close()
	if err := fn(b); err != nil {
		h.t.Fatal(err)
	}
	if err := b.Commit(index); err != nil {
		h.t.Fatal(err)
	}
}

// next returns the next message the lessor sent to raft.
func (h *harness) next() any {
	h.t.Helper()
	select {
	case m := <-h.toRaft:
		return m
	case <-time.After(10 * time.Second):
		h.t.Fatal("nothing sent to raft within 10s")
		return nil
	}
}

// nextProposal returns the request of the next proposal, checking its term.
func (h *harness) nextProposal(term uint64) *pb.InternalRaftRequest {
	h.t.Helper()
	m, ok := h.next().(*cairnpb.ProposeAsLeader)
	if !ok {
		h.t.Fatalf("sent %T to raft, want ProposeAsLeader", m)
	}
	if m.GetTerm() != term {
		h.t.Fatalf("proposal in term %d, want %d", m.GetTerm(), term)
	}
	p := &cairnpb.Proposal{}
	if err := proto.Unmarshal(m.GetData(), p); err != nil {
		h.t.Fatal(err)
	}
	if p.GetOrigin() != nil {
		h.t.Fatalf("proposal with origin %v: nobody waits for the lessor's proposals", p.GetOrigin())
	}
	return p.GetRequest()
}

func (h *harness) ask(msg any) any {
	h.t.Helper()
	res, err := h.system.Root.RequestFuture(h.lessor, msg, 10*time.Second).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) renew(id int64) *cairnpb.LeaseRenewResult {
	h.t.Helper()
	return h.ask(&cairnpb.LeaseRenew{Id: id}).(*cairnpb.LeaseRenewResult)
}

func (h *harness) lookup(id int64) *cairnpb.LeaseLookupResult {
	h.t.Helper()
	return h.ask(&cairnpb.LeaseLookup{Id: id}).(*cairnpb.LeaseLookupResult)
}

// waitHeld waits until the lessor holds want items.
func (h *harness) waitHeld(want int64) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.held.Load() != want {
		if time.Now().After(deadline) {
			h.t.Fatalf("lessor holds %d items, want %d", h.held.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLessorLeadsExpiresAndForgetsOnDemotion(t *testing.T) {
	h := newHarness(t, nil)
	h.commit(1, func(b *mvcc.Batch) error {
		for _, l := range []struct{ id, ttl int64 }{{1, 600}, {2, 1}, {3, 600}} {
			if err := b.LeaseGrant(l.id, l.ttl); err != nil {
				return err
			}
		}
		return b.LeaseCheckpoint(3, 100)
	})

	// A follower's lessor holds nothing and answers nothing.
	h.system.Root.Send(h.lessor, &cairnpb.LeaderChanged{Leader: 2, Term: 4})
	if r := h.renew(1); r.GetError().GetCode() != cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED {
		t.Fatalf("follower's renewal = %v, want LEADER_CHANGED", r)
	}
	if h.held.Load() != 0 {
		t.Fatalf("follower's lessor holds %d items", h.held.Load())
	}

	// Promotion reads every lease: 3 leases, and checkpoints scheduled for
	// the two longer than the checkpoint interval.
	h.system.Root.Send(h.lessor, &cairnpb.LeaderChanged{Leader: self, Term: 5})
	h.waitHeld(5)
	if l := h.lookup(3); !l.GetFound() || l.GetGrantedTtl() != 600 || l.GetRemaining() != 100 {
		t.Fatalf("lookup of a checkpointed lease = %v, want its checkpointed remaining TTL", l)
	}

	// Lease 2 expires (1s plus the 100ms extension): its revoke is proposed
	// in the lessor's term.
	start := time.Now()
	req := h.nextProposal(5)
	if req.GetLeaseRevoke().GetID() != 2 {
		t.Fatalf("proposed %v, want the revoke of lease 2", req)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("lease 2 revoked after %v, before its TTL", d)
	}
	// Expired: it cannot be renewed, even before its revoke applies.
	if r := h.renew(2); r.GetTtl() != 0 || r.GetError() != nil {
		t.Fatalf("renewal of an expired lease = %v, want TTL 0", r)
	}
	h.commit(2, func(b *mvcc.Batch) error { return b.LeaseRevoke(2) })
	h.system.Root.Send(h.lessor, &cairnpb.LeasesApplied{Index: 2, Changes: []*cairnpb.LeaseChange{
		{Kind: cairnpb.LeaseChange_KIND_REVOKE, Id: 2},
	}})
	h.waitHeld(4)

	// Renewing the checkpointed lease clears its recorded remaining TTL.
	if r := h.renew(3); r.GetTtl() != 600 {
		t.Fatalf("renewal = %v, want TTL 600", r)
	}
	cp := h.nextProposal(5).GetLeaseCheckpoint().GetCheckpoints()
	if len(cp) != 1 || cp[0].GetID() != 3 || cp[0].GetRemaining_TTL() != 0 {
		t.Fatalf("proposed checkpoints %v, want lease 3 cleared", cp)
	}

	// Unknown leases: not found, at once when everything committed is
	// applied. A lease granted but not yet reported by the apply actor is
	// read from pebble.
	if l := h.lookup(99); l.GetFound() || l.GetError() != nil {
		t.Fatalf("lookup of an unknown lease = %v", l)
	}
	if r := h.renew(99); r.GetTtl() != 0 || r.GetError() != nil {
		t.Fatalf("renewal of an unknown lease = %v, want TTL 0", r)
	}
	h.commit(3, func(b *mvcc.Batch) error { return b.LeaseGrant(7, 30) })
	if r := h.renew(7); r.GetTtl() != 30 {
		t.Fatalf("renewal of a lease only pebble knows = %v, want TTL 30", r)
	}
	h.waitHeld(5)

	// Demotion drops everything; a new promotion rebuilds from pebble.
	h.system.Root.Send(h.lessor, &cairnpb.LeaderChanged{Leader: 2, Term: 6})
	h.waitHeld(0)
	if r := h.renew(1); r.GetError().GetCode() != cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED {
		t.Fatalf("renewal after demotion = %v, want LEADER_CHANGED", r)
	}
	h.system.Root.Send(h.lessor, &cairnpb.LeaderChanged{Leader: self, Term: 7})
	h.waitHeld(5) // leases 1, 3, 7 and two checkpoints
	if r := h.renew(7); r.GetTtl() != 30 {
		t.Fatalf("renewal after promotion = %v", r)
	}
	// Leaderless: demoted too.
	h.system.Root.Send(h.lessor, &cairnpb.LeaderChanged{Leader: 0, Term: 8})
	h.waitHeld(0)
}

func TestLessorRevokeRateAndRetry(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.RevokeRate = 20 // one per 50ms: a burst of at most one per 5ms tick
		c.RetryInterval = 300 * time.Millisecond
		c.Extend = time.Millisecond
	})
	h.commit(1, func(b *mvcc.Batch) error {
		for id := int64(1); id <= 10; id++ {
			if err := b.LeaseGrant(id, 1); err != nil {
				return err
			}
		}
		return nil
	})
	h.system.Root.Send(h.lessor, &cairnpb.LeaderChanged{Leader: self, Term: 3})
	seen := map[int64]int{}
	var first, last time.Time
	for i := 0; i < 10; i++ {
		id := h.nextProposal(3).GetLeaseRevoke().GetID()
		seen[id]++
		if i == 0 {
			first = time.Now()
		}
		last = time.Now()
	}
	if len(seen) != 10 {
		t.Fatalf("revokes proposed: %v, want each of 10 leases once", seen)
	}
	// Ten revokes at 20 per second take at least 9 intervals of 50ms.
	if d := last.Sub(first); d < 400*time.Millisecond {
		t.Fatalf("10 revokes proposed within %v, faster than 20 per second", d)
	}
	// None applied: each is proposed again after the retry interval.
	again := h.nextProposal(3).GetLeaseRevoke().GetID()
	if seen[again] != 1 {
		t.Fatalf("retried lease %d, seen %d times", again, seen[again])
	}
}
