package frontdoor

import (
	"bytes"
	"math"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/storage/mvcc"
)

// RangeStream serves a range as a stream of chunks (etcd 3.7's RangeStream,
// `etcdctl get --stream`), so that neither the member nor the client holds
// the whole result at once: each chunk aims at MaxRequestBytes. Every chunk
// reads the same view of the store, so the stream is one consistent read.
// As in etcd, the last chunk carries the header, more and count.
func (k *kvServer) RangeStream(r *pb.RangeRequest, rs grpc.ServerStreamingServer[pb.RangeStreamResponse]) error {
	if err := checkRange(r); err != nil {
		return err
	}
	if !isDefaultOrder(r) {
		return status.Error(codes.Unimplemented, "RangeStream does not support custom sort orders")
	}
	if r.GetMinModRevision() != 0 || r.GetMaxModRevision() != 0 || r.GetMinCreateRevision() != 0 || r.GetMaxCreateRevision() != 0 {
		return status.Error(codes.Unimplemented, "RangeStream does not support revision filters")
	}
	return grpcError(k.s.read(rs.Context(), r.GetSerializable(), func(v *mvcc.ReadView) error {
		return k.streamRange(v, proto.Clone(r).(*pb.RangeRequest), rs)
	}))
}

func isDefaultOrder(r *pb.RangeRequest) bool {
	return r.GetSortOrder() == pb.RangeRequest_NONE ||
		(r.GetSortTarget() == pb.RangeRequest_KEY && r.GetSortOrder() == pb.RangeRequest_ASCEND)
}

// initialChunkKeys is the first chunk's key limit; later chunks double or
// halve it to land near the target size (etcd's rule).
const initialChunkKeys = 10

func (k *kvServer) streamRange(v *mvcc.ReadView, r *pb.RangeRequest, rs grpc.ServerStreamingServer[pb.RangeStreamResponse]) error {
	if r.Revision == 0 {
		r.Revision = v.Rev()
	}
	if r.GetCountOnly() {
		resp, err := v.Range(r)
		if err != nil {
			return err
		}
		out := &pb.RangeResponse{Header: k.s.header(v.Rev()), Count: resp.GetCount()}
		return rs.Send(&pb.RangeStreamResponse{RangeResponse: out})
	}
	total := r.GetLimit()
	if total == 0 {
		total = math.MaxInt64
	}
	r.Limit = min(initialChunkKeys, total)
	target := k.s.cfg.MaxRequestBytes
	var sent int64
	for {
		resp, err := v.Range(r)
		if err != nil {
			return err
		}
		sent += int64(len(resp.GetKvs()))
		var next []byte
		if resp.GetMore() {
			next = append(bytes.Clone(resp.GetKvs()[len(resp.GetKvs())-1].GetKey()), 0)
		}
		out := &pb.RangeResponse{Kvs: resp.GetKvs()}
		done := !resp.GetMore() || sent == total
		if done {
			out.Header = k.s.header(v.Rev())
			out.More = resp.GetMore()
			out.Count = sent
			if resp.GetMore() {
				rest, err := v.Range(&pb.RangeRequest{Key: next, RangeEnd: r.GetRangeEnd(), Revision: r.GetRevision(), CountOnly: true})
				if err != nil {
					return err
				}
				out.Count += rest.GetCount()
			}
		}
		if err := rs.Send(&pb.RangeStreamResponse{RangeResponse: out}); err != nil {
			return err
		}
		if done {
			return nil
		}
		r.Key = next
		r.Limit = min(nextChunkKeys(r.GetLimit(), proto.Size(resp), target), total-sent)
	}
}

// nextChunkKeys doubles or halves the key limit when a chunk came out at
// under half or over twice the target size.
func nextChunkKeys(last int64, size, target int) int64 {
	switch {
	case size < target/2:
		last *= 2
	case size > target*2:
		last /= 2
	}
	return max(last, 1)
}
