package frontdoor_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
)

type pbCreate = pb.WatchCreateRequest

// rawWatch is a Watch stream driven request by request, for tests that
// check etcd's responses exactly.
type rawWatch struct {
	t      *testing.T
	stream pb.Watch_WatchClient
	cancel context.CancelFunc
}

func newRawWatch(t *testing.T, c *clientv3.Client) *rawWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(cairntest.Ctx(t))
	s, err := pb.NewWatchClient(c.ActiveConnection()).Watch(ctx)
	if err != nil {
		cancel()
		t.Fatalf("watch: %v", err)
	}
	t.Cleanup(cancel)
	return &rawWatch{t: t, stream: s, cancel: cancel}
}

func (w *rawWatch) send(r *pb.WatchRequest) {
	w.t.Helper()
	if err := w.stream.Send(r); err != nil {
		w.t.Fatalf("send %v: %v", r, err)
	}
}

func (w *rawWatch) create(c *pb.WatchCreateRequest) {
	w.t.Helper()
	w.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: c}})
}

func (w *rawWatch) cancelWatch(id int64) {
	w.t.Helper()
	w.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: id}}})
}

func (w *rawWatch) progress() {
	w.t.Helper()
	w.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}})
}

func (w *rawWatch) recv() *pb.WatchResponse {
	w.t.Helper()
	r, err := w.stream.Recv()
	if err != nil {
		w.t.Fatalf("recv: %v", err)
	}
	return r
}

// describeResponse prints a response without the fields that differ between
// two servers (cluster and member IDs, raft term).
func describeResponse(r *pb.WatchResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "watch=%d rev=%d", r.GetWatchId(), r.GetHeader().GetRevision())
	for _, f := range []struct {
		on   bool
		name string
	}{{r.GetCreated(), "created"}, {r.GetCanceled(), "canceled"}, {r.GetFragment(), "fragment"}} {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	if r.GetCompactRevision() != 0 {
		fmt.Fprintf(&b, " compact=%d", r.GetCompactRevision())
	}
	if r.GetCancelReason() != "" {
		fmt.Fprintf(&b, " reason=%q", r.GetCancelReason())
	}
	for _, ev := range r.GetEvents() {
		kv := ev.GetKv()
		fmt.Fprintf(&b, " %s:%s=%s@%d/c%d/v%d/l%d", ev.GetType(), kv.GetKey(), kv.GetValue(), kv.GetModRevision(),
			kv.GetCreateRevision(), kv.GetVersion(), kv.GetLease())
		if p := ev.GetPrevKv(); p != nil {
			fmt.Fprintf(&b, "(prev %s=%s@%d/c%d/v%d)", p.GetKey(), p.GetValue(), p.GetModRevision(), p.GetCreateRevision(), p.GetVersion())
		}
	}
	return b.String()
}

// watchScript drives a server through watch requests and writes, and
// returns the responses it saw. Responses expected together are sorted by
// watch ID (etcd notifies the watchers of one revision in map order).
func watchScript(t *testing.T, endpoint string) []string {
	c := cairntest.NewClient(t, endpoint)
	ctx := cairntest.Ctx(t)
	var out []string
	w := newRawWatch(t, c)
	expect := func(what string, n int) {
		t.Helper()
		var got []*pb.WatchResponse
		for range n {
			got = append(got, w.recv())
		}
		slices.SortStableFunc(got, func(a, b *pb.WatchResponse) int { return int(a.WatchId - b.WatchId) })
		out = append(out, "# "+what)
		for _, r := range got {
			out = append(out, describeResponse(r))
		}
		t.Log(strings.Join(out[len(out)-len(got)-1:], "\n"))
	}
	put := func(k, v string) {
		t.Helper()
		if _, err := c.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}

	put("a", "0")
	w.create(&pb.WatchCreateRequest{Key: []byte("a")})
	expect("a key from now", 1)
	w.create(&pb.WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte("d"), PrevKv: true, WatchId: 7})
	expect("a range with prev_kv, client-chosen ID", 1)
	w.create(&pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte{0}})
	expect("every key from a, the next automatic ID", 1)
	put("a", "1")
	expect("a put", 2)
	if _, err := c.Txn(ctx).Then(clientv3.OpPut("b", "1"), clientv3.OpPut("c", "1"), clientv3.OpPut("d", "1")).Commit(); err != nil {
		t.Fatal(err)
	}
	expect("a txn of three puts: one response per watcher", 2)
	put("c", "2")
	expect("prev_kv", 2)
	if _, err := c.Delete(ctx, "b", clientv3.WithRange("e")); err != nil {
		t.Fatal(err)
	}
	expect("a range delete", 2)

	w.create(&pb.WatchCreateRequest{Key: []byte("a"), WatchId: 7})
	expect("a duplicate ID", 1)
	w.create(&pb.WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte("a")})
	expect("an empty range", 1)
	w.create(&pb.WatchCreateRequest{Key: []byte("b"), StartRevision: -1})
	expect("a negative start revision", 1)
	w.create(&pb.WatchCreateRequest{})
	expect("no key: \\x00", 1)

	w.create(&pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("z"), StartRevision: 2, PrevKv: true, WatchId: 20})
	expect("history from revision 2, with prev_kv", 2)
	w.create(&pb.WatchCreateRequest{Key: []byte("c"), StartRevision: 3, WatchId: 21,
		Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}})
	expect("history of c without deletes", 2)
	w.create(&pb.WatchCreateRequest{Key: []byte("c"), StartRevision: 100, WatchId: 22,
		Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}})
	expect("from a future revision, without puts", 1)

	w.cancelWatch(0)
	expect("cancel", 1)
	w.cancelWatch(99)
	put("a", "2")
	expect("cancelling an unknown ID answers nothing; the put reaches the rest", 2)

	w.progress()
	expect("a progress request: every watcher is synced except the future one", 0)
	w.cancelWatch(22)
	expect("cancel the future watcher", 1)
	w.progress()
	expect("progress request", 1)

	if _, err := c.Compact(ctx, 7); err != nil {
		t.Fatal(err)
	}
	w.create(&pb.WatchCreateRequest{Key: []byte("a"), StartRevision: 6, WatchId: 30})
	expect("below the compaction revision", 2)
	w.create(&pb.WatchCreateRequest{Key: []byte("a"), StartRevision: 7, WatchId: 30})
	expect("the compacted watcher's ID is still taken", 1)
	w.cancelWatch(30)
	expect("until it is cancelled", 1)
	w.create(&pb.WatchCreateRequest{Key: []byte("a"), StartRevision: 7, WatchId: 30, PrevKv: true})
	expect("at the compaction revision: prev_kv below it is left out", 2)
	return out
}

// TestWatchLikeEtcd runs the same script against the real etcd and Cairn
// and compares the responses, headers included.
func TestWatchLikeEtcd(t *testing.T) {
	t.Parallel()
	var etcd, ours []string
	t.Run("etcd", func(t *testing.T) {
		etcd = watchScript(t, cairntest.StartEtcd(t, cairntest.EtcdConfig{}).Endpoint)
	})
	t.Run("cairn", func(t *testing.T) {
		ours = watchScript(t, cairntest.Start(t).Endpoint)
	})
	if etcd == nil {
		t.Log("cairn's responses:\n" + strings.Join(ours, "\n"))
		return // etcd not built: the script ran against Cairn alone
	}
	if !slices.Equal(etcd, ours) {
		t.Fatalf("responses differ\netcd:\n%s\n\ncairn:\n%s", strings.Join(etcd, "\n"), strings.Join(ours, "\n"))
	}
}
