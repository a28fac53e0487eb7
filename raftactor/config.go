package raftactor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/cairnkv/cairn/storage/raftlog"
	"github.com/cairnkv/cairn/tracing"
)

// Config of the raft actor. Zero values take the defaults of DefaultConfig.
type Config struct {
	// ID is this member's raft ID. Required.
	ID uint64
	// ClusterID is the cluster's ID; messages from other clusters are
	// dropped.
	ClusterID uint64
	// Incarnation is this run's (cairnpb.Origin): refusals of forwarded
	// proposals of an earlier run are not handed to this run's waiters.
	Incarnation uint64
	// Log is the raft log. Required. The actor is its only writer.
	Log *raftlog.Log
	// Recover returns the state machine's applied index and the conf state
	// as of that index. Required. It is called every time the actor starts,
	// so that a restarted actor resumes from what was applied, not from what
	// was applied when the member started.
	Recover func() (applied uint64, cs *raftpb.ConfState, err error)
	// Peers bootstraps a new cluster when the log is empty; ignored otherwise.
	Peers []raft.Peer

	// Apply receives MsgStorageApply messages. Required.
	Apply *actor.PID
	// Transport receives messages for other members; nil drops them (a
	// single-member cluster sends none).
	Transport *actor.PID

	// Board receives the actor's status. Required.
	Board *Board

	// TickInterval is the length of one raft tick. Default 100ms.
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks. Default 10.
	ElectionTicks int
	// HeartbeatTicks is the heartbeat interval in ticks. Default 1.
	HeartbeatTicks int

	// MaxSizePerMsg bounds the entries of one append message. Default 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds append messages in flight per follower. Default 256.
	MaxInflightMsgs int
	// MaxInflightBytes bounds bytes of appends in flight per follower. A
	// follower holds up to this much of received entries, and appends them
	// in one pebble batch. Default 8 MiB: at most half of pebble's default
	// memtable, so that the batch goes into the memtable (off the Go heap)
	// rather than staying on the heap until flushed, as pebble keeps a
	// batch of more than half a memtable.
	MaxInflightBytes uint64
	// MaxUncommittedEntriesSize bounds the leader's uncommitted entries;
	// proposals beyond it are refused. Default 64 MiB.
	MaxUncommittedEntriesSize uint64
	// MaxCommittedSizePerReady bounds committed bytes handed to the apply
	// actor and not yet applied; apply writes them in one pebble batch.
	// Default 4 MiB, below half of pebble's default memtable for the same
	// reason as MaxInflightBytes.
	MaxCommittedSizePerReady uint64

	// Logger; nil means slog.Default().
	Logger *slog.Logger

	// OnSync, if not nil, is told how long each synced append to the log
	// took (etcd_disk_wal_fsync_duration_seconds).
	OnSync func(time.Duration)
	// OnReceive, if not nil, is told the size of every RaftBatch received
	// from another member (etcd_network_peer_received_bytes_total).
	OnReceive func(from uint64, bytes int)
	// OnDrop, if not nil, is told of every RaftBatch dropped unstepped:
	// reason "misaddressed" (another cluster's, or for another member)
	// or "removed" (from a member the cluster removed), and of every
	// refusal of a forwarded proposal not for this run ("stale-refusal").
	OnDrop func(reason string)
	// OnSnapshotStep, if not nil, is called at each step of installing a
	// received snapshot, with the snapshot's index, before the actor takes
	// the next one: crash tests take their crash there.
	OnSnapshotStep func(step SnapshotStep, index uint64)
	// RemoveSnapshotDir removes the directory of a received snapshot that
	// a newer one made useless, in the filesystem the receiver wrote it
	// to (storage.Engine.RemoveSnapshotDir). Nil: os.RemoveAll.
	RemoveSnapshotDir func(dir string) error
	// Tracer, if on, makes the handling of a Ready part of the trace of a
	// traced message stepped since the last Ready (see Receive), even when
	// the RaftReady that triggers it is not traced.
	Tracer *tracing.Tracer
}

// SnapshotStep names a step of a snapshot's installation (see the package
// documentation), for Config.OnSnapshotStep.
type SnapshotStep int

const (
	// SnapshotBegun: the raft log recorded that the snapshot is about to
	// be installed; the state machine is still the old one.
	SnapshotBegun SnapshotStep = iota + 1
	// SnapshotIngested: the state machine is the snapshot's; the raft log
	// has not recorded it yet.
	SnapshotIngested
)

// DefaultConfig returns the defaults applied to zero fields.
func DefaultConfig() Config {
	return Config{
		TickInterval:              100 * time.Millisecond,
		ElectionTicks:             10,
		HeartbeatTicks:            1,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		MaxInflightBytes:          8 << 20,
		MaxUncommittedEntriesSize: 64 << 20,
		MaxCommittedSizePerReady:  4 << 20,
	}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.TickInterval == 0 {
		c.TickInterval = d.TickInterval
	}
	if c.RemoveSnapshotDir == nil {
		c.RemoveSnapshotDir = os.RemoveAll
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = d.ElectionTicks
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = d.HeartbeatTicks
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = d.MaxSizePerMsg
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = d.MaxInflightMsgs
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = d.MaxInflightBytes
	}
	if c.MaxUncommittedEntriesSize == 0 {
		c.MaxUncommittedEntriesSize = d.MaxUncommittedEntriesSize
	}
	if c.MaxCommittedSizePerReady == 0 {
		c.MaxCommittedSizePerReady = d.MaxCommittedSizePerReady
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate names the first field that is missing or out of range.
func (c Config) Validate() error {
	switch {
	case c.ID == 0:
		return errors.New("raftactor: ID must not be zero")
	case c.Log == nil:
		return errors.New("raftactor: Log is required")
	case c.Recover == nil:
		return errors.New("raftactor: Recover is required")
	case c.Apply == nil:
		return errors.New("raftactor: Apply is required")
	case c.Board == nil:
		return errors.New("raftactor: Board is required")
	case c.TickInterval <= 0:
		return errors.New("raftactor: tick interval must be positive")
	case c.HeartbeatTicks <= 0:
		return errors.New("raftactor: heartbeat ticks must be positive")
	case c.ElectionTicks <= c.HeartbeatTicks:
		return fmt.Errorf("raftactor: election ticks (%d) must exceed heartbeat ticks (%d)",
			c.ElectionTicks, c.HeartbeatTicks)
	case c.MaxInflightBytes < c.MaxSizePerMsg:
		return fmt.Errorf("raftactor: max inflight bytes (%d) must be at least max size per msg (%d)",
			c.MaxInflightBytes, c.MaxSizePerMsg)
	}
	return nil
}

// ElectionTimeout is the election timeout as a duration.
func (c Config) ElectionTimeout() time.Duration {
	return time.Duration(c.ElectionTicks) * c.TickInterval
}

func (c Config) raftConfig(applied uint64) *raft.Config {
	return &raft.Config{
		ID:                        c.ID,
		ElectionTick:              c.ElectionTicks,
		HeartbeatTick:             c.HeartbeatTicks,
		Storage:                   c.Log,
		Applied:                   applied,
		AsyncStorageWrites:        true,
		MaxSizePerMsg:             c.MaxSizePerMsg,
		MaxCommittedSizePerReady:  c.MaxCommittedSizePerReady,
		MaxUncommittedEntriesSize: c.MaxUncommittedEntriesSize,
		MaxInflightMsgs:           c.MaxInflightMsgs,
		MaxInflightBytes:          c.MaxInflightBytes,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		StepDownOnRemoval:         true,
		Logger:                    newLogger(c.Logger.With("component", "raft")),
	}
}
