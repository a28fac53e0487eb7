package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/actors/apply"
	"github.com/cairnkv/cairn/actors/readindex"
	"github.com/cairnkv/cairn/actors/transport"
	"github.com/cairnkv/cairn/raftactor"
)

// Names of the supervisor's children.
const (
	ApplyName     = "apply"
	RaftName      = "raft"
	ReadIndexName = "readindex"
	TransportName = "transport"
)

// Config of the node supervisor.
type Config struct {
	Apply     apply.Config
	Raft      raftactor.Config // Apply is filled in by the supervisor
	ReadIndex readindex.Config // Raft and Apply are filled in by the supervisor
	Transport transport.Config // Raft, RaftID and Apply are filled in by the supervisor
	// MaxRestarts within RestartWindow stop the member. Defaults 3 and 10s.
	MaxRestarts   int
	RestartWindow time.Duration
	// OnStop is called once when the supervisor has stopped, with nil for a
	// requested stop and an error when the member's actors failed.
	OnStop func(error)
	// Logger receives supervision events.
	Logger *slog.Logger
}

// ErrFailed reports that the member's actors failed more often than
// supervision allows.
var ErrFailed = errors.New("node: member actors failed repeatedly; see the log")

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
	st := &strategy{
		core:        []string{ApplyName, RaftName, ReadIndexName},
		maxRestarts: cfg.MaxRestarts,
		window:      cfg.RestartWindow,
		coreStats:   actor.NewRestartStatistics(),
		logger:      cfg.Logger,
	}
	return actor.PropsFromProducer(func() actor.Actor { return &supervisor{cfg: cfg} },
		actor.WithSupervisor(st))
}

// ChildPID returns the PID of the child named name of the supervisor at node.
func ChildPID(node *actor.PID, name string) *actor.PID {
	return actor.NewPID(node.Address, node.Id+"/"+name)
}

type supervisor struct {
	cfg      Config
	stopping bool
	failed   bool
}

func (s *supervisor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
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
		if !s.stopping && !s.failed {
			s.failed = true
			ctx.Stop(ctx.Self())
		}
	case *actor.Stopped:
		if s.cfg.OnStop != nil {
			var err error
			if s.failed {
				err = ErrFailed
			}
			s.cfg.OnStop(err)
		}
	}
}

func (s *supervisor) spawn(ctx actor.Context) error {
	applyProps, err := apply.Props(s.cfg.Apply)
	if err != nil {
		return err
	}
	applyPID, err := ctx.SpawnNamed(applyProps, ApplyName)
	if err != nil {
		return fmt.Errorf("node: spawn apply: %w", err)
	}

	// The raft actor and the transport each need the other's PID; names are
	// fixed, so the raft actor's PID is known before it exists.
	raftPID := ChildPID(ctx.Self(), RaftName)
	tc := s.cfg.Transport
	tc.Raft, tc.RaftID, tc.Apply = raftPID, raftPID.GetId(), applyPID
	transportProps, err := transport.Props(tc)
	if err != nil {
		return err
	}
	transportPID, err := ctx.SpawnNamed(transportProps, TransportName)
	if err != nil {
		return fmt.Errorf("node: spawn transport: %w", err)
	}

	rc := s.cfg.Raft
	rc.Apply = applyPID
	rc.Transport = transportPID
	raftProps, err := raftactor.Props(rc)
	if err != nil {
		return err
	}
	if _, err := ctx.SpawnNamed(raftProps, RaftName); err != nil {
		return fmt.Errorf("node: spawn raft: %w", err)
	}

	ric := s.cfg.ReadIndex
	ric.Raft, ric.Apply = raftPID, applyPID
	riProps, err := readindex.Props(ric)
	if err != nil {
		return err
	}
	if _, err := ctx.SpawnNamed(riProps, ReadIndexName); err != nil {
		return fmt.Errorf("node: spawn readindex: %w", err)
	}
	return nil
}
