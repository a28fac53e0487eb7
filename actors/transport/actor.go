package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"path"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/snapshot"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Config of the transport.
type Config struct {
	MemberID  uint64
	ClusterID uint64
	// RaftID is the actor id of the raft actor on every member.
	RaftID string
	// Raft is the local raft actor, told of unreachable members.
	Raft *actor.PID
	// Apply is the local apply actor, which reports membership changes.
	Apply *actor.PID
	// Addresses returns the address of every member, as the state machine
	// and the initial cluster know them. It is called when the transport
	// starts and after every membership change.
	Addresses func() (map[uint64]string, error)
	// Members returns the cluster's members, for JoinRequest.
	Members func() ([]*cairnpb.Member, error)
	// Removed returns the record of a member the cluster removed, or nil.
	Removed func(id uint64) (*cairnpb.Removed, error)
	// Snapshot is the template of snapshot senders (Receiver, Raft,
	// ClusterID and Message are set per transfer); SnapshotID is the actor
	// id of the snapshot receiver on every member.
	Snapshot   snapshot.SenderConfig
	SnapshotID string
	Logger     *slog.Logger
	// OnSend, if not nil, is told the size of every RaftBatch sent to
	// another member (etcd_network_peer_sent_bytes_total).
	OnSend func(to uint64, bytes int)
}

// Props returns the props of a transport.
func Props(cfg Config) (*actor.Props, error) {
	if cfg.Raft == nil || cfg.Addresses == nil || cfg.RaftID == "" {
		return nil, errors.New("transport: Raft, RaftID and Addresses are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor { return &transportActor{cfg: cfg} }), nil
}

type transportActor struct {
	cfg   Config
	addrs map[uint64]string
	sub   *eventstream.Subscription
}

func (t *transportActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		t.refresh()
		if t.cfg.Apply != nil {
			ctx.Request(t.cfg.Apply, &cairnpb.SubscribeMembership{})
		}
		self, system := ctx.Self(), ctx.ActorSystem()
		t.sub = system.EventStream.Subscribe(func(evt any) {
			switch e := evt.(type) {
			case *remote.EndpointTerminatedEvent:
				system.Root.Send(self, &cairnpb.EndpointDown{Address: e.Address})
			case *remote.EndpointConnectedEvent:
				system.Root.Send(self, &cairnpb.EndpointUp{Address: e.Address})
			}
		})
	case *actor.Stopping, *actor.Restarting:
		if t.sub != nil {
			ctx.ActorSystem().EventStream.Unsubscribe(t.sub)
			t.sub = nil
		}
	case *cairnpb.RaftBatch:
		t.send(ctx, m)
	case *cairnpb.SendSnapshot:
		t.sendSnapshot(ctx, m)
	case *cairnpb.MembershipChanged:
		t.refresh()
	case *cairnpb.JoinRequest:
		t.join(ctx)
	case *cairnpb.NotMember:
		t.tellRemoved(ctx, m.GetId())
	case *cairnpb.EndpointDown:
		for id, addr := range t.addrs {
			if addr == m.GetAddress() && id != t.cfg.MemberID {
				ctx.Send(t.cfg.Raft, &cairnpb.PeerUnreachable{Id: id})
			}
		}
	case *cairnpb.EndpointUp:
		for id, addr := range t.addrs {
			if addr == m.GetAddress() && id != t.cfg.MemberID {
				ctx.Send(t.cfg.Raft, &cairnpb.PeerReachable{Id: id})
			}
		}
	}
}

func (t *transportActor) send(ctx actor.Context, b *cairnpb.RaftBatch) {
	addr, ok := t.addrs[b.GetTo()]
	if !ok {
		t.refresh()
		if addr, ok = t.addrs[b.GetTo()]; !ok {
			t.cfg.Logger.Debug("no address for member", "member", b.GetTo())
			ctx.Send(t.cfg.Raft, &cairnpb.PeerUnreachable{Id: b.GetTo()})
			return
		}
	}
	b.ClusterId = t.cfg.ClusterID
	b.From = t.cfg.MemberID
	if t.cfg.OnSend != nil {
		t.cfg.OnSend(b.GetTo(), proto.Size(b))
	}
	// A batch with large entries goes as a splicedBatch, which PeerCodec
	// encodes without a copy of them for each follower (splice.go).
	ctx.Send(actor.NewPID(addr, t.cfg.RaftID), splice(b))
}

// join tells a new member the cluster's ID and members.
func (t *transportActor) join(ctx actor.Context) {
	if ctx.Sender() == nil || t.cfg.Members == nil {
		return
	}
	ms, err := t.cfg.Members()
	if err != nil {
		t.cfg.Logger.Warn("cannot list members for a joining member", "error", err)
		return
	}
	ctx.Respond(&cairnpb.JoinInfo{ClusterId: t.cfg.ClusterID, Members: ms})
}

// sendSnapshot starts a sender for a MsgSnap; the sender reports to the raft
// actor how it ends.
func (t *transportActor) sendSnapshot(ctx actor.Context, m *cairnpb.SendSnapshot) {
	to := m.GetMessage().GetTo()
	fail := func(err error) {
		t.cfg.Logger.Warn("cannot send snapshot", "to", fmt.Sprintf("%x", to), "error", err)
		ctx.Send(t.cfg.Raft, &cairnpb.SnapshotStatus{To: to})
	}
	addr, ok := t.addrs[to]
	if !ok || t.cfg.SnapshotID == "" {
		fail(errors.New("no address or no snapshot receiver"))
		return
	}
	sc := t.cfg.Snapshot
	sc.Receiver = actor.NewPID(addr, t.cfg.SnapshotID)
	sc.Raft = t.cfg.Raft
	sc.ClusterID = t.cfg.ClusterID
	sc.Message = m.GetMessage()
	props, err := snapshot.SenderProps(sc)
	if err != nil {
		fail(err)
		return
	}
	ctx.Spawn(props)
}

// tellRemoved tells a member that sent raft messages though it is not in
// raft's configuration that the cluster removed it, if it did (a member may
// not learn of its own removal: the leader stops replicating to it).
func (t *transportActor) tellRemoved(ctx actor.Context, id uint64) {
	if t.cfg.Removed == nil {
		return
	}
	rec, err := t.cfg.Removed(id)
	if err != nil || rec == nil || len(rec.GetPeerUrls()) == 0 {
		return
	}
	addr, err := PeerAddress(rec.GetPeerUrls()[0])
	if err != nil {
		return
	}
	supervisor := path.Dir(t.cfg.RaftID) // the raft actor is a child of the member's supervisor
	ctx.Send(actor.NewPID(addr, supervisor), &cairnpb.YouAreRemoved{ClusterId: t.cfg.ClusterID})
}

func (t *transportActor) refresh() {
	addrs, err := t.cfg.Addresses()
	if err != nil {
		t.cfg.Logger.Warn("cannot read member addresses", "error", err)
		return
	}
	t.addrs = addrs
}
