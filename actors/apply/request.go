package apply

import (
	"errors"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// applyRequest applies one request to the batch. Errors a client must see
// (and that every member meets alike) are returned in the Result; any other
// error means the state machine cannot go on, and is returned. txn says how
// a txn's ranges are served: bounded by the proposal's max_response_bytes on
// every member, and built only where a client waits (Answer).
func applyRequest(b *mvcc.Batch, r *pb.InternalRaftRequest, txn mvcc.TxnOptions) (*cairnpb.Result, error) {
	res := &cairnpb.Result{}
	if r.GetHeader() != nil {
		// A client's request: its user's permission is decided here, against
		// the auth state at this place in the log (auth's invariant 3).
		if err := checkAuth(b, r); err != nil {
			if !isAuthError(err) {
				return nil, fmt.Errorf("apply: auth check: %w", err)
			}
			return errorResult(cairnpb.ErrorCode_ERROR_CODE_AUTH, err.Error()), nil
		}
	}
	var err error
	switch {
	case auth.IsAuthRequest(r):
		err = auth.Apply(b, r)
	case r.GetPut() != nil:
		var resp *pb.PutResponse
		if resp, err = b.Put(r.GetPut()); err == nil {
			res.Response = &cairnpb.Result_Put{Put: resp}
		}
	case r.GetDeleteRange() != nil:
		var resp *pb.DeleteRangeResponse
		if resp, err = b.DeleteRange(r.GetDeleteRange()); err == nil {
			res.Response = &cairnpb.Result_DeleteRange{DeleteRange: resp}
		}
	case r.GetTxn() != nil:
		var resp *pb.TxnResponse
		if resp, err = b.TxnWith(r.GetTxn(), txn); err == nil {
			res.Response = &cairnpb.Result_Txn{Txn: resp}
		}
	case r.GetCompaction() != nil:
		var resp *pb.CompactionResponse
		if resp, err = b.Compact(r.GetCompaction().GetRevision()); err == nil {
			res.Response = &cairnpb.Result_Compaction{Compaction: resp}
		}
	case r.GetLeaseGrant() != nil:
		g := r.GetLeaseGrant()
		if err = b.LeaseGrant(g.GetID(), g.GetTTL()); err == nil {
			res.Response = &cairnpb.Result_LeaseGrant{LeaseGrant: &pb.LeaseGrantResponse{
				Header: &pb.ResponseHeader{Revision: b.Rev()}, ID: g.GetID(), TTL: g.GetTTL(),
			}}
		}
	case r.GetLeaseRevoke() != nil:
		if err = b.LeaseRevoke(r.GetLeaseRevoke().GetID()); err == nil {
			res.Response = &cairnpb.Result_LeaseRevoke{LeaseRevoke: &pb.LeaseRevokeResponse{
				Header: &pb.ResponseHeader{Revision: b.Rev()},
			}}
		}
	case r.GetLeaseCheckpoint() != nil:
		for _, c := range r.GetLeaseCheckpoint().GetCheckpoints() {
			if err = b.LeaseCheckpoint(c.GetID(), c.GetRemaining_TTL()); err != nil {
				break
			}
		}
	case r.GetClusterMemberAttrSet() != nil:
		if err := setMemberAttributes(b, r.GetClusterMemberAttrSet()); err != nil {
			return nil, err
		}
	default:
		// A request kind this version does not know: every member of this
		// version refuses it alike.
		return errorResult(cairnpb.ErrorCode_ERROR_CODE_INTERNAL, "unsupported request"), nil
	}
	if err != nil {
		code, ok := errorCode(err)
		if !ok {
			return nil, fmt.Errorf("apply: %w", err)
		}
		return errorResult(code, err.Error()), nil
	}
	return res, nil
}

// checkAuth decides whether the user in a client's request header may make
// it (etcd's authApplierV3).
func checkAuth(b *mvcc.Batch, r *pb.InternalRaftRequest) error {
	h := r.GetHeader()
	c, err := auth.NewChecker(b, auth.Info{User: h.GetUsername(), Revision: h.GetAuthRevision()})
	if err != nil {
		return err
	}
	return c.Request(r, func(id int64) (keys [][]byte, err error) {
		err = b.LeaseKeys(id, func(k []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		})
		return keys, err
	})
}

func isAuthError(err error) bool {
	for _, e := range auth.All {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// errorCode maps the state machine's errors that a request can meet.
func errorCode(err error) (cairnpb.ErrorCode, bool) {
	if isAuthError(err) {
		return cairnpb.ErrorCode_ERROR_CODE_AUTH, true
	}
	switch {
	case errors.Is(err, mvcc.ErrKeyNotFound):
		return cairnpb.ErrorCode_ERROR_CODE_KEY_NOT_FOUND, true
	case errors.Is(err, mvcc.ErrLeaseNotFound):
		return cairnpb.ErrorCode_ERROR_CODE_LEASE_NOT_FOUND, true
	case errors.Is(err, mvcc.ErrLeaseExists):
		return cairnpb.ErrorCode_ERROR_CODE_LEASE_EXISTS, true
	case errors.Is(err, mvcc.ErrLeaseTTLTooLarge):
		return cairnpb.ErrorCode_ERROR_CODE_LEASE_TTL_TOO_LARGE, true
	case errors.Is(err, mvcc.ErrCompacted):
		return cairnpb.ErrorCode_ERROR_CODE_COMPACTED, true
	case errors.Is(err, mvcc.ErrFutureRev):
		return cairnpb.ErrorCode_ERROR_CODE_FUTURE_REV, true
	case errors.Is(err, mvcc.ErrResponseTooLarge):
		return cairnpb.ErrorCode_ERROR_CODE_RESPONSE_TOO_LARGE, true
	case errors.Is(err, mvcc.ErrDuplicateKey), errors.Is(err, mvcc.ErrTooManyOps):
		// The front door rejects these before proposing; a proposal that
		// still carries one is refused alike by every member.
		return cairnpb.ErrorCode_ERROR_CODE_INTERNAL, true
	}
	return 0, false
}

func errorResult(code cairnpb.ErrorCode, msg string) *cairnpb.Result {
	return &cairnpb.Result{Error: &cairnpb.Error{Code: code, Message: msg}}
}
