package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// grpcError maps an error from the store or the actors to the gRPC error an
// etcd client expects. It is the only place such a mapping is made.
func grpcError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return rpctypes.ErrGRPCCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return rpctypes.ErrGRPCDeadlineExceeded
	case errors.Is(err, mvcc.ErrCompacted):
		return rpctypes.ErrGRPCCompacted
	case errors.Is(err, mvcc.ErrFutureRev):
		return rpctypes.ErrGRPCFutureRev
	case errors.Is(err, mvcc.ErrKeyNotFound):
		return rpctypes.ErrGRPCKeyNotFound
	case errors.Is(err, mvcc.ErrLeaseNotFound):
		return rpctypes.ErrGRPCLeaseNotFound
	case errors.Is(err, mvcc.ErrLeaseExists):
		return rpctypes.ErrGRPCLeaseExist
	case errors.Is(err, mvcc.ErrDuplicateKey):
		return rpctypes.ErrGRPCDuplicateKey
	case errors.Is(err, mvcc.ErrTooManyOps):
		return rpctypes.ErrGRPCTooManyOps
	case errors.Is(err, mvcc.ErrEmptyKey):
		return rpctypes.ErrGRPCEmptyKey
	case errors.Is(err, mvcc.ErrValueProvided):
		return rpctypes.ErrGRPCValueProvided
	case errors.Is(err, mvcc.ErrLeaseProvided):
		return rpctypes.ErrGRPCLeaseProvided
	case errors.Is(err, mvcc.ErrInvalidSortOption):
		return rpctypes.ErrGRPCInvalidSortOption
	case errors.Is(err, mvcc.ErrResponseTooLarge):
		return responseTooLarge(err.Error())
	case errors.Is(err, mvcc.ErrViewReplaced):
		// Unavailable: etcd clients retry a read on it.
		return status.Error(codes.Unavailable, "etcdserver: "+strings.TrimPrefix(err.Error(), "mvcc: ")+", retry")
	case errors.Is(err, mvcc.ErrLeaseTTLTooLarge):
		return rpctypes.ErrGRPCLeaseTTLTooLarge
	case errors.Is(err, watch.ErrStreamClosed):
		// Unavailable: the client watches again, from its last revision.
		return rpctypes.ErrGRPCStopped
	case errors.Is(err, watch.ErrTooManyStreams):
		return rpctypes.ErrGRPCRequestTooManyRequests
	}
	for i, e := range auth.All {
		if errors.Is(err, e) {
			return authErrors[i]
		}
	}
	var ae *actorError
	if errors.As(err, &ae) {
		return codeError(ae.code, ae.msg)
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Unknown, err.Error())
}

// authErrors are etcd's errors for auth.All, in its order.
var authErrors = []error{
	rpctypes.ErrGRPCRootUserNotExist, rpctypes.ErrGRPCRootRoleNotExist, rpctypes.ErrGRPCUserAlreadyExist, rpctypes.ErrGRPCUserEmpty,
	rpctypes.ErrGRPCUserNotFound, rpctypes.ErrGRPCRoleAlreadyExist, rpctypes.ErrGRPCRoleNotFound, rpctypes.ErrGRPCRoleEmpty,
	rpctypes.ErrGRPCPermissionNotGiven, rpctypes.ErrGRPCAuthFailed, rpctypes.ErrGRPCAuthFailed, rpctypes.ErrGRPCPermissionDenied,
	rpctypes.ErrGRPCRoleNotGranted, rpctypes.ErrGRPCPermissionNotGranted, rpctypes.ErrGRPCAuthNotEnabled, rpctypes.ErrGRPCAuthOldRevision,
	rpctypes.ErrGRPCInvalidAuthToken, rpctypes.ErrGRPCInvalidAuthMgmt,
}

func init() {
	if len(authErrors) != len(auth.All) {
		panic("frontdoor: authErrors does not match auth.All")
	}
}

func codeError(code cairnpb.ErrorCode, msg string) error {
	switch code {
	case cairnpb.ErrorCode_ERROR_CODE_NO_LEADER:
		return rpctypes.ErrGRPCNoLeader
	case cairnpb.ErrorCode_ERROR_CODE_TIMEOUT:
		return rpctypes.ErrGRPCTimeout
	case cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS:
		return rpctypes.ErrGRPCRequestTooManyRequests
	case cairnpb.ErrorCode_ERROR_CODE_COMPACTED:
		return rpctypes.ErrGRPCCompacted
	case cairnpb.ErrorCode_ERROR_CODE_FUTURE_REV:
		return rpctypes.ErrGRPCFutureRev
	case cairnpb.ErrorCode_ERROR_CODE_KEY_NOT_FOUND:
		return rpctypes.ErrGRPCKeyNotFound
	case cairnpb.ErrorCode_ERROR_CODE_LEASE_NOT_FOUND:
		return rpctypes.ErrGRPCLeaseNotFound
	case cairnpb.ErrorCode_ERROR_CODE_LEASE_EXISTS:
		return rpctypes.ErrGRPCLeaseExist
	case cairnpb.ErrorCode_ERROR_CODE_LEASE_TTL_TOO_LARGE:
		return rpctypes.ErrGRPCLeaseTTLTooLarge
	case cairnpb.ErrorCode_ERROR_CODE_STOPPED:
		return rpctypes.ErrGRPCStopped
	case cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED:
		return rpctypes.ErrGRPCLeaderChanged
	case cairnpb.ErrorCode_ERROR_CODE_REQUEST_TOO_LARGE:
		return rpctypes.ErrGRPCRequestTooLarge
	case cairnpb.ErrorCode_ERROR_CODE_RESPONSE_TOO_LARGE:
		// The apply of a txn met mvcc.ErrResponseTooLarge: msg is its text.
		return responseTooLarge(msg)
	case cairnpb.ErrorCode_ERROR_CODE_MEMBER_NOT_FOUND:
		return rpctypes.ErrGRPCMemberNotFound
	case cairnpb.ErrorCode_ERROR_CODE_MEMBER_EXISTS:
		return rpctypes.ErrGRPCMemberExist
	case cairnpb.ErrorCode_ERROR_CODE_PEER_URL_EXISTS:
		return rpctypes.ErrGRPCPeerURLExist
	case cairnpb.ErrorCode_ERROR_CODE_MEMBER_NOT_LEARNER:
		return rpctypes.ErrGRPCMemberNotLearner
	case cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_LEARNERS:
		return rpctypes.ErrGRPCTooManyLearners
	case cairnpb.ErrorCode_ERROR_CODE_AUTH:
		// msg is the text of one of auth's errors (apply's errorResult).
		for i, e := range auth.All {
			if e.Error() == msg {
				return authErrors[i]
			}
		}
	}
	return status.Error(codes.Internal, "etcdserver: "+msg)
}

// responseTooLarge is the error of a range, or of the ranges of a txn, over
// max-response-bytes; msg is mvcc.ErrResponseTooLarge's text. etcd has no
// such error: gRPC's own for a message over a size limit, with what to do
// instead.
func responseTooLarge(msg string) error {
	return status.Error(codes.ResourceExhausted, "etcdserver: "+strings.TrimPrefix(msg, "mvcc: ")+
		" (max-response-bytes); ask for fewer keys with a limit, or stream the range (RangeStream, etcdctl get --stream)")
}

// actorError is an error an actor reported in a Result or ReadIndexResult.
type actorError struct {
	code cairnpb.ErrorCode
	msg  string
}

func (e *actorError) Error() string { return e.msg }

func fromProto(e *cairnpb.Error) error {
	if e == nil {
		return nil
	}
	return &actorError{code: e.GetCode(), msg: e.GetMessage()}
}

// answerAs returns an actor's answer m as the R it should be, with the
// error it carries; asked names the question for an answer of another type.
func answerAs[R interface{ GetError() *cairnpb.Error }](m any, asked string) (R, error) {
	res, ok := m.(R)
	if !ok {
		return res, fmt.Errorf("frontdoor: unexpected answer %T to %s", m, asked)
	}
	return res, fromProto(res.GetError())
}
