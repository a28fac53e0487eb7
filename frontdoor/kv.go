package frontdoor

import (
	"context"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

type kvServer struct {
	pb.UnimplementedKVServer
	s *Server
}

func (k *kvServer) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := checkRange(r); err != nil {
		return nil, err
	}
	var resp *pb.RangeResponse
	err := k.s.read(ctx, r.GetSerializable(), func(v *mvcc.ReadView) (err error) {
		// The sender is looked up after the read index, as etcd does:
		// a token dropped by a change committed before the read began is
		// gone by then (not a token of an auth revision now old).
		ai, err := k.s.authInfo(ctx)
		if err != nil {
			return err
		}
		if err := authorize(v, ai, func(c *auth.Checker) error { return c.Read(r.GetKey(), r.GetRangeEnd()) }); err != nil {
			return err
		}
		resp, err = v.RangeWithin(r, k.s.cfg.MaxResponseBytes)
		return err
	})
	if err != nil {
		return nil, grpcError(err)
	}
	k.s.fill(resp.Header)
	// Until gRPC has encoded it (requestCodec.Marshal).
	k.s.rangeBytes.Add(rangeKVBytes(resp))
	return resp, nil
}

// RangeBytes returns the keys and values of the unary Range responses
// built and not yet encoded by gRPC now (for the status page). A Range
// counts from when its response is built, not while it is, and a Txn's
// ranges do not count. Safe from any goroutine.
func (s *Server) RangeBytes() int64 { return s.rangeBytes.Load() }

func (k *kvServer) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := checkPut(r); err != nil {
		return nil, err
	}
	res, err := k.s.proposeAs(ctx, &pb.InternalRaftRequest{Put: r})
	if err != nil {
		return nil, grpcError(err)
	}
	resp := res.GetPut()
	k.s.fill(resp.Header)
	return resp, nil
}

func (k *kvServer) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := checkDelete(r); err != nil {
		return nil, err
	}
	res, err := k.s.proposeAs(ctx, &pb.InternalRaftRequest{DeleteRange: r})
	if err != nil {
		return nil, grpcError(err)
	}
	resp := res.GetDeleteRange()
	k.s.fill(resp.Header)
	return resp, nil
}

func (k *kvServer) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := checkTxn(r, k.s.cfg.MaxTxnOps); err != nil {
		return nil, err
	}
	var resp *pb.TxnResponse
	if mvcc.IsReadOnlyTxn(r) {
		// A txn that writes nothing is a read: served locally after a read
		// index, as etcd does, unless every range in it is serializable.
		err := k.s.read(ctx, isSerializableTxn(r), func(v *mvcc.ReadView) (err error) {
			ai, err := k.s.authInfo(ctx) // after the read index, as in Range
			if err != nil {
				return err
			}
			if err := authorize(v, ai, func(c *auth.Checker) error { return c.Txn(r) }); err != nil {
				return err
			}
			resp, err = v.TxnWithin(r, k.s.cfg.MaxResponseBytes)
			return err
		})
		if err != nil {
			return nil, grpcError(err)
		}
	} else {
		res, err := k.s.proposeAs(ctx, &pb.InternalRaftRequest{Txn: r})
		if err != nil {
			return nil, grpcError(err)
		}
		resp = res.GetTxn()
	}
	k.s.fill(resp.Header)
	return resp, nil
}

func (k *kvServer) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	res, err := k.s.proposeAs(ctx, &pb.InternalRaftRequest{Compaction: r})
	if err != nil {
		return nil, grpcError(err)
	}
	if r.GetPhysical() && k.s.cfg.Compactor != nil {
		// etcd answers a physical compaction once the history is gone.
		if _, err := k.s.askCompacted(ctx, r.GetRevision()); err != nil {
			return nil, grpcError(err)
		}
	}
	resp := res.GetCompaction()
	if resp.Header == nil {
		resp.Header = &pb.ResponseHeader{}
	}
	k.s.fill(resp.Header)
	return resp, nil
}

// read runs fn on a view of the store, after a read index unless the read is
// serializable.
// The view may be shared with other reads (views.go): fn only reads it.
func (s *Server) read(ctx context.Context, serializable bool, fn func(*mvcc.ReadView) error) error {
	var index uint64
	if serializable {
		index = s.cfg.Store.AppliedIndex()
	} else {
		var err error
		if index, err = s.linearize(ctx); err != nil {
			return err
		}
	}
	sv := s.views.acquire(index)
	defer s.views.release(sv)
	return fn(sv.v)
}

// isSerializableTxn reports whether every range of a read-only txn is
// serializable (etcd's isTxnSerializable).
func isSerializableTxn(r *pb.TxnRequest) bool {
	for _, branch := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range branch {
			if rr := op.GetRequestRange(); rr == nil || !rr.GetSerializable() {
				return false
			}
		}
	}
	return true
}

func (s *Server) askCompacted(ctx context.Context, rev int64) (*cairnpb.Compacted, error) {
	m, err := s.ask(ctx, func(w replyTarget) {
		s.cfg.System.Root.RequestWithCustomSender(s.cfg.Compactor, &cairnpb.WaitCompacted{Revision: rev}, w.PID())
	})
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *cairnpb.Compacted:
		return m, nil
	case *cairnpb.Result:
		return nil, fromProto(m.GetError())
	default:
		return nil, fmt.Errorf("frontdoor: unexpected answer %T to a physical compaction", m)
	}
}
