package raftactor

import (
	"bytes"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

func TestProposalOrigin(t *testing.T) {
	want := &cairnpb.Origin{MemberId: 7, Incarnation: 42, Waiter: "reply$1z"}
	p := &cairnpb.Proposal{
		Id:      3,
		Origin:  want,
		Trace:   map[string]string{"traceparent": "x"},
		Request: &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 1<<16)}},
	}
	data, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := proposalOrigin(data); !proto.Equal(got, want) {
		t.Fatalf("origin %v, want %v", got, want)
	}
	// The origin after the request: fields in any order.
	reordered := append(protoField(t, &cairnpb.Proposal{Request: p.Request}), protoField(t, &cairnpb.Proposal{Origin: want})...)
	if got := proposalOrigin(reordered); !proto.Equal(got, want) {
		t.Fatalf("origin after the request %v, want %v", got, want)
	}
	for name, data := range map[string][]byte{
		"no origin": protoField(t, &cairnpb.Proposal{Id: 1}),
		"cut short": data[:4],
		"garbage":   {0xff, 0xff, 0xff},
		"empty":     nil,
	} {
		if got := proposalOrigin(data); got != nil {
			t.Errorf("%s: origin %v, want none", name, got)
		}
	}
}

func protoField(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
