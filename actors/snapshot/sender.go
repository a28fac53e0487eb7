package snapshot

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
)

// SenderConfig configures one transfer.
type SenderConfig struct {
	Engine *storage.Engine
	// Describe returns the applied index and conf state of the state machine
	// as snap sees it.
	Describe func(snap *pebble.Snapshot) (applied uint64, cs *raftpb.ConfState, err error)
	// Term returns the term of a raft log index.
	Term func(index uint64) (uint64, error)
	// Receiver is the receiving member's snapshot receiver; Raft the local
	// raft actor, which learns how the transfer ended.
	Receiver, Raft *actor.PID
	ClusterID      uint64
	// Message is raft's MsgSnap.
	Message *raftpb.Message
	// ChunkBytes is the size a chunk aims at (a chunk holds at least one
	// key). Default 1 MiB.
	ChunkBytes int
	// Window is how many chunks may be unacknowledged. Default 4.
	Window int
	// Timeout is how long the sender waits for an acknowledgement. Default
	// 10s.
	Timeout time.Duration
	// Stats, if not nil, counts the unacknowledged chunks in Sending.
	Stats  *Stats
	Logger *slog.Logger
}

func (c SenderConfig) withDefaults() SenderConfig {
	if c.ChunkBytes == 0 {
		c.ChunkBytes = 1 << 20
	}
	if c.Window == 0 {
		c.Window = 4
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// SenderProps returns the props of a sender. It stops itself when the
// transfer ends.
func SenderProps(cfg SenderConfig) (*actor.Props, error) {
	if cfg.Engine == nil || cfg.Describe == nil || cfg.Term == nil || cfg.Receiver == nil || cfg.Raft == nil || cfg.Message == nil {
		return nil, errors.New("snapshot: sender needs Engine, Describe, Term, Receiver, Raft and Message")
	}
	cfg = cfg.withDefaults()
	return actor.PropsFromProducer(func() actor.Actor { return &sender{cfg: cfg} }), nil
}

type sender struct {
	cfg  SenderConfig
	id   uint64
	snap *pebble.Snapshot
	it   *pebble.Iterator
	more bool // the iterator has keys left

	sent, acked uint64 // chunks sent and acknowledged
	// unacked is the bytes (chunkBytes) of each chunk sent and not
	// acknowledged, oldest first, counted in Stats.Sending.
	unacked  []int64
	lastSeq  uint64 // seq of the last chunk, once sent
	lastSent bool
	msg      *raftpb.Message
	done     bool
}

func (s *sender) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if err := s.start(); err != nil {
			s.finish(ctx, err)
			return
		}
		ctx.SetReceiveTimeout(s.cfg.Timeout)
		s.fill(ctx)
	case *cairnpb.SnapshotAck:
		s.ack(ctx, m)
	case *actor.ReceiveTimeout:
		s.finish(ctx, fmt.Errorf("no acknowledgement within %s", s.cfg.Timeout))
	case *actor.Stopping, *actor.Restarting:
		s.close()
	}
}

func (s *sender) start() error {
	var err error
	s.snap, s.it, err = s.cfg.Engine.ReadStateMachine()
	if err != nil {
		return err
	}
	applied, cs, err := s.cfg.Describe(s.snap)
	if err != nil {
		return err
	}
	term, err := s.cfg.Term(applied)
	if err != nil {
		return fmt.Errorf("term of applied index %d: %w", applied, err)
	}
	s.msg = proto.Clone(s.cfg.Message).(*raftpb.Message)
	s.msg.Snapshot = &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index: proto.Uint64(applied), Term: proto.Uint64(term), ConfState: cs,
	}}
	s.id = randomID()
	s.more = s.it.First()
	s.cfg.Logger.Info("sending snapshot", "to", fmt.Sprintf("%x", s.msg.GetTo()), "index", applied, "term", term)
	return nil
}

// fill sends chunks until the window is full or the data is all sent.
func (s *sender) fill(ctx actor.Context) {
	for !s.lastSent && s.sent-s.acked < uint64(s.cfg.Window) {
		chunk, err := s.next()
		if err != nil {
			s.finish(ctx, err)
			return
		}
		ctx.RequestWithCustomSender(s.cfg.Receiver, chunk, ctx.Self())
		s.sent++
		if s.cfg.Stats != nil {
			n := chunkBytes(chunk)
			s.unacked = append(s.unacked, n)
			s.cfg.Stats.Sending.Add(n)
		}
	}
}

// next reads the next chunk from the iterator.
func (s *sender) next() (*cairnpb.SnapshotChunk, error) {
	c := &cairnpb.SnapshotChunk{ClusterId: s.cfg.ClusterID, To: s.msg.GetTo(), Id: s.id, Seq: s.sent}
	size := 0
	for s.more && (size < s.cfg.ChunkBytes || len(c.Kvs) == 0) {
		v, err := s.it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		kv := &cairnpb.KeyValue{Key: append([]byte(nil), s.it.Key()...), Value: append([]byte(nil), v...)}
		c.Kvs = append(c.Kvs, kv)
		size += len(kv.Key) + len(kv.Value)
		s.more = s.it.Next()
	}
	if err := s.it.Error(); err != nil {
		return nil, err
	}
	if !s.more {
		c.Last = true
		c.Message = s.msg
		s.lastSent = true
		s.lastSeq = c.Seq
	}
	return c, nil
}

func (s *sender) ack(ctx actor.Context, m *cairnpb.SnapshotAck) {
	if m.GetId() != s.id || s.done {
		return
	}
	if !m.GetOk() {
		s.finish(ctx, fmt.Errorf("receiver gave up: %s", m.GetError()))
		return
	}
	if m.GetSeq() != s.acked {
		s.finish(ctx, fmt.Errorf("acknowledgement %d out of order (want %d)", m.GetSeq(), s.acked))
		return
	}
	s.acked++
	if len(s.unacked) > 0 {
		s.cfg.Stats.Sending.Add(-s.unacked[0])
		s.unacked = s.unacked[1:]
	}
	if s.lastSent && m.GetSeq() == s.lastSeq {
		s.finish(ctx, nil)
		return
	}
	s.fill(ctx)
}

// finish reports the outcome to raft and stops the sender.
func (s *sender) finish(ctx actor.Context, err error) {
	if s.done {
		return
	}
	s.done = true
	to := s.cfg.Message.GetTo()
	if err != nil {
		s.cfg.Logger.Warn("sending snapshot failed", "to", fmt.Sprintf("%x", to), "error", err)
	} else {
		s.cfg.Logger.Info("snapshot sent", "to", fmt.Sprintf("%x", to), "chunks", s.sent)
	}
	ctx.Send(s.cfg.Raft, &cairnpb.SnapshotStatus{To: to, Ok: err == nil})
	ctx.Stop(ctx.Self())
}

func (s *sender) close() {
	for _, n := range s.unacked { // they are no longer this member's
		s.cfg.Stats.Sending.Add(-n)
	}
	s.unacked = nil
	if s.it != nil {
		_ = s.it.Close()
		s.it = nil
	}
	if s.snap != nil {
		_ = s.snap.Close()
		s.snap = nil
	}
}
