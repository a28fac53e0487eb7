package apply

import (
	"fmt"

	"go.etcd.io/raft/v3/confchange"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// decodeConfChange decodes the data of a conf change entry.
func decodeConfChange(e *raftpb.Entry) (raftpb.ConfChangeI, error) {
	if e.GetType() == raftpb.EntryConfChangeV2 {
		cc := &raftpb.ConfChangeV2{}
		return cc, proto.Unmarshal(e.GetData(), cc)
	}
	cc := &raftpb.ConfChange{}
	return cc, proto.Unmarshal(e.GetData(), cc)
}

// nextConfState computes the conf state after cc, as raft's ApplyConfChange
// will. Computing it here, rather than asking the raft actor, lets the apply
// actor record it in the same batch as the applied index without waiting on
// another actor. The computation is raft's own (package confchange), so both
// agree.
func nextConfState(cs *raftpb.ConfState, cc raftpb.ConfChangeI) (*raftpb.ConfState, error) {
	trk := tracker.MakeProgressTracker(1, 0)
	cfg, prs, err := confchange.Restore(confchange.Changer{Tracker: trk, LastIndex: 1}, cs)
	if err != nil {
		return nil, err
	}
	trk.Config, trk.Progress = cfg, prs
	chg := confchange.Changer{Tracker: trk, LastIndex: 1}
	v2 := cc.AsV2()
	if v2.LeaveJoint() {
		cfg, prs, err = chg.LeaveJoint()
	} else if autoLeave, ok := v2.EnterJoint(); ok {
		cfg, prs, err = chg.EnterJoint(autoLeave, v2.GetChanges()...)
	} else {
		cfg, prs, err = chg.Simple(v2.GetChanges()...)
	}
	if err != nil {
		return nil, err
	}
	trk.Config, trk.Progress = cfg, prs
	return trk.ConfState(), nil
}

// applyConfChange records the effect of a conf change entry in the batch: the
// new conf state, and the member it adds, updates or removes. It reports
// whether raft must apply it too (false when the change is invalid, which
// every member decides alike), and the context it carried (who waits).
func applyConfChange(b *mvcc.Batch, e *raftpb.Entry) (apply bool, cctx *cairnpb.ConfChangeContext, err error) {
	cc, err := decodeConfChange(e)
	if err != nil {
		return false, nil, fmt.Errorf("apply: decode conf change at %d: %w", e.GetIndex(), err)
	}
	cctx = &cairnpb.ConfChangeContext{}
	v1, isV1 := cc.(*raftpb.ConfChange)
	if isV1 && len(v1.GetContext()) > 0 {
		if err := proto.Unmarshal(v1.GetContext(), cctx); err != nil {
			// Every member fails alike: refuse the change.
			return false, nil, nil
		}
	}
	cs, err := readConfState(b.Meta)
	if err != nil {
		return false, cctx, err
	}
	next, err := nextConfState(cs, cc)
	if err != nil {
		return false, cctx, nil
	}
	data, err := proto.Marshal(next)
	if err != nil {
		return false, cctx, err
	}
	b.PutMeta(metaConfState, data)
	if !isV1 {
		return true, cctx, nil
	}
	switch v1.GetType() {
	case raftpb.ConfChangeRemoveNode:
		b.DeleteMeta(memberMetaName(v1.GetNodeId()))
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode, raftpb.ConfChangeUpdateNode:
		m, err := mergedMember(b, v1, cctx.GetMember(), next)
		if err != nil {
			return false, cctx, err
		}
		if data, err = proto.Marshal(m); err != nil {
			return false, cctx, err
		}
		b.PutMeta(memberMetaName(m.GetId()), data)
	}
	return true, cctx, nil
}

// mergedMember is the member record after an add, promote or update: the
// context's peer URLs over what was recorded, the role from the new conf
// state, the name and client URLs kept (the member publishes those itself).
func mergedMember(b *mvcc.Batch, cc *raftpb.ConfChange, in *cairnpb.Member, next *raftpb.ConfState) (*cairnpb.Member, error) {
	m := &cairnpb.Member{}
	if data, err := b.Meta(memberMetaName(cc.GetNodeId())); err != nil {
		return nil, err
	} else if data != nil {
		if err := proto.Unmarshal(data, m); err != nil {
			return nil, fmt.Errorf("apply: decode member %x: %w", cc.GetNodeId(), err)
		}
	}
	m.Id = cc.GetNodeId()
	if len(in.GetPeerUrls()) > 0 {
		m.PeerUrls = in.GetPeerUrls()
	}
	if in.GetName() != "" {
		m.Name = in.GetName()
	}
	if len(in.GetClientUrls()) > 0 {
		m.ClientUrls = in.GetClientUrls()
	}
	m.IsLearner = isLearner(next, m.GetId())
	return m, nil
}

func isLearner(cs *raftpb.ConfState, id uint64) bool {
	for _, l := range cs.GetLearners() {
		if l == id {
			return true
		}
	}
	return false
}
