package mvcc

import (
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// BenchmarkGetLatest reads one key (no range end) at the current revision,
// as a client's get does, each from a view of its own.
func BenchmarkGetLatest(b *testing.B) {
	db, s := rangeStore(b)
	defer db.close(b)
	reqs := make([]*pb.RangeRequest, 1000)
	for i := range reqs {
		reqs[i] = &pb.RangeRequest{Key: fmt.Appendf(nil, "key/%06d", i*10)}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v := s.Read()
		resp, err := v.Range(reqs[i%len(reqs)])
		if err != nil || len(resp.Kvs) != 1 {
			b.Fatalf("%d kvs, %v", len(resp.Kvs), err)
		}
		v.Close()
	}
}
