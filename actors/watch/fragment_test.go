package watch

import (
	"fmt"
	"math/rand/v2"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// etcdFragments is etcd v3.7's sendFragments (etcdserver/api/v3rpc/watch.go),
// the oracle for queueEvents.
func etcdFragments(wr *pb.WatchResponse, maxRequestBytes uint) []*pb.WatchResponse {
	if uint(proto.Size(wr)) < maxRequestBytes || len(wr.Events) < 2 {
		return []*pb.WatchResponse{wr}
	}
	var out []*pb.WatchResponse
	var idx int
	for {
		cur := &pb.WatchResponse{
			Header: wr.Header, WatchId: wr.WatchId, Created: wr.Created, Canceled: wr.Canceled,
			CompactRevision: wr.CompactRevision, CancelReason: wr.CancelReason,
			Fragment: true, Events: make([]*mvccpb.Event, 0),
		}
		for _, ev := range wr.Events[idx:] {
			cur.Events = append(cur.Events, ev)
			if len(cur.Events) > 1 && uint(proto.Size(cur)) >= maxRequestBytes {
				cur.Events = cur.Events[:len(cur.Events)-1]
				break
			}
			idx++
		}
		if idx == len(wr.Events) {
			cur.Fragment = false
		}
		out = append(out, cur)
		if !cur.Fragment {
			return out
		}
	}
}

// TestFragmentsAsEtcd checks that a fragmenting watcher's responses are
// split exactly where etcd splits them.
func TestFragmentsAsEtcd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var evs []*mvccpb.Event
		for j := range 1 + rng.IntN(12) {
			evs = append(evs, &mvccpb.Event{Type: mvccpb.Event_PUT, Kv: &mvccpb.KeyValue{
				Key: fmt.Appendf(nil, "key%d", j), Value: make([]byte, rng.IntN(300)),
				CreateRevision: 5, ModRevision: 1000 + int64(i), Version: int64(j + 1),
			}})
		}
		header := &pb.ResponseHeader{ClusterId: 1 << 60, MemberId: 1 << 50, Revision: 1000 + int64(i), RaftTerm: 7}
		limit := 50 + rng.IntN(2000)
		cfg := Config{Options: Options{FragmentBytes: limit}}.withDefaults()
		s := &stream{cfg: &cfg}
		w := &watcher{id: 3, fragment: true}
		s.queueEvents(w, &pb.WatchResponse{Header: header, WatchId: 3, Events: evs})
		want := etcdFragments(&pb.WatchResponse{Header: header, WatchId: 3, Events: evs}, uint(limit))
		if len(s.queue) != len(want) {
			t.Fatalf("case %d (limit %d): %d responses, etcd %d", i, limit, len(s.queue), len(want))
		}
		for j, e := range s.queue {
			if !proto.Equal(e.resp, want[j]) {
				t.Fatalf("case %d (limit %d) response %d:\n%v\netcd:\n%v", i, limit, j, e.resp, want[j])
			}
		}
	}
}
