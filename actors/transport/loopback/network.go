package loopback

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/alias"
)

// Network is a set of connected actor systems. The zero value is not usable;
// call New.
type Network struct {
	mu          sync.RWMutex
	systems     map[string]*actor.ActorSystem
	partitioned map[string]bool
}

// New returns an empty network.
func New() *Network {
	return &Network{systems: map[string]*actor.ActorSystem{}, partitioned: map[string]bool{}}
}

// Join gives system the address and connects it to the network. It must be
// called before the system spawns anything.
func (n *Network) Join(system *actor.ActorSystem, address string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.systems[address]; ok {
		panic(fmt.Sprintf("loopback: address %s joined twice", address))
	}
	system.ProcessRegistry.Address = address
	n.systems[address] = system
	system.ProcessRegistry.RegisterAddressResolver(func(pid *actor.PID) (actor.Process, bool) {
		return &link{net: n, from: address}, true
	})
}

// Leave disconnects the system at address (it stopped): messages to it are
// dropped and its peers see it terminated.
func (n *Network) Leave(address string) {
	n.mu.Lock()
	delete(n.systems, address)
	others := n.others(address)
	n.mu.Unlock()
	for _, s := range others {
		s.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: address})
	}
}

// Partition cuts every link to and from address until Heal.
func (n *Network) Partition(address string) {
	n.mu.Lock()
	n.partitioned[address] = true
	self := n.systems[address]
	others := n.others(address)
	n.mu.Unlock()
	for addr, s := range others {
		s.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: address})
		if self != nil {
			self.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: addr})
		}
	}
}

// Heal restores the links of a partitioned address; its peers see the
// endpoint connected again.
func (n *Network) Heal(address string) {
	n.mu.Lock()
	delete(n.partitioned, address)
	self := n.systems[address]
	others := n.others(address)
	n.mu.Unlock()
	for addr, s := range others {
		s.EventStream.Publish(&remote.EndpointConnectedEvent{Address: address})
		if self != nil {
			self.EventStream.Publish(&remote.EndpointConnectedEvent{Address: addr})
		}
	}
}

func (n *Network) others(address string) map[string]*actor.ActorSystem {
	out := map[string]*actor.ActorSystem{}
	for a, s := range n.systems {
		if a != address {
			out[a] = s
		}
	}
	return out
}

// deliver hands a copy of message to the local process pid of the system at
// pid's address.
func (n *Network) deliver(from string, pid *actor.PID, message any) {
	n.mu.RLock()
	target, ok := n.systems[pid.GetAddress()]
	cut := n.partitioned[from] || n.partitioned[pid.GetAddress()]
	n.mu.RUnlock()
	if !ok || cut {
		return
	}
	header, msg, sender := actor.UnwrapEnvelope(message)
	pm, ok := msg.(proto.Message)
	if !ok {
		// Remoting cannot carry it either.
		return
	}
	// Marshal and unmarshal, as remoting does, so that no memory is shared
	// between members. A message that remoting's codec encodes in pieces
	// (actors/transport's spliced raft batches) is encoded the same way.
	var data []byte
	if s, ok := pm.(interface{ Unspliced() proto.Message }); ok {
		pm = s.Unspliced()
		parts, _, err := alias.MarshalParts(pm, spliceFrom)
		if err != nil {
			return
		}
		data = bytes.Join(parts, nil)
	} else {
		var err error
		if data, err = proto.Marshal(pm); err != nil {
			return
		}
	}
	clone := pm.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(data, clone); err != nil {
		return
	}
	proc, ok := target.ProcessRegistry.GetLocal(pid.GetId())
	if !ok {
		return
	}
	// Fresh PIDs, as remoting would decode them: a PID caches the process
	// it resolves to in the system that resolves it, so one PID shared by
	// two systems would send one system's messages to the other's process.
	if sender != nil {
		sender = actor.NewPID(sender.GetAddress(), sender.GetId())
	}
	env := &actor.MessageEnvelope{Message: clone, Sender: sender}
	pid = actor.NewPID(pid.GetAddress(), pid.GetId())
	if header != nil {
		env.Header = header.ToMap()
	}
	proc.SendUserMessage(pid, env)
}

// spliceFrom is the smallest bytes field MarshalParts hands on (any size
// will do: the pieces are joined).
const spliceFrom = 32 << 10

// link is the process through which a system reaches a PID of another.
type link struct {
	net  *Network
	from string
}

func (l *link) SendUserMessage(pid *actor.PID, message any) { l.net.deliver(l.from, pid, message) }

// SendSystemMessage drops system messages (watch, stop): remote lifecycle is
// not modelled.
func (l *link) SendSystemMessage(*actor.PID, any) {}

func (l *link) Stop(*actor.PID) {}
