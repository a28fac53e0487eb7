package frontdoor

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/storage/mvcc"
)

// The checks are etcd's front door checks, made by storage/mvcc's Validate
// functions so that the rules live next to the semantics they protect; here
// they only become gRPC errors.

func checkRange(r *pb.RangeRequest) error        { return grpcError(mvcc.ValidateRange(r)) }
func checkPut(r *pb.PutRequest) error            { return grpcError(mvcc.ValidatePut(r)) }
func checkDelete(r *pb.DeleteRangeRequest) error { return grpcError(mvcc.ValidateDeleteRange(r)) }

func checkTxn(r *pb.TxnRequest, maxOps int) error {
	return grpcError(mvcc.ValidateTxn(r, maxOps))
}
