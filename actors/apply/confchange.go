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
// every member decides alike).
func applyConfChange(b *mvcc.Batch, e *raftpb.Entry) (apply bool, err error) {
	cc, err := decodeConfChange(e)
	if err != nil {
		return false, fmt.Errorf("apply: decode conf change at %d: %w", e.GetIndex(), err)
	}
	cs, err := readConfState(b.Meta)
	if err != nil {
		return false, err
	}
	next, err := nextConfState(cs, cc)
	if err != nil {
		return false, nil
	}
	data, err := proto.Marshal(next)
	if err != nil {
		return false, err
	}
	b.PutMeta(metaConfState, data)

	// The member record travels in the context of a v1 conf change (as
	// etcd's does); removals carry none.
	if v1, ok := cc.(*raftpb.ConfChange); ok {
		switch v1.GetType() {
		case raftpb.ConfChangeRemoveNode:
			b.DeleteMeta(memberMetaName(v1.GetNodeId()))
		case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode, raftpb.ConfChangeUpdateNode:
			if len(v1.GetContext()) > 0 {
				m := &cairnpb.Member{}
				if err := proto.Unmarshal(v1.GetContext(), m); err != nil {
					return false, fmt.Errorf("apply: decode member of conf change at %d: %w", e.GetIndex(), err)
				}
				m.Id = v1.GetNodeId()
				m.IsLearner = v1.GetType() == raftpb.ConfChangeAddLearnerNode
				if v1.GetType() == raftpb.ConfChangeUpdateNode {
					// An update changes URLs, never the member's role.
					m.IsLearner = isLearner(next, m.GetId())
				}
				data, err := proto.Marshal(m)
				if err != nil {
					return false, err
				}
				b.PutMeta(memberMetaName(m.GetId()), data)
			}
		}
	}
	return true, nil
}

func isLearner(cs *raftpb.ConfState, id uint64) bool {
	for _, l := range cs.GetLearners() {
		if l == id {
			return true
		}
	}
	return false
}
