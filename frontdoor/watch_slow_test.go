package frontdoor_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// TestWatchSlowWatchersBoundedHeap: 1,000 watchers on 100 streams, all
// watching every write; the clients of 80 streams (800 watchers) never
// read. While 600 writes go on, the member's Go heap stays within a fixed
// bound (with unbounded queues, measured: +139 MiB), the 200 fast watchers
// see every event once, in order, and the slow ones fall back on history.
// Then ten slow clients read: they receive every event once, in order, from
// history and then live; and when all leave, the hub holds nothing.
func TestWatchSlowWatchersBoundedHeap(t *testing.T) {
	const (
		streams, slowStreams, perStream = 100, 80, 10
		writes, valueBytes              = 600, 128
		heapBound                       = 64 << 20
	)
	n := cairntest.Start(t, func(c *cairn.Config) {
		c.Watch.QueueBytes = 64 << 10
		c.Watch.PullBytes = 32 << 10
	})
	ctx, cancel := context.WithCancel(cairntest.Ctx(t))
	defer cancel()
	// The slow streams' connection has fixed 64 KiB flow-control windows, so
	// that their unread bytes in this process (the client's side) stay
	// small: the bound is about the member.
	slowConn, err := grpc.NewClient(n.Endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer slowConn.Close()
	fastConn := n.Client.ActiveConnection()

	type watchStream struct {
		s      pb.Watch_WatchClient
		ids    []int64
		next   map[int64]int64 // next revision each watcher expects
		events int
	}
	open := func(conn grpc.ClientConnInterface, i int) *watchStream {
		s, err := pb.NewWatchClient(conn).Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ws := &watchStream{s: s, next: map[int64]int64{}}
		for j := range perStream {
			id := int64(0) // half server-chosen, half client-chosen
			if j%2 == 1 {
				id = int64(100 + j)
			}
			err := s.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
				Key: []byte("s/"), RangeEnd: []byte("s0"), WatchId: id}}})
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Recv()
			if err != nil || !r.Created || r.Canceled {
				t.Fatalf("stream %d watcher %d: %v %v", i, j, r, err)
			}
			ws.ids = append(ws.ids, r.WatchId)
			ws.next[r.WatchId] = r.Header.Revision + 1
		}
		return ws
	}
	var all []*watchStream
	for i := range streams {
		conn := grpc.ClientConnInterface(fastConn)
		if i < slowStreams {
			conn = slowConn
		}
		all = append(all, open(conn, i))
	}
	slow, fast := all[:slowStreams], all[slowStreams:]
	start := mustGet(t, n.Client, "x").Header.Revision
	final := start + writes

	// drain reads a stream until each watcher has seen revision final,
	// checking that every revision comes once, in order.
	drain := func(ws *watchStream) error {
		for {
			done := true
			for _, id := range ws.ids {
				done = done && ws.next[id] > final
			}
			if done {
				return nil
			}
			r, err := ws.s.Recv()
			if err != nil {
				return err
			}
			for _, ev := range r.Events {
				if want := ws.next[r.WatchId]; ev.Kv.ModRevision != want {
					return fmt.Errorf("watcher %d: event at %d, want %d", r.WatchId, ev.Kv.ModRevision, want)
				}
				ws.next[r.WatchId]++
				ws.events++
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for _, ws := range fast {
		wg.Go(func() { errs <- drain(ws) })
	}

	before := heapInUse()
	value := strings.Repeat("v", valueBytes)
	var writers sync.WaitGroup
	for w := range 8 {
		writers.Go(func() {
			for i := w; i < writes; i += 8 {
				if _, err := n.Client.Put(ctx, fmt.Sprintf("s/%d", i), value); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	writers.Wait()
	wg.Wait()
	for range fast {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Every fast watcher has seen every write; the slow ones have read
	// nothing. The member holds what the slow streams' queues and gRPC's
	// windows allow, not what they missed.
	after := heapInUse()
	lagged := n.WatchStats().Lagged.Load()
	t.Logf("heap in use: %d MiB before the writes, %d MiB after (bound +%d MiB); %d watchers lagged",
		before>>20, after>>20, heapBound>>20, lagged)
	if after > before+heapBound {
		t.Fatalf("heap grew by %d MiB with %d watchers not reading (bound %d MiB)",
			(after-before)>>20, slowStreams*perStream, heapBound>>20)
	}
	if lagged < slowStreams*perStream {
		t.Fatalf("%d watchers lagged, want at least the %d slow ones", lagged, slowStreams*perStream)
	}

	// Ten of the slow clients read now: history, then live, without a gap.
	// A write while they catch up reaches them too.
	final++
	readers := slow[:10]
	for _, ws := range readers {
		wg.Go(func() { errs <- drain(ws) })
	}
	mustPut(t, n.Client, "s/last", "v")
	wg.Wait()
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, ws := range append(fast, readers...) {
		want := perStream * writes
		if slices.Contains(readers, ws) {
			want += perStream
		}
		if ws.events != want {
			t.Fatalf("a stream received %d events, want %d", ws.events, want)
		}
	}

	cancel()
	eventually(t, 10*time.Second, "the hub empties", func() bool {
		st := n.WatchStats()
		return st.Streams.Load() == 0 && st.Watchers.Load() == 0
	})
}

// heapInUse returns the Go heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
