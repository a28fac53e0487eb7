package cairn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/apply"
	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/actors/reply"
	"github.com/cairnkv/cairn/actors/transport"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
	"github.com/cairnkv/cairn/storage/raftlog"
)

// identity returns the member's recorded identity, deciding and recording it
// on first start: for a new cluster from the initial cluster, as etcd
// computes IDs; for an existing cluster from what its members say.
func identity(system *actor.ActorSystem, engine *storage.Engine, cfg Config) (*cairnpb.Identity, map[uint64]string, error) {
	id, ok, err := engine.LoadIdentity()
	if err != nil {
		return nil, nil, err
	}
	if ok {
		return id, nil, nil
	}
	var seed map[uint64]string
	if cfg.InitialClusterState == ClusterStateExisting {
		id, seed, err = joinExisting(system, cfg)
	} else {
		id, seed, err = newCluster(cfg)
	}
	if err != nil {
		return nil, nil, err
	}
	return id, seed, engine.SaveIdentity(id)
}

// newCluster computes the identity of a member of a new cluster, and the
// addresses of the initial members.
func newCluster(cfg Config) (*cairnpb.Identity, map[uint64]string, error) {
	seed := map[uint64]string{}
	var ids []uint64
	for _, m := range cfg.InitialCluster {
		id := memberID(m.PeerURLs, cfg.InitialClusterToken)
		if _, dup := seed[id]; dup {
			return nil, nil, fmt.Errorf("cairn: initial cluster lists the peer URLs of %q twice", m.Name)
		}
		addr, err := transport.PeerAddress(m.PeerURLs[0])
		if err != nil {
			return nil, nil, err
		}
		seed[id] = addr
		ids = append(ids, id)
	}
	self := memberID(cfg.AdvertisePeerURLs, cfg.InitialClusterToken)
	return &cairnpb.Identity{Name: cfg.Name, MemberId: self, ClusterId: clusterID(ids)}, seed, nil
}

// joinExisting asks the members of the initial cluster, in turn, for the
// cluster's ID and members, and finds this member among them by its peer
// URLs (it must have been added with MemberAdd).
func joinExisting(system *actor.ActorSystem, cfg Config) (*cairnpb.Identity, map[uint64]string, error) {
	var errs []error
	for _, m := range cfg.InitialCluster {
		if m.Name == cfg.Name {
			continue
		}
		addr, err := transport.PeerAddress(m.PeerURLs[0])
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pid := actor.NewPID(addr, cfg.ActorName+"/"+node.TransportName)
		ans, err := reply.Ask(ctx, system.Root, pid, &cairnpb.JoinRequest{})
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s at %s: %w", m.Name, addr, err))
			continue
		}
		info, ok := ans.(*cairnpb.JoinInfo)
		if !ok {
			errs = append(errs, fmt.Errorf("%s at %s: unexpected answer %T", m.Name, addr, ans))
			continue
		}
		seed := map[uint64]string{}
		var self uint64
		for _, mm := range info.GetMembers() {
			if len(mm.GetPeerUrls()) > 0 {
				if a, err := transport.PeerAddress(mm.GetPeerUrls()[0]); err == nil {
					seed[mm.GetId()] = a
				}
			}
			if sameURLs(mm.GetPeerUrls(), cfg.AdvertisePeerURLs) {
				self = mm.GetId()
			}
		}
		if self == 0 {
			return nil, nil, fmt.Errorf("cairn: the cluster has no member with peer URLs %v; add it first (etcdctl member add)", cfg.AdvertisePeerURLs)
		}
		return &cairnpb.Identity{Name: cfg.Name, MemberId: self, ClusterId: info.GetClusterId()}, seed, nil
	}
	return nil, nil, fmt.Errorf("cairn: no member of the initial cluster answered: %w", errors.Join(errs...))
}

// bootstrapPeers returns the members to bootstrap raft with: every initial
// member of a new cluster, when the log is empty.
func bootstrapPeers(cfg Config, log *raftlog.Log) ([]raft.Peer, error) {
	if last, err := log.LastIndex(); err != nil || last > 0 {
		return nil, err
	}
	if cfg.InitialClusterState == ClusterStateExisting {
		return nil, nil
	}
	// Every member must bootstrap with the same entries: no member adds what
	// only it knows (its client URLs); it publishes that once it runs.
	var peers []raft.Peer
	for _, m := range cfg.InitialCluster {
		mid := memberID(m.PeerURLs, cfg.InitialClusterToken)
		member := &cairnpb.Member{Id: mid, Name: m.Name, PeerUrls: m.PeerURLs}
		ctx, err := proto.Marshal(&cairnpb.ConfChangeContext{Member: member})
		if err != nil {
			return nil, err
		}
		peers = append(peers, raft.Peer{ID: mid, Context: ctx})
	}
	return peers, nil
}

// addresses returns the actor system address of every member the state
// machine records, and of the seed members it does not record yet.
func addresses(store *mvcc.Store, seed map[uint64]string) (map[uint64]string, error) {
	out := map[uint64]string{}
	for id, addr := range seed {
		out[id] = addr
	}
	v := store.Read()
	defer v.Close()
	ms, err := apply.Members(v)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if len(m.GetPeerUrls()) == 0 {
			continue
		}
		if addr, err := transport.PeerAddress(m.GetPeerUrls()[0]); err == nil {
			out[m.GetId()] = addr
		}
	}
	return out, nil
}
