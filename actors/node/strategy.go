package node

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// strategy supervises the member's children in two classes:
//
//   - the core (raft, apply, readindex), which hold state about each other:
//     a failure of any restarts all three from disk, and more than
//     maxRestarts core failures within window stop the core (and so the
//     member);
//   - satellites (every other child: transport, watch hub, lessor, ...),
//     whose state is their own: a failure restarts that child alone, and more
//     than maxRestarts of its failures within window stop it (which stops the
//     member too, see supervisor).
//
// Every failure is logged with its reason.
type strategy struct {
	core        []string // child names
	maxRestarts int
	window      time.Duration
	coreStats   *actor.RestartStatistics
	logger      *slog.Logger
}

var _ actor.SupervisorStrategy = (*strategy)(nil)

func (s *strategy) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	rs *actor.RestartStatistics, reason any, _ any) {
	if s.isCore(child) {
		s.coreStats.Fail()
		core := s.coreChildren(sup)
		if s.coreStats.NumberOfFailures(s.window) > s.maxRestarts {
			s.logger.Error("member actor failed too often; stopping the member", "actor", child.GetId(), "reason", fmt.Sprint(reason))
			sup.StopChildren(core...)
			return
		}
		s.logger.Error("member actor failed; restarting raft, apply and readindex from disk", "actor", child.GetId(), "reason", fmt.Sprint(reason))
		sup.RestartChildren(core...)
		return
	}
	rs.Fail()
	if rs.NumberOfFailures(s.window) > s.maxRestarts {
		s.logger.Error("member actor failed too often; stopping it", "actor", child.GetId(), "reason", fmt.Sprint(reason))
		sup.StopChildren(child)
		return
	}
	s.logger.Error("member actor failed; restarting it", "actor", child.GetId(), "reason", fmt.Sprint(reason))
	sup.RestartChildren(child)
}

func (s *strategy) isCore(pid *actor.PID) bool {
	return slices.Contains(s.core, childName(pid))
}

func (s *strategy) coreChildren(sup actor.Supervisor) []*actor.PID {
	var out []*actor.PID
	for _, c := range sup.Children() {
		if s.isCore(c) {
			out = append(out, c)
		}
	}
	return out
}

// childName returns the last element of a child's id ("cairn/raft" → "raft").
func childName(pid *actor.PID) string {
	id := pid.GetId()
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '/' {
			return id[i+1:]
		}
	}
	return id
}
