package frontdoor_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairnkv/cairn/cairntest"
)

// BenchmarkWatchFanout: 10,000 watchers (100 gRPC streams of 100, over 10
// connections) all watch one prefix; concurrent writers put b.N keys under
// it, so each put is delivered 10,000 times. The same workload runs against
// a Cairn member and the real etcd, each its own process (the Cairn binary
// is built from cmd/node; etcd is tools/bin/etcd, skipped if not built).
// It reports events delivered per second and the server's resident memory
// per watcher (the growth of its RSS while the watchers are created), and
// its RSS after the run. Run it with a fixed count, since its setup is
// heavy:
//
//	go test ./frontdoor -run '^$' -bench WatchFanout -benchtime 2000x
func BenchmarkWatchFanout(b *testing.B) {
	b.Run("server=cairn", func(b *testing.B) {
		s := cairntest.StartNodeProcess(b, "", "--name", "bench")
		benchWatchFanout(b, s.Endpoint, s.Pid())
	})
	b.Run("server=etcd", func(b *testing.B) {
		s := cairntest.StartEtcd(b, cairntest.EtcdConfig{})
		benchWatchFanout(b, s.Endpoint, s.Pid())
	})
}

// benchWatchFanout runs the workload against the server process at
// endpoint, whose process ID is pid.
func benchWatchFanout(b *testing.B, endpoint string, pid int) {
	const (
		conns, streamsPerConn, watchersPerStream = 10, 10, 100
		watchers                                 = conns * streamsPerConn * watchersPerStream
		writers, valueBytes                      = 4, 128
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := cairntest.NewClient(b, endpoint)
	if _, err := c.Put(ctx, "warm", "up"); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second) // let the server settle before the baseline
	before := rssBytes(b, pid)

	var delivered atomic.Int64
	want := int64(b.N) * watchers
	done := make(chan struct{})
	var streams []pb.Watch_WatchClient
	for range conns {
		conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		for range streamsPerConn {
			st, err := pb.NewWatchClient(conn).Watch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for range watchersPerStream {
				err := st.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{
					CreateRequest: &pb.WatchCreateRequest{Key: []byte("bench/"), RangeEnd: []byte("bench0")}}})
				if err != nil {
					b.Fatal(err)
				}
			}
			for range watchersPerStream {
				if r, err := st.Recv(); err != nil || !r.Created {
					b.Fatalf("create: %v %v", r, err)
				}
			}
			streams = append(streams, st)
		}
	}
	time.Sleep(time.Second)
	idle := rssBytes(b, pid)
	for _, st := range streams {
		go func() {
			for {
				r, err := st.Recv()
				if err != nil {
					return
				}
				if delivered.Add(int64(len(r.Events))) == want {
					close(done)
				}
			}
		}()
	}

	value := strings.Repeat("v", valueBytes)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range writers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if _, err := c.Put(ctx, fmt.Sprintf("bench/%d", i%100), value); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d events delivered after 5 minutes", delivered.Load(), want)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := rssBytes(b, pid)
	b.ReportMetric(float64(want)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(int64(idle)-int64(before))/watchers, "B/watcher")
	b.ReportMetric(float64(after)/(1<<20), "rss-MiB")
}

// rssBytes reads a process's resident set size from /proc.
func rssBytes(b *testing.B, pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
