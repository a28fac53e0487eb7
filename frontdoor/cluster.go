package frontdoor

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

type clusterServer struct {
	pb.UnimplementedClusterServer
	s *Server
}

func (c *clusterServer) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	if r.GetLinearizable() {
		if err := c.s.linearize(ctx); err != nil {
			return nil, grpcError(err)
		}
	}
	var members []*pb.Member
	if c.s.cfg.Members != nil {
		var err error
		if members, err = c.s.cfg.Members(); err != nil {
			return nil, grpcError(err)
		}
	}
	return &pb.MemberListResponse{Header: c.s.header(0), Members: members}, nil
}
