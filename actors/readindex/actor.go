package readindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/actors/ticker"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Config of the read-index actor.
type Config struct {
	Raft  *actor.PID
	Apply *actor.PID
	// Incarnation makes round contexts unique across restarts of the member.
	Incarnation uint64
	// Timeout is how long a read may wait in all. Default 5s.
	Timeout time.Duration
	// RoundTimeout is how long a round may wait for raft before it is sent
	// again. Default 1s (an election timeout).
	RoundTimeout time.Duration
	// MaxPending bounds the reads waiting at once. Default 100,000.
	MaxPending int
	// Pending, if not nil, is kept equal to the number of reads waiting, for
	// metrics and tests.
	Pending *atomic.Int64
	// MemberID is this member's raft ID, and Peer, if not nil, returns the
	// read-index actor of another member (nil if it has no address): with
	// both, a member that does not lead sends its rounds to the leader's
	// read-index actor instead of through raft (forward.go).
	MemberID uint64
	Peer     func(id uint64) *actor.PID
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.RoundTimeout == 0 {
		c.RoundTimeout = time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 100_000
	}
	if c.Pending == nil {
		c.Pending = new(atomic.Int64)
	}
	return c
}

// Props returns the props of a read-index actor.
func Props(cfg Config) (*actor.Props, error) {
	if cfg.Raft == nil || cfg.Apply == nil {
		return nil, errors.New("readindex: Raft and Apply are required")
	}
	cfg = cfg.withDefaults()
	return actor.PropsFromProducer(func() actor.Actor { return &readIndexActor{cfg: cfg} }), nil
}

type read struct {
	to       *actor.PID
	deadline time.Time
	// ctx is the context of a round another member's read-index actor
	// forwarded (forward.go); nil for a reader of this member.
	ctx []byte
}

type round struct {
	ctx   []byte
	reads []read
	sent  time.Time
	to    *actor.PID // the raft actor, or the leader's read-index actor
	index uint64     // set once raft answers
}

type readIndexActor struct {
	cfg       Config
	stopTicks func()

	applied uint64
	seq     uint64
	// leader is the leader the raft actor last reported; leaderReads its
	// read-index actor while rounds are forwarded to it, and noForward says
	// that it left a forwarded round unanswered, so rounds go through raft
	// until the leader changes (forward.go).
	leader      uint64
	leaderReads *actor.PID
	noForward   bool

	next     []read   // not yet in a round
	inflight *round   // sent to raft, not answered
	waiting  []*round // answered by raft, waiting for apply; ascending index
	pending  int
}

func (a *readIndexActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// Round contexts continue from a random point in each instance:
		// after a restart, raft's answers to the rounds of the instance
		// before (still in flight, or in the mailbox) match no round of
		// this one, where a sequence started again at 0 would match them
		// and answer reads at an index older than writes they must see.
		a.seq = rand.Uint64()
		ctx.Request(a.cfg.Apply, &cairnpb.SubscribeApplied{})
		ctx.Request(a.cfg.Raft, &cairnpb.SubscribeLeader{})
		interval := a.cfg.RoundTimeout / 4
		// Not scheduler.SendRepeatedly, which races with its cancellation.
		a.stopTicks = ticker.Start(ctx.ActorSystem(), interval, ctx.Self(), &cairnpb.ReadIndexTick{})
	case *actor.Stopping, *actor.Restarting:
		if a.stopTicks != nil {
			a.stopTicks()
		}
		a.failAll(ctx, cairnpb.ErrorCode_ERROR_CODE_STOPPED, "member is stopping")
	case *cairnpb.ReadIndexRequest:
		a.request(ctx)
	case *cairnpb.ReadIndexRound:
		a.forwarded(ctx, m)
	case *cairnpb.ReadState:
		a.readState(ctx, m)
	case *cairnpb.ReadIndexFailed:
		a.roundFailed(ctx, m)
	case *cairnpb.Applied:
		a.applied = max(a.applied, m.GetIndex())
		a.release(ctx)
	case *cairnpb.ReadIndexTick:
		a.expire(ctx, time.Now())
	case *cairnpb.LeaderChanged:
		a.setLeader(m.GetLeader())
		// Raft forgets read requests when leadership changes, silently: send
		// the round in flight again at once rather than at its timeout.
		if a.inflight != nil && m.GetLeader() != 0 {
			a.send(ctx, a.inflight)
		}
	}
	a.cfg.Pending.Store(int64(a.pending))
}

func (a *readIndexActor) request(ctx actor.Context) {
	if ctx.Sender() == nil {
		return
	}
	if a.pending >= a.cfg.MaxPending {
		ctx.Respond(failure(cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS, "too many pending reads"))
		return
	}
	a.pending++
	a.next = append(a.next, read{to: ctx.Sender(), deadline: time.Now().Add(a.cfg.Timeout)})
	a.startRound(ctx)
}

// startRound sends the waiting reads to raft as one round, unless a round is
// already in flight.
func (a *readIndexActor) startRound(ctx actor.Context) {
	if a.inflight != nil || len(a.next) == 0 {
		return
	}
	a.inflight = &round{reads: a.next}
	a.next = nil
	a.send(ctx, a.inflight)
}

func (a *readIndexActor) send(ctx actor.Context, r *round) {
	a.seq++
	r.ctx = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, a.cfg.Incarnation), a.seq)
	r.sent = time.Now()
	r.to = a.cfg.Raft
	if a.leaderReads != nil && !a.noForward {
		r.to = a.leaderReads
	}
	ctx.Request(r.to, &cairnpb.ReadIndexRound{Context: r.ctx})
}

func (a *readIndexActor) readState(ctx actor.Context, m *cairnpb.ReadState) {
	r := a.inflight
	if r == nil || !bytes.Equal(r.ctx, m.GetContext()) {
		return // an answer to a round already retried or failed
	}
	a.inflight = nil
	r.index = m.GetIndex()
	if r.reads = a.answerForwarded(ctx, r.reads, r.index); len(r.reads) > 0 {
		a.waiting = append(a.waiting, r)
	}
	a.release(ctx)
	a.startRound(ctx)
}

func (a *readIndexActor) roundFailed(ctx actor.Context, m *cairnpb.ReadIndexFailed) {
	r := a.inflight
	if r == nil || !bytes.Equal(r.ctx, m.GetContext()) {
		return
	}
	if r.to != a.cfg.Raft {
		// The leader's read-index actor could not answer: raft's own
		// answer, or its error, is the one to give.
		a.noForward = true
		a.send(ctx, r)
		return
	}
	a.inflight = nil
	a.answer(ctx, r.reads, &cairnpb.ReadIndexResult{Error: m.GetError()})
	a.startRound(ctx)
}

// release answers every waiting round whose index has been applied.
func (a *readIndexActor) release(ctx actor.Context) {
	n := 0
	for _, r := range a.waiting {
		if r.index > a.applied {
			break
		}
		a.answer(ctx, r.reads, &cairnpb.ReadIndexResult{Index: r.index})
		n++
	}
	a.waiting = a.waiting[n:]
}

// expire fails reads past their deadline and retries a round raft has not
// answered within the round timeout.
func (a *readIndexActor) expire(ctx actor.Context, now time.Time) {
	timedOut := failure(cairnpb.ErrorCode_ERROR_CODE_TIMEOUT, "read index timed out")
	if r := a.inflight; r != nil && now.Sub(r.sent) >= a.cfg.RoundTimeout {
		if r.to != a.cfg.Raft {
			a.noForward = true // an older leader, or a lost message
		}
		r.reads = a.dropExpired(ctx, r.reads, now, timedOut)
		if len(r.reads) == 0 {
			a.inflight = nil
			a.startRound(ctx)
		} else {
			a.send(ctx, r)
		}
	}
	for _, r := range a.waiting {
		r.reads = a.dropExpired(ctx, r.reads, now, timedOut)
	}
	a.next = a.dropExpired(ctx, a.next, now, timedOut)
}

func (a *readIndexActor) dropExpired(ctx actor.Context, reads []read, now time.Time, res *cairnpb.ReadIndexResult) []read {
	kept := reads[:0]
	for _, rd := range reads {
		if now.Before(rd.deadline) {
			kept = append(kept, rd)
			continue
		}
		a.answer(ctx, []read{rd}, res)
	}
	return kept
}

func (a *readIndexActor) failAll(ctx actor.Context, code cairnpb.ErrorCode, msg string) {
	res := failure(code, msg)
	if a.inflight != nil {
		a.answer(ctx, a.inflight.reads, res)
		a.inflight = nil
	}
	for _, r := range a.waiting {
		a.answer(ctx, r.reads, res)
	}
	a.waiting = nil
	a.answer(ctx, a.next, res)
	a.next = nil
}

func (a *readIndexActor) answer(ctx actor.Context, reads []read, res *cairnpb.ReadIndexResult) {
	for _, rd := range reads {
		switch {
		case rd.ctx == nil:
			ctx.Send(rd.to, res)
		case res.GetError() != nil:
			ctx.Send(rd.to, &cairnpb.ReadIndexFailed{Context: rd.ctx, Error: res.GetError()})
		default:
			ctx.Send(rd.to, &cairnpb.ReadState{Context: rd.ctx, Index: res.GetIndex()})
		}
	}
	a.pending -= len(reads)
}

func failure(code cairnpb.ErrorCode, msg string) *cairnpb.ReadIndexResult {
	return &cairnpb.ReadIndexResult{Error: &cairnpb.Error{Code: code, Message: msg}}
}
