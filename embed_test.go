package cairn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// inProcess returns an in-process client of n, closed when the test ends.
func inProcess(t *testing.T, n *cairntest.Node, cfg clientv3.Config) *clientv3.Client {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	c, err := n.Node.Client(cfg)
	if err != nil {
		t.Fatalf("in-process client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEmbedClientKVTxnWatch(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	c := inProcess(t, n, clientv3.Config{})

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := c.Watch(wctx, "k", clientv3.WithPrefix())

	put, err := c.Put(ctx, "k1", "v1")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if put.Header.MemberId != n.ID() || put.Header.ClusterId != n.ClusterID() {
		t.Fatalf("header %v, want member %x of cluster %x", put.Header, n.ID(), n.ClusterID())
	}
	get, err := c.Get(ctx, "k1")
	if err != nil || len(get.Kvs) != 1 || string(get.Kvs[0].Value) != "v1" {
		t.Fatalf("get: %v, %v", get, err)
	}
	txn, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.Value("k1"), "=", "v1")).
		Then(clientv3.OpPut("k2", "v2")).
		Else(clientv3.OpPut("k2", "wrong")).
		Commit()
	if err != nil || !txn.Succeeded {
		t.Fatalf("txn: %v, %v", txn, err)
	}
	// What the in-process client wrote, a TCP client reads, and the
	// other way round: one member behind both.
	if got, err := n.Client.Get(ctx, "k2"); err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "v2" {
		t.Fatalf("get k2 over TCP: %v, %v", got, err)
	}
	if _, err := n.Client.Put(ctx, "k3", "v3"); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for len(seen) < 3 {
		wr, ok := <-wch
		if !ok {
			t.Fatalf("watch closed after %v", seen)
		}
		if err := wr.Err(); err != nil {
			t.Fatalf("watch: %v", err)
		}
		for _, ev := range wr.Events {
			seen = append(seen, fmt.Sprintf("%s=%s", ev.Kv.Key, ev.Kv.Value))
		}
	}
	if got := strings.Join(seen, " "); got != "k1=v1 k2=v2 k3=v3" {
		t.Fatalf("watched %q", got)
	}
}

// twoSessions returns two sessions of c, closed when the test ends.
func twoSessions(t *testing.T, c *clientv3.Client) (*concurrency.Session, *concurrency.Session) {
	t.Helper()
	var ss [2]*concurrency.Session
	for i := range ss {
		s, err := concurrency.NewSession(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ss[i] = s
	}
	return ss[0], ss[1]
}

func TestEmbedClientConcurrency(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	c := inProcess(t, n, clientv3.Config{})

	t.Run("Mutex", func(t *testing.T) {
		s1, s2 := twoSessions(t, c)
		m1, m2 := concurrency.NewMutex(s1, "/lock"), concurrency.NewMutex(s2, "/lock")
		if err := m1.Lock(ctx); err != nil {
			t.Fatalf("lock 1: %v", err)
		}
		if err := m2.TryLock(ctx); !errors.Is(err, concurrency.ErrLocked) {
			t.Fatalf("second TryLock while held: %v, want %v", err, concurrency.ErrLocked)
		}
		locked := make(chan error, 1)
		go func() { locked <- m2.Lock(ctx) }()
		if err := m1.Unlock(ctx); err != nil {
			t.Fatalf("unlock 1: %v", err)
		}
		if err := <-locked; err != nil {
			t.Fatalf("lock 2 after unlock 1: %v", err)
		}
		if err := m2.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Election", func(t *testing.T) {
		s1, s2 := twoSessions(t, c)
		e1, e2 := concurrency.NewElection(s1, "/election"), concurrency.NewElection(s2, "/election")
		if err := e1.Campaign(ctx, "one"); err != nil {
			t.Fatalf("campaign 1: %v", err)
		}
		obs := e2.Observe(ctx)
		if lead := <-obs; string(lead.Kvs[0].Value) != "one" {
			t.Fatalf("observed leader %q, want one", lead.Kvs[0].Value)
		}
		won := make(chan error, 1)
		go func() { won <- e2.Campaign(ctx, "two") }()
		if err := e1.Resign(ctx); err != nil {
			t.Fatalf("resign 1: %v", err)
		}
		if err := <-won; err != nil {
			t.Fatalf("campaign 2: %v", err)
		}
		for lead := range obs {
			if string(lead.Kvs[0].Value) == "two" {
				break
			}
		}
		if lead, err := e1.Leader(ctx); err != nil || string(lead.Kvs[0].Value) != "two" {
			t.Fatalf("leader after resign: %v, %v", lead, err)
		}
	})

	t.Run("STM", func(t *testing.T) {
		// Concurrent transfers between two accounts: serializable STM
		// keeps their sum.
		if _, err := c.Put(ctx, "/a", "100"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(ctx, "/b", "0"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := concurrency.NewSTM(c, func(s concurrency.STM) error {
					var a, b int
					fmt.Sscan(s.Get("/a"), &a)
					fmt.Sscan(s.Get("/b"), &b)
					s.Put("/a", fmt.Sprint(a-10))
					s.Put("/b", fmt.Sprint(b+10))
					return nil
				}, concurrency.WithAbortContext(ctx))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("stm: %v", err)
			}
		}
		get, err := c.Get(ctx, "/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, kv := range get.Kvs {
			got[string(kv.Key)] = string(kv.Value)
		}
		if got["/a"] != "0" || got["/b"] != "100" {
			t.Fatalf("after 10 transfers of 10: a=%s b=%s, want 0 and 100", got["/a"], got["/b"])
		}
	})
}

func TestEmbedClientAuth(t *testing.T) {
	n := cairntest.Start(t, func(cfg *cairn.Config) { cfg.BcryptCost = 4 })
	ctx := cairntest.Ctx(t)
	admin := inProcess(t, n, clientv3.Config{})
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.UserAdd(ctx, "alice", "alicepw"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "app"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "app", "app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := admin.UserGrantRole(ctx, "alice", "app"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("set up auth: %v", err)
		}
	}

	// Without credentials, the in-process client is refused as a TCP one
	// is: auth applies to it, it is no back door.
	if _, err := admin.Get(ctx, "app/x"); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Fatalf("get without a user: %v, want %v", err, rpctypes.ErrUserEmpty)
	}
	alice := inProcess(t, n, clientv3.Config{Username: "alice", Password: "alicepw"})
	if _, err := alice.Put(ctx, "app/x", "1"); err != nil {
		t.Fatalf("alice puts in her prefix: %v", err)
	}
	if get, err := alice.Get(ctx, "app/x"); err != nil || len(get.Kvs) != 1 {
		t.Fatalf("alice gets in her prefix: %v, %v", get, err)
	}
	if _, err := alice.Put(ctx, "other", "1"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("alice puts outside her prefix: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	if _, err := alice.Get(ctx, "other"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("alice gets outside her prefix: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	if _, err := n.Node.Client(clientv3.Config{Username: "alice", Password: "wrong", Logger: zap.NewNop()}); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("client with a wrong password: %v, want %v", err, rpctypes.ErrAuthFailed)
	}
}

func TestEmbedClientCloseAndStop(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	first := inProcess(t, n, clientv3.Config{})
	if _, err := first.Put(ctx, "k", "1"); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Closing a client stops nothing else: the member serves on, to TCP
	// and to new in-process clients.
	select {
	case <-n.Done():
		t.Fatalf("member stopped with its client: %v", n.Err())
	default:
	}
	if _, err := n.Client.Put(ctx, "k", "2"); err != nil {
		t.Fatalf("TCP put after an in-process client closed: %v", err)
	}
	c := inProcess(t, n, clientv3.Config{})
	if get, err := c.Get(ctx, "k"); err != nil || string(get.Kvs[0].Value) != "2" {
		t.Fatalf("get from a second in-process client: %v, %v", get, err)
	}

	// A client with a watch open does not hold the stop up: Stop closes
	// it, and its watch channel closes.
	wch := c.Watch(ctx, "k")
	if _, err := c.Put(ctx, "k", "3"); err != nil {
		t.Fatal(err)
	}
	if wr := <-wch; len(wr.Events) != 1 {
		t.Fatalf("watch: %v", wr)
	}
	member := n.Node
	n.Stop()
	for range wch { // closed by Stop
	}
	if _, err := c.Get(ctx, "k"); status.Code(err) != codes.Canceled {
		t.Fatalf("get on a client of a stopped member: %v, want code %v", err, codes.Canceled)
	}
	if _, err := member.Client(clientv3.Config{}); !errors.Is(err, cairn.ErrStopped) {
		t.Fatalf("client of a stopped member: %v, want %v", err, cairn.ErrStopped)
	}
}

// app is an application's actor that runs a member as its child.
type app struct {
	cfg     cairn.Config
	started chan<- *cairn.Node
	failed  chan<- error
}

func (a *app) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		ctx.Spawn(cairn.Props(a.cfg, func(n *cairn.Node, err error) {
			if err != nil {
				a.failed <- err
				return
			}
			a.started <- n
		}))
	}
}

func TestEmbedPropsChildOfAnApplicationActor(t *testing.T) {
	dir := t.TempDir()
	cfg := cairn.Config{Name: "child", DataDir: dir, Logger: cairntest.Logger(t)}
	system := cairntest.NewActorSystem(t)
	started, failed := make(chan *cairn.Node, 1), make(chan error, 1)
	parent := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &app{cfg: cfg, started: started, failed: failed}
	}))
	var n *cairn.Node
	select {
	case n = <-started:
	case err := <-failed:
		t.Fatalf("member did not start: %v", err)
	}
	if got := n.PID().GetId(); !strings.HasPrefix(got, parent.GetId()+"/") {
		t.Fatalf("member's supervisor %s is not below the application's actor %s", got, parent.GetId())
	}
	<-n.Ready()
	ctx := cairntest.Ctx(t)
	c, err := n.Client(clientv3.Config{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	const writes = 50
	for i := 0; i < writes; i++ {
		if _, err := c.Put(ctx, fmt.Sprintf("k%02d", i), fmt.Sprint(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}

	// Stopping the parent stops the member: its actors, then its
	// storage, before the parent is reported stopped.
	if err := system.Root.StopFuture(parent).Wait(); err != nil {
		t.Fatalf("stop the application's actor: %v", err)
	}
	select {
	case <-n.Done():
	default:
		t.Fatal("member's actors still run after the parent stopped")
	}
	if err := n.Err(); err != nil {
		t.Fatalf("member stopped with %v, want a clean stop", err)
	}
	if err := n.Stop(); err != nil { // already stopped: returns at once
		t.Fatalf("stop after the parent's stop: %v", err)
	}
	if _, err := c.Get(ctx, "k00"); status.Code(err) != codes.Canceled {
		t.Fatalf("in-process client after the stop: %v, want code %v", err, codes.Canceled)
	}

	// The data directory opens again (pebble's lock is released), with
	// every acknowledged write.
	again, err := cairn.Start(cairntest.NewActorSystem(t), cfg)
	if err != nil {
		t.Fatalf("reopen the data dir: %v", err)
	}
	defer again.Stop()
	<-again.Ready()
	c2, err := again.Client(clientv3.Config{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	get, err := c2.Get(ctx, "k", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(get.Kvs) != writes {
		t.Fatalf("after reopening: %d keys, want %d", len(get.Kvs), writes)
	}
	for i, kv := range get.Kvs {
		if string(kv.Value) != fmt.Sprint(i) {
			t.Fatalf("after reopening: %s=%s, want %d", kv.Key, kv.Value, i)
		}
	}
}

func TestEmbedPropsReportsAFailedStart(t *testing.T) {
	system := cairntest.NewActorSystem(t)
	started, failed := make(chan *cairn.Node, 1), make(chan error, 1)
	system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &app{cfg: cairn.Config{Name: "child"}, started: started, failed: failed}
	}))
	select {
	case n := <-started:
		n.Stop()
		t.Fatal("a member without a data dir started")
	case err := <-failed:
		if !strings.Contains(err.Error(), "data dir") {
			t.Fatalf("start without a data dir: %v, want an error naming the data dir", err)
		}
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		field string
		cfg   cairn.Config
	}{
		{"data dir", cairn.Config{}},
		{"initial cluster state", cairn.Config{DataDir: dir, InitialClusterState: "old"}},
		{"max-request-bytes", cairn.Config{DataDir: dir, MaxRequestBytes: -1}},
		{"max-txn-ops", cairn.Config{DataDir: dir, MaxTxnOps: -1}},
		{"bcrypt-cost", cairn.Config{DataDir: dir, BcryptCost: 100}},
		{"auth-token-ttl", cairn.Config{DataDir: dir, AuthTokenTTL: -1}},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("config %+v: %v, want an error naming %s", tc.cfg, err, tc.field)
		}
		if _, err := cairn.Start(cairntest.NewActorSystem(t), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("start with config %+v: %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	if err := (cairn.Config{DataDir: t.TempDir()}).Validate(); err != nil {
		t.Errorf("a config with only its data dir: %v", err)
	}
}
