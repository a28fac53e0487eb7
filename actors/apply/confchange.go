package apply

import (
	"fmt"
	"slices"

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
// every member decides alike), the context it carried (who waits) and, for a
// refused change, why.
func applyConfChange(b *mvcc.Batch, e *raftpb.Entry) (apply bool, cctx *cairnpb.ConfChangeContext, refusal cairnpb.ErrorCode, err error) {
	apply, cctx, err = confChange(b, e, &refusal)
	if !apply && refusal == 0 {
		refusal = cairnpb.ErrorCode_ERROR_CODE_INVALID_CONF_CHANGE
	}
	return apply, cctx, refusal, err
}

func confChange(b *mvcc.Batch, e *raftpb.Entry, refusal *cairnpb.ErrorCode) (apply bool, cctx *cairnpb.ConfChangeContext, err error) {
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
	if isV1 {
		code, err := checkMembership(b, v1, cctx)
		if err != nil || code != 0 {
			*refusal = code
			return false, cctx, err
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
		rec := &cairnpb.Removed{Id: v1.GetNodeId()}
		if data, err := b.Meta(memberMetaName(v1.GetNodeId())); err != nil {
			return false, cctx, err
		} else if data != nil {
			m := &cairnpb.Member{}
			if err := proto.Unmarshal(data, m); err == nil {
				rec.PeerUrls = m.GetPeerUrls()
			}
		}
		data, err := proto.Marshal(rec)
		if err != nil {
			return false, cctx, err
		}
		b.DeleteMeta(memberMetaName(v1.GetNodeId()))
		b.PutMeta(removedMetaName(v1.GetNodeId()), data)
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

// checkMembership refuses, as etcd's apply does, a change that names a
// member that is not recorded (remove, update, promote), adds one already
// recorded, or gives a member peer URLs another member has. Members
// bootstrapping a cluster have no record yet and pass.
func checkMembership(b *mvcc.Batch, cc *raftpb.ConfChange, cctx *cairnpb.ConfChangeContext) (cairnpb.ErrorCode, error) {
	in := cctx.GetMember()
	if removed, err := b.Meta(removedMetaName(cc.GetNodeId())); err != nil || removed != nil {
		return cairnpb.ErrorCode_ERROR_CODE_MEMBER_NOT_FOUND, err
	}
	data, err := b.Meta(memberMetaName(cc.GetNodeId()))
	if err != nil {
		return 0, err
	}
	var existing *cairnpb.Member
	if data != nil {
		existing = &cairnpb.Member{}
		if err := proto.Unmarshal(data, existing); err != nil {
			return 0, fmt.Errorf("apply: decode member %x: %w", cc.GetNodeId(), err)
		}
	}
	switch {
	case cc.GetType() == raftpb.ConfChangeRemoveNode || cc.GetType() == raftpb.ConfChangeUpdateNode:
		if existing == nil {
			return cairnpb.ErrorCode_ERROR_CODE_MEMBER_NOT_FOUND, nil
		}
	case cc.GetType() == raftpb.ConfChangeAddNode && cctx.GetPromote():
		if existing == nil {
			return cairnpb.ErrorCode_ERROR_CODE_MEMBER_NOT_FOUND, nil
		}
		if !existing.GetIsLearner() {
			return cairnpb.ErrorCode_ERROR_CODE_MEMBER_NOT_LEARNER, nil
		}
	default: // an add, of a voter or a learner
		if existing != nil {
			return cairnpb.ErrorCode_ERROR_CODE_MEMBER_EXISTS, nil
		}
	}
	if len(in.GetPeerUrls()) == 0 {
		return 0, nil
	}
	var clash bool
	learners := 0
	err = b.MetaPrefix(metaMemberPrefix, func(_ string, value []byte) error {
		m := &cairnpb.Member{}
		if err := proto.Unmarshal(value, m); err != nil {
			return err
		}
		if m.GetIsLearner() {
			learners++
		}
		if m.GetId() == cc.GetNodeId() {
			return nil
		}
		for _, u := range m.GetPeerUrls() {
			if slices.Contains(in.GetPeerUrls(), u) {
				clash = true
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return 0, err
	case clash:
		return cairnpb.ErrorCode_ERROR_CODE_PEER_URL_EXISTS, nil
	case cc.GetType() == raftpb.ConfChangeAddLearnerNode && learners >= maxLearners:
		return cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_LEARNERS, nil
	}
	return 0, nil
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

// removes reports whether a conf change entry removes member id.
func removes(e *raftpb.Entry, id uint64) bool {
	cc, err := decodeConfChange(e)
	if err != nil {
		return false
	}
	for _, c := range cc.AsV2().GetChanges() {
		if c.GetType() == raftpb.ConfChangeRemoveNode && c.GetNodeId() == id {
			return true
		}
	}
	return false
}
