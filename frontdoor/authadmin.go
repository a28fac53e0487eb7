package frontdoor

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// With auth on, etcd lets only root compact, defragment, hash, snapshot,
// move the leader, downgrade and raise or clear alarms, and any known user
// ask for the status or list the alarms (v3rpc's AuthAdmin). These
// interceptors do the same by method, before the handler.

// adminMethods need the root role; userMethods a user.
var (
	adminMethods = map[string]bool{
		"/etcdserverpb.KV/Compact":             true,
		"/etcdserverpb.Maintenance/Defragment": true,
		"/etcdserverpb.Maintenance/Hash":       true,
		"/etcdserverpb.Maintenance/HashKV":     true,
		"/etcdserverpb.Maintenance/MoveLeader": true,
		"/etcdserverpb.Maintenance/Downgrade":  true,
		"/etcdserverpb.Maintenance/Snapshot":   true,
	}
	userMethods = map[string]bool{
		"/etcdserverpb.Maintenance/Status": true,
	}
)

// authOptions are the gRPC server options of these checks.
func (s *Server) authOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.authUnary),
		grpc.ChainStreamInterceptor(s.authStream),
	}
}

func (s *Server) authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	admin, user := adminMethods[info.FullMethod], userMethods[info.FullMethod]
	if a, ok := req.(*pb.AlarmRequest); ok {
		admin, user = a.GetAction() != pb.AlarmRequest_GET, true
	}
	if admin || user {
		if err := s.requireUser(ctx, admin); err != nil {
			return nil, grpcError(err)
		}
	}
	return handler(ctx, req)
}

func (s *Server) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if adminMethods[info.FullMethod] {
		if err := s.requireUser(ss.Context(), true); err != nil {
			return grpcError(err)
		}
	}
	return handler(srv, ss)
}

// requireUser checks, when auth is on, that the request has a user, and
// with admin that the user holds the root role.
func (s *Server) requireUser(ctx context.Context, admin bool) error {
	ai, err := s.authInfo(ctx)
	if err != nil {
		return err
	}
	return s.read(ctx, true, func(v *mvcc.ReadView) error {
		return authorize(v, ai, func(c *auth.Checker) error {
			if admin {
				return c.Admin()
			}
			return nil
		})
	})
}
