package frontdoor

import (
	"context"
	"errors"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// invalidWatchID is etcd's clientv3.InvalidWatchID, the ID of a refused
// watch.
const invalidWatchID = -1

// refuseWatch returns etcd's answer to a watch create request its sender
// may not read (serverWatchStream.isWatchPermitted): created and canceled
// at once, with the reason; nil for a request that may go on. The stream
// stays open.
func (s *Server) refuseWatch(ctx context.Context, req *pb.WatchRequest) *pb.WatchResponse {
	cr := req.GetCreateRequest()
	if cr == nil {
		return nil
	}
	ai, err := s.authInfo(ctx)
	var rev int64
	if err == nil {
		err = s.read(ctx, true, func(v *mvcc.ReadView) error {
			rev = v.Rev()
			return authorize(v, ai, func(c *auth.Checker) error { return c.Read(cr.GetKey(), cr.GetRangeEnd()) })
		})
	}
	if err == nil {
		return nil
	}
	reason := rpctypes.ErrGRPCPermissionDenied.Error()
	switch {
	case errors.Is(err, auth.ErrInvalidAuthToken):
		reason = rpctypes.ErrGRPCInvalidAuthToken.Error()
	case errors.Is(err, auth.ErrAuthOldRevision):
		reason = rpctypes.ErrGRPCAuthOldRevision.Error()
	case errors.Is(err, auth.ErrUserEmpty):
		reason = rpctypes.ErrGRPCUserEmpty.Error()
	}
	return &pb.WatchResponse{Header: s.header(rev), WatchId: invalidWatchID, Created: true, Canceled: true, CancelReason: reason}
}
