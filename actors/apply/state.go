package apply

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/membershippb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// Names of the state machine's meta entries owned by this package.
const (
	metaConfState    = "raft/confstate"
	metaMemberPrefix = "member/"
	// metaRemovedPrefix records removed members' IDs: etcd never lets an ID
	// come back.
	metaRemovedPrefix = "removed/"
)

// maxLearners is how many learners the cluster may have at once (etcd's
// default --max-learners).
const maxLearners = 1

func memberMetaName(id uint64) string {
	return metaMemberPrefix + strconv.FormatUint(id, 16)
}

func removedMetaName(id uint64) string {
	return metaRemovedPrefix + strconv.FormatUint(id, 16)
}

// Recover returns the state machine's applied index and the raft conf state
// as of that index, for the raft actor to start from.
func Recover(store *mvcc.Store) (applied uint64, cs *raftpb.ConfState, err error) {
	v := store.Read()
	defer v.Close()
	// Both from one view: the conf state as of exactly the applied index.
	return Describe(v)
}

// RecoverDurable returns the applied index and the raft conf state as of
// that index of the state machine as it is on disk (mvcc.ReadDurable): the
// state a restart after a crash starts from. The raft log must keep every
// entry after that index.
func RecoverDurable(store *mvcc.Store) (applied uint64, cs *raftpb.ConfState, err error) {
	v, err := store.ReadDurable()
	if err != nil {
		return 0, nil, err
	}
	defer v.Close()
	cs, err = readConfState(v.Meta)
	return v.AppliedIndex(), cs, err
}

// Describe returns the applied index of a view's state and the raft conf
// state as of that index (the metadata of a snapshot of that state).
func Describe(v *mvcc.ReadView) (applied uint64, cs *raftpb.ConfState, err error) {
	cs, err = readConfState(v.Meta)
	return v.AppliedIndex(), cs, err
}

func readConfState(meta func(string) ([]byte, error)) (*raftpb.ConfState, error) {
	b, err := meta(metaConfState)
	if err != nil {
		return nil, err
	}
	cs := &raftpb.ConfState{}
	if err := proto.Unmarshal(b, cs); err != nil {
		return nil, fmt.Errorf("apply: decode conf state: %w", err)
	}
	return cs, nil
}

// Members returns the cluster's members as the state machine records them,
// in ID order.
func Members(v *mvcc.ReadView) ([]*cairnpb.Member, error) {
	var out []*cairnpb.Member
	err := v.MetaPrefix(metaMemberPrefix, func(name string, value []byte) error {
		m := &cairnpb.Member{}
		if err := proto.Unmarshal(value, m); err != nil {
			return fmt.Errorf("apply: decode member %s: %w", strings.TrimPrefix(name, metaMemberPrefix), err)
		}
		out = append(out, m)
		return nil
	})
	sortMembers(out)
	return out, err
}

func sortMembers(ms []*cairnpb.Member) {
	// Meta names order by hex ID text, not by number: sort explicitly.
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].GetId() < ms[j-1].GetId(); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// setMemberAttributes records the name and client URLs a member published
// when it started (etcd's ClusterMemberAttrSet). Attributes of a member that
// is not (or no longer) in the cluster are ignored.
func setMemberAttributes(b *mvcc.Batch, r *membershippb.ClusterMemberAttrSetRequest) error {
	name := memberMetaName(r.GetMember_ID())
	data, err := b.Meta(name)
	if err != nil || data == nil {
		return err
	}
	m := &cairnpb.Member{}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("apply: decode member %x: %w", r.GetMember_ID(), err)
	}
	m.Name = r.GetMemberAttributes().GetName()
	m.ClientUrls = slices.Clone(r.GetMemberAttributes().GetClientUrls())
	if data, err = proto.Marshal(m); err != nil {
		return err
	}
	b.PutMeta(name, data)
	return nil
}

// RemovedMember returns the record of a removed member, or nil if id was
// never removed.
func RemovedMember(v *mvcc.ReadView, id uint64) (*cairnpb.Removed, error) {
	data, err := v.Meta(removedMetaName(id))
	if err != nil || data == nil {
		return nil, err
	}
	rec := &cairnpb.Removed{}
	if err := proto.Unmarshal(data, rec); err != nil {
		return nil, fmt.Errorf("apply: decode removed member %x: %w", id, err)
	}
	return rec, nil
}
