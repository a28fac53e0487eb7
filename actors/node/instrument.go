package node

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// instrumented returns p with the options instrument gives for role, and a
// spawn middleware that instruments every child the actor spawns in turn
// (the apply actor's compactor, the transport's snapshot senders, the watch
// hub's streams), with role "<role>/<name>", or "<role>/$" for a child
// spawned without a name (tracing.ActorRole resolves it). Each spawn gets
// its own clone of the props: the options hold per-actor state.
//
// With instrument nil, or giving no options, p is returned as it is, so an
// uninstrumented member pays nothing.
func instrumented(p *actor.Props, role string, instrument func(string) []actor.PropsOption) *actor.Props {
	if instrument == nil {
		return p
	}
	opts := instrument(role)
	if len(opts) == 0 {
		return p
	}
	opts = append(opts, actor.WithSpawnMiddleware(func(next actor.SpawnFunc) actor.SpawnFunc {
		return func(system *actor.ActorSystem, id string, child *actor.Props, parent actor.SpawnerContext) (*actor.PID, error) {
			return next(system, id, instrumented(child, childRole(role, id), instrument), parent)
		}
	}))
	return p.Clone(opts...)
}

// childRole is the role of the child with actor id id of an actor of role
// parent.
func childRole(parent, id string) string {
	name := id[strings.LastIndexByte(id, '/')+1:]
	if strings.HasPrefix(name, "$") {
		name = "$"
	}
	return parent + "/" + name
}
