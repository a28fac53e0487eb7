package frontdoor_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn/cairntest"
)

// The etcd client's recipes (go.etcd.io/etcd/client/v3/concurrency), used
// unchanged by several contending clients, against the real etcd (when
// tools/bin/etcd is built) and against Cairn. Mutex and Election wait for
// deletions with Watch: they are skipped on a member that does not serve the
// Watch service.

// onBoth runs test against a real etcd and against a Cairn member, each
// given the endpoint to connect to.
func onBoth(t *testing.T, test func(t *testing.T, endpoint string)) {
	t.Run("etcd", func(t *testing.T) {
		test(t, cairntest.StartEtcd(t, cairntest.EtcdConfig{}).Endpoint)
	})
	t.Run("cairn", func(t *testing.T) {
		test(t, cairntest.Start(t, fastLeases).Endpoint)
	})
}

// needWatch skips the test if the member does not serve Watch.
func needWatch(t *testing.T, c *clientv3.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, err := pb.NewWatchClient(c.ActiveConnection()).Watch(ctx)
	if err == nil {
		err = w.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{
			CreateRequest: &pb.WatchCreateRequest{Key: []byte("recipes/probe")}}})
	}
	if err == nil {
		_, err = w.Recv()
	}
	if status.Code(err) == codes.Unimplemented {
		t.Skip("the Watch service is not served yet; Mutex and Election need it")
	}
	if err != nil {
		t.Fatalf("watch probe: %v", err)
	}
}

func TestRecipeSession(t *testing.T) {
	onBoth(t, func(t *testing.T, endpoint string) {
		c, ctx := cairntest.NewClient(t, endpoint), cairntest.Ctx(t)
		s, err := concurrency.NewSession(c, concurrency.WithTTL(2))
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, c, "session/k", "v", clientv3.WithLease(s.Lease()))
		// The session keeps its lease alive; revoking it elsewhere ends the
		// session (the keep-alive answers TTL 0).
		if _, err := cairntest.NewClient(t, endpoint).Revoke(ctx, s.Lease()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session not done after its lease was revoked")
		}
		if get := mustGet(t, c, "session/k"); len(get.Kvs) != 0 {
			t.Fatal("key of the revoked session remains")
		}

		// Closing a session revokes its lease.
		s2, err := concurrency.NewSession(c, concurrency.WithTTL(2))
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, c, "session/k2", "v", clientv3.WithLease(s2.Lease()))
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
		if ttl, err := c.TimeToLive(ctx, s2.Lease()); err != nil || ttl.TTL != -1 {
			t.Fatalf("time to live of a closed session's lease = %d, %v", ttl.TTL, err)
		}
		if get := mustGet(t, c, "session/k2"); len(get.Kvs) != 0 {
			t.Fatal("key of the closed session remains")
		}
	})
}

func TestRecipeSTM(t *testing.T) {
	onBoth(t, func(t *testing.T, endpoint string) {
		ctx := cairntest.Ctx(t)
		const accounts, balance, clients, transfers = 5, 100, 4, 20
		c0 := cairntest.NewClient(t, endpoint)
		for i := 0; i < accounts; i++ {
			mustPut(t, c0, fmt.Sprint("stm/", i), strconv.Itoa(balance))
		}
		var wg sync.WaitGroup
		for w := 0; w < clients; w++ {
			c := cairntest.NewClient(t, endpoint)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < transfers; i++ {
					from, to := fmt.Sprint("stm/", (w+i)%accounts), fmt.Sprint("stm/", (w+2*i+1)%accounts)
					if from == to {
						continue
					}
					_, err := concurrency.NewSTM(c, func(s concurrency.STM) error {
						a, _ := strconv.Atoi(s.Get(from))
						b, _ := strconv.Atoi(s.Get(to))
						amount := min(a, 7)
						s.Put(from, strconv.Itoa(a-amount))
						s.Put(to, strconv.Itoa(b+amount))
						return nil
					}, concurrency.WithAbortContext(ctx))
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		get := mustGet(t, c0, "stm/", clientv3.WithPrefix())
		total := 0
		for _, kv := range get.Kvs {
			v, _ := strconv.Atoi(string(kv.Value))
			total += v
		}
		if total != accounts*balance {
			t.Fatalf("total after concurrent transfers = %d, want %d", total, accounts*balance)
		}
	})
}

func TestRecipeMutex(t *testing.T) {
	onBoth(t, func(t *testing.T, endpoint string) {
		c0, ctx := cairntest.NewClient(t, endpoint), cairntest.Ctx(t)
		needWatch(t, c0)
		const clients, rounds = 4, 5
		var inside, maxInside atomic.Int32
		var wg sync.WaitGroup
		for w := 0; w < clients; w++ {
			c := cairntest.NewClient(t, endpoint)
			s, err := concurrency.NewSession(c, concurrency.WithTTL(5))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			m := concurrency.NewMutex(s, "mutex/lock")
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					if err := m.Lock(ctx); err != nil {
						t.Error(err)
						return
					}
					now := inside.Add(1)
					for {
						prev := maxInside.Load()
						if now <= prev || maxInside.CompareAndSwap(prev, now) {
							break
						}
					}
					// A read-modify-write that only the lock makes safe.
					get, err := c.Get(ctx, "mutex/counter")
					if err == nil {
						v := 0
						if len(get.Kvs) == 1 {
							v, _ = strconv.Atoi(string(get.Kvs[0].Value))
						}
						_, err = c.Put(ctx, "mutex/counter", strconv.Itoa(v+1))
					}
					inside.Add(-1)
					if err != nil {
						t.Error(err)
					}
					if err := m.Unlock(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if maxInside.Load() != 1 {
			t.Fatalf("%d clients held the lock at once", maxInside.Load())
		}
		get := mustGet(t, c0, "mutex/counter")
		if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != strconv.Itoa(clients*rounds) {
			t.Fatalf("counter = %v, want %d", get.Kvs, clients*rounds)
		}

		// TryLock fails while another session holds the lock; the lock is
		// released when the holder's session ends.
		s1, err := concurrency.NewSession(c0)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := concurrency.NewSession(cairntest.NewClient(t, endpoint))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		m1, m2 := concurrency.NewMutex(s1, "mutex/try"), concurrency.NewMutex(s2, "mutex/try")
		if err := m1.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m2.TryLock(ctx); err != concurrency.ErrLocked {
			t.Fatalf("TryLock of a held lock = %v, want ErrLocked", err)
		}
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m2.Lock(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRecipeElection(t *testing.T) {
	onBoth(t, func(t *testing.T, endpoint string) {
		ctx := cairntest.Ctx(t)
		needWatch(t, cairntest.NewClient(t, endpoint))
		session := func() *concurrency.Session {
			s, err := concurrency.NewSession(cairntest.NewClient(t, endpoint), concurrency.WithTTL(5))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		octx, cancel := context.WithCancel(ctx)
		defer cancel()
		observed := concurrency.NewElection(session(), "election/").Observe(octx)
		waitObserved := func(want string) {
			t.Helper()
			for {
				select {
				case r, ok := <-observed:
					if !ok {
						t.Fatal("observe channel closed")
					}
					if string(r.Kvs[0].Value) == want {
						return
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("leader %q not observed", want)
				}
			}
		}

		e1 := concurrency.NewElection(session(), "election/")
		if err := e1.Campaign(ctx, "one"); err != nil {
			t.Fatal(err)
		}
		waitObserved("one")

		// Two more campaign: each waits until the leaders before it resign,
		// then leads and resigns.
		won := make(chan string, 2)
		var wg sync.WaitGroup
		defer wg.Wait()
		cctx, stopCampaigns := context.WithCancel(ctx)
		defer stopCampaigns() // before wg.Wait, should the test fail
		for _, name := range []string{"two", "three"} {
			e := concurrency.NewElection(session(), "election/")
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.Campaign(cctx, name); err != nil {
					t.Error(err)
					won <- ""
					return
				}
				won <- name
				if err := e.Resign(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		if err := e1.Proclaim(ctx, "one-again"); err != nil {
			t.Fatal(err)
		}
		waitObserved("one-again")
		select {
		case w := <-won:
			t.Fatalf("%q won while one leads", w)
		default:
		}
		if l, err := e1.Leader(ctx); err != nil || string(l.Kvs[0].Value) != "one-again" {
			t.Fatalf("leader = %v, %v", l, err)
		}
		if err := e1.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			select {
			case w := <-won:
				if w == "" {
					t.Fatal("campaign failed")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no campaigner won after the leader resigned")
			}
		}
	})
}
