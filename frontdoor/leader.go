package frontdoor

import (
	"context"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// MoveLeader hands leadership to another voting member, as etcd's: it must
// be called on the leader, and answers once the transferee leads.
func (m *maintenanceServer) MoveLeader(ctx context.Context, r *pb.MoveLeaderRequest) (*pb.MoveLeaderResponse, error) {
	s := m.s
	if s.cfg.Board.Load().Lead != s.cfg.MemberID {
		return nil, rpctypes.ErrGRPCNotLeader
	}
	target, err := s.member(r.GetTargetID())
	if err != nil || target.GetIsLearner() {
		return nil, rpctypes.ErrGRPCBadLeaderTransferee
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	s.cfg.System.Root.Send(s.cfg.Raft, &cairnpb.TransferLeader{To: r.GetTargetID()})
	// Raft abandons a transfer after an election timeout; ask again until
	// the deadline, as etcd's transfer loop does.
	retry := time.NewTicker(s.cfg.ElectionTimeout)
	defer retry.Stop()
	for {
		changed := s.cfg.Board.LeaderChanged()
		if s.cfg.Board.Load().Lead == r.GetTargetID() {
			return &pb.MoveLeaderResponse{Header: s.header(0)}, nil
		}
		select {
		case <-changed:
		case <-retry.C:
			if s.cfg.Board.Load().Lead == s.cfg.MemberID {
				s.cfg.System.Root.Send(s.cfg.Raft, &cairnpb.TransferLeader{To: r.GetTargetID()})
			}
		case <-ctx.Done():
			return nil, rpctypes.ErrGRPCTimeout
		}
	}
}
