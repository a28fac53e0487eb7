package frontdoor_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// Watch tests with the etcd client, against in-process members.

// collect reads events from wch until it has n, failing on an error or a
// closed channel or after the test context's timeout.
func collect(t *testing.T, wch clientv3.WatchChan, n int) []*clientv3.Event {
	t.Helper()
	var evs []*clientv3.Event
	timeout := time.After(20 * time.Second)
	for len(evs) < n {
		select {
		case wr, ok := <-wch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(evs), n)
			}
			if err := wr.Err(); err != nil {
				t.Fatalf("watch error after %d of %d events: %v", len(evs), n, err)
			}
			evs = append(evs, wr.Events...)
		case <-timeout:
			t.Fatalf("%d of %d events after 20s", len(evs), n)
		}
	}
	if len(evs) > n {
		t.Fatalf("%d events, want %d: %s", len(evs), n, eventsString(evs))
	}
	return evs
}

func eventsString(evs []*clientv3.Event) string {
	var out []string
	for _, ev := range evs {
		s := fmt.Sprintf("%s %s=%s@%d", ev.Type, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
		if ev.PrevKv != nil {
			s += fmt.Sprintf("(prev %s@%d)", ev.PrevKv.Value, ev.PrevKv.ModRevision)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func wantEvents(t *testing.T, evs []*clientv3.Event, want string) {
	t.Helper()
	if got := eventsString(evs); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
}

// TestWatchOptions exercises the client's watch options: a key, a range, a
// prefix, from a key; start revisions in the past, present and future;
// prev_kv; the put and delete filters; created notification; many watchers
// multiplexed on one stream (the client puts watchers of one context on one
// stream, with server-chosen IDs).
func TestWatchOptions(t *testing.T) {
	n := cairntest.Start(t)
	c := n.Client
	ctx := cairntest.Ctx(t)
	mustPut(t, c, "a", "1")                       // 2
	mustPut(t, c, "b/1", "1")                     // 3
	mustPut(t, c, "b/2", "1")                     // 4
	mustPut(t, c, "a", "2")                       // 5
	mustPut(t, c, "c", "1")                       // 6
	if _, err := c.Delete(ctx, "a"); err != nil { // 7
		t.Fatal(err)
	}

	key := c.Watch(ctx, "a", clientv3.WithCreatedNotify())
	created := <-key
	if !created.Created || created.Header.Revision != 7 {
		t.Fatalf("created notification %+v", created)
	}
	rng := c.Watch(ctx, "a", clientv3.WithRange("c"))
	prefix := c.Watch(ctx, "b/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	fromKey := c.Watch(ctx, "b", clientv3.WithFromKey(), clientv3.WithFilterPut())
	past := c.Watch(ctx, "a", clientv3.WithRev(2), clientv3.WithPrevKV())
	present := c.Watch(ctx, "a", clientv3.WithRev(7))
	future := c.Watch(ctx, "a", clientv3.WithRev(10), clientv3.WithFilterDelete())

	mustPut(t, c, "a", "3")                                               // 8
	mustPut(t, c, "b/1", "2")                                             // 9
	if _, err := c.Delete(ctx, "b/", clientv3.WithPrefix()); err != nil { // 10
		t.Fatal(err)
	}
	mustPut(t, c, "a", "4")                       // 11
	if _, err := c.Delete(ctx, "a"); err != nil { // 12
		t.Fatal(err)
	}

	wantEvents(t, collect(t, key, 3), "PUT a=3@8 PUT a=4@11 DELETE a=@12")
	wantEvents(t, collect(t, rng, 6), "PUT a=3@8 PUT b/1=2@9 DELETE b/1=@10 DELETE b/2=@10 PUT a=4@11 DELETE a=@12")
	wantEvents(t, collect(t, prefix, 3), "PUT b/1=2@9(prev 1@3) DELETE b/1=@10(prev 2@9) DELETE b/2=@10(prev 1@4)")
	wantEvents(t, collect(t, fromKey, 2), "DELETE b/1=@10 DELETE b/2=@10")
	wantEvents(t, collect(t, past, 6),
		"PUT a=1@2 PUT a=2@5(prev 1@2) DELETE a=@7(prev 2@5) PUT a=3@8 PUT a=4@11(prev 3@8) DELETE a=@12(prev 4@11)")
	wantEvents(t, collect(t, present, 4), "DELETE a=@7 PUT a=3@8 PUT a=4@11 DELETE a=@12")
	wantEvents(t, collect(t, future, 1), "PUT a=4@11")
	if st := n.WatchStats(); st.Streams.Load() != 1 || st.Watchers.Load() != 7 {
		t.Fatalf("one stream with 7 watchers expected: %d streams, %d watchers", st.Streams.Load(), st.Watchers.Load())
	}
}

// TestWatchCompactedRevision: a watch from a compacted revision ends with
// the compaction revision and etcd's error.
func TestWatchCompactedRevision(t *testing.T) {
	n := cairntest.Start(t)
	c := n.Client
	ctx := cairntest.Ctx(t)
	for i := range 5 {
		mustPut(t, c, "k", fmt.Sprint(i)) // 2..6
	}
	if _, err := c.Compact(ctx, 5); err != nil {
		t.Fatal(err)
	}
	wr := <-c.Watch(ctx, "k", clientv3.WithRev(3))
	if wr.CompactRevision != 5 || !wr.Canceled || !errors.Is(wr.Err(), rpctypes.ErrCompacted) {
		t.Fatalf("watch from a compacted revision: %+v, err %v", wr, wr.Err())
	}
	// At the compaction revision the history is there.
	wantEvents(t, collect(t, c.Watch(ctx, "k", clientv3.WithRev(5)), 2), "PUT k=3@5 PUT k=4@6")
	eventually(t, 10*time.Second, "the compacted watcher leaves the hub", func() bool {
		return n.WatchStats().Watchers.Load() == 1
	})
}

// TestWatchProgress: progress notifications every interval when nothing
// else is sent, and the answer to a progress request.
func TestWatchProgress(t *testing.T) {
	t.Parallel()
	n := cairntest.Start(t, func(c *cairn.Config) { c.Watch.ProgressNotifyInterval = 100 * time.Millisecond })
	c := n.Client
	ctx := cairntest.Ctx(t)
	mustPut(t, c, "other", "1")
	wch := c.Watch(ctx, "k", clientv3.WithProgressNotify())
	var wr clientv3.WatchResponse
	for wr = range wch {
		if wr.IsProgressNotify() {
			break
		}
	}
	if !wr.IsProgressNotify() || wr.Header.Revision != 2 {
		t.Fatalf("progress notification: %+v", wr)
	}
	mustPut(t, c, "other", "2")
	for wr = range wch {
		if wr.IsProgressNotify() && wr.Header.Revision == 3 {
			break
		}
		if len(wr.Events) > 0 || wr.Err() != nil {
			t.Fatalf("unexpected %+v", wr)
		}
	}

	// The progress request: every watcher of the stream is told.
	plain := c.Watch(ctx, "j")
	mustPut(t, c, "other", "3")
	if err := c.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	for wr = range plain {
		if wr.IsProgressNotify() {
			break
		}
	}
	if wr.Header.Revision != 4 {
		t.Fatalf("progress request answered at %d, want 4", wr.Header.Revision)
	}
}

// TestWatchFragment: with fragment, a response over the fragment size
// arrives in pieces that the client joins; without, in one.
func TestWatchFragment(t *testing.T) {
	n := cairntest.Start(t, func(c *cairn.Config) { c.Watch.FragmentBytes = 2000 })
	c := n.Client
	ctx := cairntest.Ctx(t)
	var ops []clientv3.Op
	for i := range 10 {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("k%d", i), strings.Repeat("v", 500)))
	}
	if _, err := c.Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
	// The client joins fragments: one response of 10 events.
	wr := <-c.Watch(ctx, "k", clientv3.WithPrefix(), clientv3.WithRev(2), clientv3.WithFragment())
	if len(wr.Events) != 10 {
		t.Fatalf("fragmented watch: %d events", len(wr.Events))
	}
	// On the wire: fragments of at most the fragment size.
	w := newRawWatch(t, c)
	w.create(&pbCreate{Key: []byte("k"), RangeEnd: []byte("l"), StartRevision: 2, Fragment: true})
	if r := w.recv(); !r.Created {
		t.Fatalf("want created, got %v", r)
	}
	events, pieces := 0, 0
	for {
		r := w.recv()
		pieces++
		events += len(r.Events)
		if size := proto.Size(r); size >= 2000 && len(r.Events) > 1 {
			t.Fatalf("fragment of %d bytes", size)
		}
		if !r.Fragment {
			break
		}
	}
	if events != 10 || pieces < 3 {
		t.Fatalf("%d events in %d pieces", events, pieces)
	}
}

// TestWatchResumeAfterRestart: a client watches from its last revision + 1
// after the member restarts and sees every event once.
func TestWatchResumeAfterRestart(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	for i := range 3 {
		mustPut(t, n.Client, "k", fmt.Sprint(i)) // 2..4
	}
	evs := collect(t, n.Client.Watch(ctx, "k", clientv3.WithRev(2)), 3)
	last := evs[len(evs)-1].Kv.ModRevision
	n.Restart()
	for i := 3; i < 6; i++ {
		mustPut(t, n.Client, "k", fmt.Sprint(i)) // 5..7
	}
	evs = collect(t, n.Client.Watch(ctx, "k", clientv3.WithRev(last+1)), 3)
	wantEvents(t, evs, "PUT k=3@5 PUT k=4@6 PUT k=5@7")
}

// TestWatchClientResumes: the etcd client resumes its watch by itself when
// the member goes away and comes back on the same address, from the
// revision after the last it received: no event lost, none twice.
func TestWatchClientResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", cairntest.FreePort(t))
	start := func() *cairn.Node {
		system := cairntest.NewActorSystem(t)
		node, err := cairn.Start(system, cairn.Config{Name: "m", DataDir: dir, Logger: cairntest.Logger(t),
			AdvertiseClientURLs: []string{"http://" + addr}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = node.Serve(l) }()
		<-node.Ready()
		return node
	}
	node := start()
	c := cairntest.NewClient(t, addr)
	ctx := cairntest.Ctx(t)
	wch := c.Watch(ctx, "k")
	put := func(i int) {
		t.Helper()
		for {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.Put(pctx, "k", fmt.Sprint(i))
			cancel()
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 {
		put(i)
	}
	got := collect(t, wch, 3)
	if err := node.Stop(); err != nil {
		t.Fatal(err)
	}
	node = start()
	defer node.Stop()
	for i := 3; i < 6; i++ {
		put(i)
	}
	got = append(got, collect(t, wch, 3)...)
	wantEvents(t, got, "PUT k=0@2 PUT k=1@3 PUT k=2@4 PUT k=3@5 PUT k=4@6 PUT k=5@7")
}

// TestWatchLeavesNothing: watchers cancelled, streams whose client cancels
// its context or closes, leave no stream and no watcher in the hub.
func TestWatchLeavesNothing(t *testing.T) {
	n := cairntest.Start(t)
	stats := n.WatchStats()
	ctx := cairntest.Ctx(t)

	// Watchers cancelled one by one (the client cancels each on the server).
	wctx, cancel := context.WithCancel(ctx)
	var chans []clientv3.WatchChan
	for i := range 20 {
		chans = append(chans, n.Client.Watch(wctx, fmt.Sprint("k", i), clientv3.WithCreatedNotify()))
	}
	for _, ch := range chans {
		<-ch
	}
	// Streams of another client that goes away.
	other := cairntest.NewClient(t, n.Endpoint)
	for i := range 5 {
		ch := other.Watch(clientv3.WithRequireLeader(ctx), fmt.Sprint("o", i), clientv3.WithCreatedNotify())
		<-ch
	}
	// A raw stream with watchers that is just dropped.
	w := newRawWatch(t, n.Client)
	for i := range 3 {
		w.create(&pbCreate{Key: []byte(fmt.Sprint("r", i))})
		w.recv()
	}
	eventually(t, 10*time.Second, "28 watchers", func() bool { return stats.Watchers.Load() == 28 })

	cancel()
	other.Close()
	w.cancel()
	eventually(t, 10*time.Second, "no stream and no watcher", func() bool {
		return stats.Streams.Load() == 0 && stats.Watchers.Load() == 0
	})
}

// TestWatchEventsInOrderUnderLoad: concurrent writers, several watchers
// from different revisions; each sees every event of its range once, in
// revision order.
func TestWatchEventsInOrderUnderLoad(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	c := n.Client
	const writers, each = 4, 50
	done := make(chan error, writers)
	watches := []clientv3.WatchChan{
		c.Watch(ctx, "w", clientv3.WithPrefix(), clientv3.WithCreatedNotify()),
		c.Watch(ctx, "w", clientv3.WithPrefix(), clientv3.WithRev(1)),
	}
	<-watches[0] // created: it sees every write below
	for w := range writers {
		go func() {
			for i := range each {
				if _, err := c.Put(ctx, fmt.Sprintf("w%d", w), fmt.Sprint(i)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	// One more, from the start, while the writes go on.
	watches = append(watches, c.Watch(ctx, "w", clientv3.WithPrefix(), clientv3.WithRev(1)))
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, wch := range watches {
		evs := collect(t, wch, writers*each)
		for i, ev := range evs {
			if i > 0 && ev.Kv.ModRevision <= evs[i-1].Kv.ModRevision {
				t.Fatalf("event %d at %d after %d", i, ev.Kv.ModRevision, evs[i-1].Kv.ModRevision)
			}
			if ev.Type != mvccpb.PUT {
				t.Fatalf("unexpected %v", ev)
			}
		}
	}
}

// TestWatchersPerStreamBounded: a stream's watchers hold at most
// --watch-watcher-bytes; one created beyond it is created canceled with the
// reason, the others go on, and a cancelled watcher makes room again.
func TestWatchersPerStreamBounded(t *testing.T) {
	// A watcher of one 5-byte key costs 384 + 2*(5+6) = 406 bytes: 9 fit.
	c := cairntest.Start(t, func(c *cairn.Config) { c.Watch.WatcherBytes = 9 * 406 }).Client
	ctx := cairntest.Ctx(t)
	created := func(ctx context.Context, key string) (clientv3.WatchChan, clientv3.WatchResponse) {
		t.Helper()
		wch := c.Watch(ctx, key, clientv3.WithCreatedNotify())
		select {
		case wr := <-wch:
			return wch, wr
		case <-time.After(20 * time.Second):
			t.Fatalf("watch of %s: no answer", key)
			return nil, clientv3.WatchResponse{}
		}
	}
	first, cancelFirst := context.WithCancel(ctx)
	firstCh, wr := created(first, "k-000")
	if !wr.Created || wr.Canceled {
		t.Fatalf("first watch: %+v", wr)
	}
	var last clientv3.WatchChan
	for i := 1; i < 9; i++ {
		wch, wr := created(ctx, fmt.Sprintf("k-%03d", i))
		if !wr.Created || wr.Canceled {
			t.Fatalf("watch %d: %+v", i, wr)
		}
		last = wch
	}
	_, wr = created(ctx, "k-009")
	if !wr.Canceled || !strings.Contains(wr.Err().Error(), "too many watchers") {
		t.Fatalf("tenth watch: canceled %v, %v; want canceled for too many watchers", wr.Canceled, wr.Err())
	}
	// The nine go on.
	if _, err := c.Put(ctx, "k-008", "v"); err != nil {
		t.Fatal(err)
	}
	if evs := collect(t, last, 1); string(evs[0].Kv.Key) != "k-008" {
		t.Fatalf("watch of k-008 got %q", evs[0].Kv.Key)
	}
	cancelFirst()
	for range firstCh {
		// Closed once the member has cancelled it.
	}
	if _, wr := created(ctx, "k-010"); !wr.Created || wr.Canceled {
		t.Fatalf("watch after a cancel: %+v", wr)
	}
}
