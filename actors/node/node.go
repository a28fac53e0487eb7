package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/actors/apply"
	"github.com/cairnkv/cairn/actors/lessor"
	"github.com/cairnkv/cairn/actors/logcompactor"
	"github.com/cairnkv/cairn/actors/readindex"
	"github.com/cairnkv/cairn/actors/snapshot"
	"github.com/cairnkv/cairn/actors/transport"
	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/raftactor"
)

// Names of the supervisor's children.
const (
	ApplyName        = "apply"
	RaftName         = "raft"
	ReadIndexName    = "readindex"
	TransportName    = "transport"
	SnapshotName     = "snapshot"
	LogCompactorName = "logcompactor"
	WatchName        = "watch"
	LessorName       = "lessor"
)

// Config of the node supervisor.
//
// Fields naming another child's PID are filled in by the supervisor.
type Config struct {
	Apply        apply.Config            // WatchHub, Lessor
	Raft         raftactor.Config        // Apply, Transport
	ReadIndex    readindex.Config        // Raft, Apply
	Transport    transport.Config        // Raft, RaftID, Apply, SnapshotID
	Snapshot     snapshot.ReceiverConfig // Raft
	LogCompactor logcompactor.Config     // Raft
	Watch        watch.Config            // Apply
	Lessor       lessor.Config           // Raft
	// MaxRestarts within RestartWindow stop the member. Defaults 3 and 10s.
	MaxRestarts   int
	RestartWindow time.Duration
	// OnStop is called once when the supervisor has stopped, with nil for a
	// requested stop and an error when the member's actors failed.
	OnStop func(error)
	// Logger receives supervision events.
	Logger *slog.Logger
	// Instrument, if not nil, returns the props options that instrument
	// one actor of the given role (tracing, metrics): every child, and
	// through a spawn middleware every child of a child, is spawned with
	// them (instrument.go). nil options leave the actor as it is.
	Instrument func(role string) []actor.PropsOption
}

// ErrFailed reports that the member's actors failed more often than
// supervision allows.
var ErrFailed = errors.New("node: member actors failed repeatedly; see the log")

// ErrRemoved reports that the member stopped because the cluster removed it.
var ErrRemoved = errors.New("node: the member has been permanently removed from the cluster")

// Props returns the props of a node supervisor.
func Props(cfg Config) *actor.Props {
	if cfg.MaxRestarts == 0 {
		cfg.MaxRestarts = 3
	}
	if cfg.RestartWindow == 0 {
		cfg.RestartWindow = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := newDispatcher(300) // protoactor's default throughput
	st := &strategy{
		core:        []string{ApplyName, RaftName, ReadIndexName},
		maxRestarts: cfg.MaxRestarts,
		window:      cfg.RestartWindow,
		coreStats:   actor.NewRestartStatistics(),
		logger:      cfg.Logger,
	}
	return actor.PropsFromProducer(func() actor.Actor { return &supervisor{cfg: cfg, dispatcher: d} },
		actor.WithSupervisor(st))
}

// ChildPID returns the PID of the child named name of the supervisor at node.
func ChildPID(node *actor.PID, name string) *actor.PID {
	return actor.NewPID(node.Address, node.Id+"/"+name)
}

type supervisor struct {
	// dispatcher runs the children's mailboxes (dispatcher.go).
	dispatcher *dispatcher
	removed    bool
	cfg        Config
	stopping   bool
	failed     bool
}

func (s *supervisor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cairnpb.YouAreRemoved:
		// From this member's apply actor, or from a member that saw this
		// one's messages after removing it.
		if m.GetClusterId() == s.cfg.Transport.ClusterID && !s.stopping && !s.removed {
			s.removed = true
			ctx.Logger().Warn("removed from the cluster; stopping the member")
			ctx.Stop(ctx.Self())
		}
	case *actor.Started:
		if err := s.spawn(ctx); err != nil {
			// Configuration errors: nothing to restart.
			ctx.Logger().Error("cannot start member", "error", err)
			s.failed = true
			ctx.Stop(ctx.Self())
		}
	case *actor.Stopping:
		s.stopping = true
	case *actor.Terminated:
		// A child stopped while the supervisor was not stopping: supervision
		// gave up on it.
		if !s.stopping && !s.failed && !s.removed {
			s.failed = true
			ctx.Stop(ctx.Self())
		}
	case *actor.Stopped:
		if s.cfg.OnStop != nil {
			var err error
			switch {
			case s.removed:
				err = ErrRemoved
			case s.failed:
				err = ErrFailed
			}
			s.cfg.OnStop(err)
		}
	}
}

func (s *supervisor) spawn(ctx actor.Context) error {
	// Children need each other's PIDs, in cycles (raft and transport, apply
	// and the watch hub); names are fixed, so every PID is known before its
	// actor exists, and messages sent to it meanwhile wait in its mailbox.
	self := ctx.Self()
	applyPID, raftPID := ChildPID(self, ApplyName), ChildPID(self, RaftName)

	wc := s.cfg.Watch
	wc.Apply = applyPID
	if err := s.spawnChild(ctx, WatchName, func() (*actor.Props, error) { return watch.Props(wc) }); err != nil {
		return err
	}
	ac := s.cfg.Apply
	ac.WatchHub, ac.Lessor = ChildPID(self, WatchName), ChildPID(self, LessorName)
	// The hub's budget and counters are the watch service's.
	ac.WatchHubBytes, ac.WatchStats = wc.HubBytes, wc.Stats
	if err := s.spawnChild(ctx, ApplyName, func() (*actor.Props, error) { return apply.Props(ac) }); err != nil {
		return err
	}
	sc := s.cfg.Snapshot
	sc.Raft = raftPID
	if err := s.spawnChild(ctx, SnapshotName, func() (*actor.Props, error) { return snapshot.ReceiverProps(sc) }); err != nil {
		return err
	}
	tc := s.cfg.Transport
	tc.Raft, tc.RaftID, tc.Apply = raftPID, raftPID.GetId(), applyPID
	tc.SnapshotID = ChildPID(self, SnapshotName).GetId()
	if err := s.spawnChild(ctx, TransportName, func() (*actor.Props, error) { return transport.Props(tc) }); err != nil {
		return err
	}
	rc := s.cfg.Raft
	rc.Apply, rc.Transport = applyPID, ChildPID(self, TransportName)
	if err := s.spawnChild(ctx, RaftName, func() (*actor.Props, error) { return raftactor.Props(rc) }); err != nil {
		return err
	}
	lcc := s.cfg.LogCompactor
	lcc.Raft, lcc.Apply = raftPID, applyPID
	if err := s.spawnChild(ctx, LogCompactorName, func() (*actor.Props, error) { return logcompactor.Props(lcc) }); err != nil {
		return err
	}
	ric := s.cfg.ReadIndex
	ric.Raft, ric.Apply = raftPID, applyPID
	if ric.MemberID == 0 {
		ric.MemberID = tc.MemberID
	}
	if ric.Peer == nil && tc.Addresses != nil {
		// Every member's read-index actor has the same id, as its raft
		// actor does (Transport.RaftID).
		id, addresses := ChildPID(self, ReadIndexName).GetId(), tc.Addresses
		ric.Peer = func(member uint64) *actor.PID {
			addrs, err := addresses()
			if err != nil || addrs[member] == "" {
				return nil
			}
			return actor.NewPID(addrs[member], id)
		}
	}
	if err := s.spawnChild(ctx, ReadIndexName, func() (*actor.Props, error) { return readindex.Props(ric) }); err != nil {
		return err
	}
	lc := s.cfg.Lessor
	lc.Raft = raftPID
	return s.spawnChild(ctx, LessorName, func() (*actor.Props, error) { return lessor.Props(lc) })
}

// spawnChild spawns the child name with the props props returns,
// instrumented (see Config.Instrument).
func (s *supervisor) spawnChild(ctx actor.Context, name string, props func() (*actor.Props, error)) error {
	p, err := props()
	if err != nil {
		return err
	}
	p = instrumented(p, name, s.cfg.Instrument)
	// Outermost: a panic anywhere in the middleware chain is logged too.
	p = p.Clone(actor.WithReceiverMiddleware(logPanics(s.cfg.Logger, name)), actor.WithDispatcher(s.dispatcher))
	if _, err := ctx.SpawnNamed(p, name); err != nil {
		return fmt.Errorf("node: spawn %s: %w", name, err)
	}
	return nil
}
