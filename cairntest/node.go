package cairntest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/actors/transport/loopback"
	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/internal/probe"
	"github.com/cairnkv/cairn/raftactor"
)

// Node is a member started for a test.
type Node struct {
	*cairn.Node
	// Endpoint is the member's client address, host:port.
	Endpoint string
	// Client is an etcd client connected to the member.
	Client *clientv3.Client

	t      testing.TB
	cfg    cairn.Config
	system *actor.ActorSystem
	// net and addr connect the member to the other members of an
	// in-process cluster; nil for a lone member.
	net  *loopback.Network
	addr string
}

// Option changes the configuration of a test member.
type Option func(*cairn.Config)

// Start starts a member with its data in a new temporary directory, and stops
// it when the test ends.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	cfg := cairn.Config{Name: "test", DataDir: t.TempDir(), Logger: Logger(t)}
	for _, o := range opts {
		o(&cfg)
	}
	n := &Node{t: t, cfg: cfg}
	n.start()
	n.waitReady()
	t.Cleanup(n.Stop)
	return n
}

// start starts the member without waiting for it to be ready (a member of a
// cluster is ready only once a quorum has started).
func (n *Node) start() {
	t := n.t
	t.Helper()
	n.system = NewActorSystem(t)
	if n.net != nil {
		n.net.Join(n.system, n.addr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	n.Endpoint = l.Addr().String()
	n.cfg.AdvertiseClientURLs = []string{"http://" + n.Endpoint}
	node, err := cairn.Start(n.system, n.cfg)
	if err != nil {
		l.Close()
		t.Fatalf("start member: %v", err)
	}
	n.Node = node
	go func() { _ = node.Serve(l) }()
	n.Client = NewClient(t, n.Endpoint)
}

// waitReady waits until the member has published itself (see
// cairn.Node.Ready).
func (n *Node) waitReady() {
	n.t.Helper()
	select {
	case <-n.Ready():
	case <-n.Done():
		n.t.Fatalf("member %s stopped while starting: %v", n.cfg.Name, n.Err())
	case <-time.After(30 * time.Second):
		n.t.Fatalf("member %s not ready after 30s", n.cfg.Name)
	}
}

// What the tests read of the member beyond the root package's API
// (package internal/probe).

// Board returns the raft actor's status board.
func (n *Node) Board() *raftactor.Board { return probe.Of(n.Node).Board }

// FirstLogIndex returns the first index the member's raft log holds.
func (n *Node) FirstLogIndex() uint64 { return probe.Of(n.Node).FirstLogIndex() }

// PendingReads returns the linearizable reads waiting for a read index.
func (n *Node) PendingReads() int64 { return probe.Of(n.Node).PendingReads() }

// LeasesHeld returns the items the member's lessor holds in memory (zero
// on a member that does not lead).
func (n *Node) LeasesHeld() int64 { return probe.Of(n.Node).LeasesHeld() }

// WatchStats returns the watch hub's counters; read them only.
func (n *Node) WatchStats() *watch.Stats { return probe.Of(n.Node).WatchStats }

// System returns the actor system the member runs in.
func (n *Node) System() *actor.ActorSystem { return n.system }

// Stop stops the member (idempotent).
func (n *Node) Stop() {
	if n.Node == nil {
		return
	}
	n.Client.Close()
	if err := n.Node.Stop(); err != nil {
		n.t.Errorf("stop member: %v", err)
	}
	n.system.Shutdown()
	if n.net != nil {
		n.net.Leave(n.addr)
	}
	n.Node = nil
}

// Restart stops the member and starts it again on the same data, on a new
// port, with a new client.
func (n *Node) Restart() {
	n.t.Helper()
	n.Stop()
	n.start()
	n.waitReady()
}

// StartWith starts the member again on its data, stopping it first if it
// runs, with opts applied to its configuration (for example another
// Storage.FS: a crash clone of its filesystem), on a new port, with a new
// client. It does not wait for the member to be ready (WaitReady): a
// member that catches up from its peers is ready only once it has.
func (n *Node) StartWith(opts ...Option) {
	n.t.Helper()
	n.Stop()
	for _, o := range opts {
		o(&n.cfg)
	}
	n.start()
}

// WaitReady waits until the member has published itself (see
// cairn.Node.Ready), and fails the test if it stops first or takes more
// than 30s.
func (n *Node) WaitReady() {
	n.t.Helper()
	n.waitReady()
}

// Name returns the member's name.
func (n *Node) Name() string { return n.cfg.Name }

// Address returns the member's actor system address in its cluster.
func (n *Node) Address() string { return n.addr }

// Ctx returns a context that ends with the test or after a generous timeout.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// NewClient returns an etcd client for endpoint, closed when the test ends.
func NewClient(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// NewActorSystem returns an actor system that logs its warnings to the test.
func NewActorSystem(t testing.TB) *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return Logger(t).With("lib", "protoactor")
	}))
}

// Logger returns a logger that writes warnings and errors to the test log.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	// Cleanups run last-registered first: this one runs after those that
	// stop members registered later, so their last words are still logged.
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testWriter writes to t.Log until the test's cleanup, then nowhere: t.Log
// panics once a test has finished, and a stray actor may still log.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

var _ io.Writer = (*testWriter)(nil)

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
