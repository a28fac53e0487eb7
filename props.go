package cairn

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Props returns the props of an actor that runs a member as a child of the
// application's actor that spawns it:
//
//	pid := ctx.Spawn(cairn.Props(cfg, func(n *cairn.Node, err error) { ... }))
//
// Once spawned, the actor opens the member's data and starts its supervisor
// (named Config.ActorName) as its own child, then calls started, from its
// own goroutine, with the member's handle, or with the error that kept the
// member from starting (a Config.Validate error, a data directory that
// does not open), after which it stops itself. started must not block; it
// may hand the Node to the application's actor in a message. The handle
// works as Start's: Client, Serve, Ready, Done, Stop.
//
// Stopping the actor, or its parent (a restart of the parent stops its
// children too), stops the member cleanly: the in-process clients are
// closed and the gRPC server stops serving, then the member's actors
// stop, then its storage is flushed and closed; the actor reports itself
// terminated (to its parent and watchers) only after that. If the
// member's actors stop by themselves (Node.Err: they failed repeatedly, or
// the cluster removed the member), the actor stops too.
//
// Members of one cluster address each other's actors by their path in the
// actor system: every member of a cluster must run at the same path (the
// same parents, spawned with the same names). A member that joins an
// existing cluster (ClusterStateExisting) asks the others for the
// cluster's identity at Config.ActorName at the top of their actor
// systems: use Start for them.
func Props(cfg Config, started func(*Node, error)) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &host{cfg: cfg, started: started}
	})
}

// host runs one member as its child (Props).
type host struct {
	cfg     Config
	started func(*Node, error)
	n       *Node
}

func (h *host) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		if h.n != nil { // restarted: the member's actors are stopped
			ctx.Stop(ctx.Self())
			return
		}
		n, err := open(ctx.ActorSystem(), ctx, h.cfg)
		if err != nil {
			h.started(nil, err)
			ctx.Stop(ctx.Self())
			return
		}
		n.host = ctx.Self()
		h.n = n
		self, root := ctx.Self(), ctx.ActorSystem().Root
		go func() {
			// The member's actors stopped by themselves: so does the host.
			<-n.done
			root.Stop(self)
		}()
		h.started(n, nil)
	case *actor.Stopping:
		if h.n != nil {
			h.n.stopServing()
		}
	case *actor.Stopped:
		// The children, the member's supervisor among them, have stopped.
		if h.n != nil {
			<-h.n.done
			h.n.closeStorage()
		}
	}
}
