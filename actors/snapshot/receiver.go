package snapshot

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
)

// ReceiverConfig configures a member's snapshot receiver.
type ReceiverConfig struct {
	Engine *storage.Engine
	// Dir holds snapshots being received and received ones not yet
	// installed. The receiver empties it when it starts.
	Dir string
	// Raft is the local raft actor.
	Raft                *actor.PID
	ClusterID, MemberID uint64
	// IdleTimeout abandons a transfer that receives nothing for this long.
	// Default 30s.
	IdleTimeout time.Duration
	// Stats, if not nil, shows the chunk being written in Receiving.
	Stats  *Stats
	Logger *slog.Logger
}

// ReceiverProps returns the props of a receiver.
func ReceiverProps(cfg ReceiverConfig) (*actor.Props, error) {
	if cfg.Engine == nil || cfg.Raft == nil || cfg.Dir == "" {
		return nil, errors.New("snapshot: receiver needs Engine, Dir and Raft")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor { return &receiver{cfg: cfg} }), nil
}

type receiver struct {
	cfg ReceiverConfig
	// The one transfer in progress, if any.
	id   uint64
	next uint64
	w    *storage.SSTWriter
	dir  string
}

func (r *receiver) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// Whatever a previous run left is either partial or was never
		// installed: raft will ask for a new snapshot if it needs one.
		_ = r.cfg.Engine.RemoveSnapshotDir(r.cfg.Dir)
		ctx.SetReceiveTimeout(r.cfg.IdleTimeout)
	case *cairnpb.SnapshotChunk:
		if r.cfg.Stats != nil {
			r.cfg.Stats.Receiving.Store(chunkBytes(m))
			defer r.cfg.Stats.Receiving.Store(0)
		}
		r.chunk(ctx, m)
	case *actor.ReceiveTimeout:
		if r.w != nil {
			r.cfg.Logger.Warn("abandoning a snapshot transfer that went idle", "id", r.id)
			r.abort()
		}
	case *actor.Stopping, *actor.Restarting:
		r.abort()
	}
}

func (r *receiver) chunk(ctx actor.Context, c *cairnpb.SnapshotChunk) {
	if c.GetClusterId() != r.cfg.ClusterID || c.GetTo() != r.cfg.MemberID {
		r.nack(ctx, c, "snapshot for another cluster or member")
		return
	}
	if c.GetSeq() == 0 {
		// A new transfer replaces any other: raft sends one at a time, so an
		// older one was abandoned by its sender.
		r.abort()
		r.id, r.next = c.GetId(), 0
		r.dir = filepath.Join(r.cfg.Dir, fmt.Sprintf("%016x", c.GetId()))
		w, err := r.cfg.Engine.NewSSTWriter(r.dir)
		if err != nil {
			r.nack(ctx, c, err.Error())
			return
		}
		r.w = w
	}
	if r.w == nil || c.GetId() != r.id || c.GetSeq() != r.next {
		r.nack(ctx, c, fmt.Sprintf("chunk %d of transfer %x out of sequence", c.GetSeq(), c.GetId()))
		r.abort()
		return
	}
	for _, kv := range c.GetKvs() {
		if err := r.w.Add(kv.GetKey(), kv.GetValue()); err != nil {
			r.nack(ctx, c, err.Error())
			r.abort()
			return
		}
	}
	r.next++
	if c.GetLast() {
		if _, err := r.w.Finish(); err != nil {
			r.nack(ctx, c, err.Error())
			r.abort()
			return
		}
		// The directory now belongs to the raft actor (and then the apply
		// actor, which deletes it after installing it).
		ctx.Send(r.cfg.Raft, &cairnpb.ReceivedSnapshot{Message: c.GetMessage(), Dir: r.dir})
		r.cfg.Logger.Info("snapshot received", "index", c.GetMessage().GetSnapshot().GetMetadata().GetIndex(), "chunks", r.next)
		r.w, r.id, r.dir = nil, 0, ""
	}
	if ctx.Sender() != nil {
		ctx.Respond(&cairnpb.SnapshotAck{Id: c.GetId(), Seq: c.GetSeq(), Ok: true})
	}
}

func (r *receiver) nack(ctx actor.Context, c *cairnpb.SnapshotChunk, why string) {
	if ctx.Sender() != nil {
		ctx.Respond(&cairnpb.SnapshotAck{Id: c.GetId(), Seq: c.GetSeq(), Error: why})
	}
}

func (r *receiver) abort() {
	if r.w != nil {
		r.w.Abort()
	}
	r.w, r.id, r.dir = nil, 0, ""
}

func randomID() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return binary.BigEndian.Uint64(b[:]) | 1 // never zero
}
