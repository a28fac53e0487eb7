package cairn

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairnkv/cairn/actors/apply"
	"github.com/cairnkv/cairn/actors/compactor"
	"github.com/cairnkv/cairn/actors/lessor"
	"github.com/cairnkv/cairn/actors/logcompactor"
	"github.com/cairnkv/cairn/actors/node"
	"github.com/cairnkv/cairn/actors/readindex"
	"github.com/cairnkv/cairn/actors/snapshot"
	"github.com/cairnkv/cairn/actors/transport"
	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/frontdoor"
	"github.com/cairnkv/cairn/gateway"
	"github.com/cairnkv/cairn/internal/probe"
	"github.com/cairnkv/cairn/metrics"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/statuspage"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
	"github.com/cairnkv/cairn/storage/raftlog"
	"github.com/cairnkv/cairn/tracing"
)

// ErrRemoved is Node.Err after the cluster removed the member: it stops, as
// etcd's removed members do.
var ErrRemoved = node.ErrRemoved

// Node is a running member.
type Node struct {
	cfg    Config
	system *actor.ActorSystem
	pid    *actor.PID
	engine *storage.Engine
	store  *mvcc.Store
	board  *raftactor.Board
	log    *raftlog.Log
	front  *frontdoor.Server
	id     *cairnpb.Identity

	pendingReads atomic.Int64   // reads waiting in the read-index actor
	leasesHeld   atomic.Int64   // items the lessor holds in memory
	watchStats   watch.Stats    // written by the watch hub
	snapStats    snapshot.Stats // written by snapshot senders and the receiver
	keys         apply.KeyCount
	metrics      *metrics.Member  // observe.go
	status       *statuspage.Page // status.go

	grpc *grpc.Server // serves the front door for Serve
	// http serves the HTTP requests of Serve's listeners (package
	// gateway), through gw, a connection to grpc over inProcess.
	http *http.Server
	gw   *grpc.ClientConn

	// inProcess is the listener of in-process clients (inprocess.go),
	// served by grpc.
	inProcess *pipeListener
	clientsMu sync.Mutex
	clients   map[*clientv3.Client]struct{} // nil once Stop began

	// host is the actor Props spawns, the supervisor's parent; nil for
	// a member started with Start.
	host      *actor.PID
	stopOnce  sync.Once
	closeOnce sync.Once
	closed    chan struct{} // closed once the storage is closed
	closeErr  error         // the storage's close; set before closed is closed
	stopping  chan struct{} // closed when Stop begins
	ready     chan struct{} // closed once the member's attributes are published
	done      chan struct{} // closed when the member's actors have stopped
	err       error         // why they stopped; set before done is closed
}

// Start opens (or creates) the member's data and starts its actors in system,
// under a supervisor named Config.ActorName at the top of the system.
func Start(system *actor.ActorSystem, cfg Config) (*Node, error) {
	return open(system, system.Root, cfg)
}

// open opens the member's data and spawns its supervisor with spawner.
func open(system *actor.ActorSystem, spawner actor.SpawnerContext, cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cairn: create data dir: %w", err)
	}
	so := cfg.Storage
	if so.Logger == nil {
		so.Logger = cfg.Logger.With("member", cfg.Name)
	}
	engine, err := storage.Open(cfg.DataDir, so)
	if err != nil {
		return nil, err
	}
	n, err := start(system, spawner, cfg, engine)
	if err != nil {
		engine.Close()
		return nil, err
	}
	return n, nil
}

func start(system *actor.ActorSystem, spawner actor.SpawnerContext, cfg Config, engine *storage.Engine) (*Node, error) {
	id, seed, err := identity(system, engine, cfg)
	if err != nil {
		return nil, err
	}
	store, err := mvcc.Open(engine.DB)
	if err != nil {
		return nil, err
	}
	log, err := raftlog.Open(engine.Log, raftlog.Options{CacheBytes: cfg.RaftEntryCacheBytes})
	if err != nil {
		return nil, err
	}
	peers, err := bootstrapPeers(cfg, log)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("member", cfg.Name)
	n := &Node{
		cfg:      cfg,
		system:   system,
		engine:   engine,
		store:    store,
		board:    raftactor.NewBoard(id.GetMemberId()),
		log:      log,
		id:       id,
		done:     make(chan struct{}),
		closed:   make(chan struct{}),
		stopping: make(chan struct{}),
		ready:    make(chan struct{}),
	}
	incarnation := randomUint64()
	tracer := tracing.New(cfg.TracerProvider)
	n.metrics = n.newMetrics()
	n.status = n.newStatusPage()
	m := n.metrics

	compactorProps, err := compactor.Props(compactor.Config{Store: store, WaitTimeout: 2 * cfg.RequestTimeout, Logger: logger})
	if err != nil {
		return nil, err
	}
	rc := cfg.Raft
	rc.ID = id.GetMemberId()
	rc.ClusterID = id.GetClusterId()
	rc.Incarnation = incarnation
	rc.Log = log
	rc.RemoveSnapshotDir = engine.RemoveSnapshotDir
	rc.Peers = peers
	rc.Board = n.board
	rc.Logger = logger
	rc.Recover = func() (uint64, *raftpb.ConfState, error) { return apply.Recover(store) }
	rc.OnSync, rc.OnReceive, rc.OnDrop, rc.Tracer = m.OnSync, m.OnReceive(), m.OnDrop(), tracer

	var simpleTokens *auth.Tokens
	if cfg.AuthTokens == nil {
		simpleTokens = auth.NewTokens(cfg.AuthTokenTTL, cfg.MaxAuthTokens, nil)
	}
	props := node.Props(node.Config{
		Apply: apply.Config{
			Store: store, Engine: engine, Log: log, MemberID: id.GetMemberId(), ClusterID: id.GetClusterId(), Incarnation: incarnation,
			Compactor: compactorProps, Logger: logger, CatchUpBytes: cfg.ApplyCatchUpBytes,
			Tracer: tracer, Keys: &n.keys, OnCommit: m.OnCommit, OnSlowApply: m.OnSlowApply, SlowApply: cfg.SlowRequest,
			Tokens: simpleTokens,
		},
		LogCompactor: logcompactor.Config{
			Log:     log,
			Durable: func() (uint64, *raftpb.ConfState, error) { return apply.RecoverDurable(store) },
			Applied: store.AppliedIndex,
			Flush:   engine.FlushStateMachine,
			// An eighth of the log's memtable: applied entries leave the log
			// before its memtable is flushed, all but those applied since the
			// last flush (logcompactor.Config.FlushAfterBytes).
			FlushAfterBytes: storage.LogMemTableBytes(cfg.Storage) / 8,
			RetentionBytes:  cfg.RaftLogRetentionBytes,
			Interval:        cfg.RaftLogCompactionInterval,
			Logger:          logger,
		},
		Snapshot: snapshot.ReceiverConfig{
			Stats:     &n.snapStats,
			Engine:    engine,
			Dir:       filepath.Join(cfg.DataDir, "snap"),
			ClusterID: id.GetClusterId(),
			MemberID:  id.GetMemberId(),
			Logger:    logger,
		},
		Raft: rc,
		ReadIndex: readindex.Config{
			Incarnation:  incarnation,
			Timeout:      cfg.RequestTimeout,
			RoundTimeout: rc.ElectionTimeout(),
			Pending:      &n.pendingReads,
		},
		Transport: transport.Config{
			MemberID:  id.GetMemberId(),
			ClusterID: id.GetClusterId(),
			Addresses: func() (map[uint64]string, error) { return addresses(store, seed) },
			Members:   n.recordedMembers,
			Removed: func(id uint64) (*cairnpb.Removed, error) {
				v := store.Read()
				defer v.Close()
				return apply.RemovedMember(v, id)
			},
			Snapshot: snapshot.SenderConfig{
				Stats:  &n.snapStats,
				Engine: engine,
				Describe: func(snap *pebble.Snapshot) (uint64, *raftpb.ConfState, error) {
					v := store.ViewOf(snap)
					defer v.Close()
					return apply.Describe(v)
				},
				Term:       log.Term,
				ChunkBytes: cfg.SnapshotChunkBytes,
				Logger:     logger,
			},
			Logger: logger,
			OnSend: m.OnSend(),
		},
		Watch: watch.Config{
			Options:   cfg.Watch,
			Store:     store,
			ClusterID: id.GetClusterId(),
			MemberID:  id.GetMemberId(),
			Term:      func() uint64 { return n.board.Load().Term },
			Stats:     &n.watchStats,
			Logger:    logger,
		},
		Lessor: lessor.Config{
			MemberID:           id.GetMemberId(),
			Store:              store,
			Board:              n.board,
			MinTTL:             lessor.MinTTL(rc.TickInterval, rc.ElectionTicks),
			Extend:             rc.ElectionTimeout(),
			RevokeRate:         cfg.LeaseRevokeRate,
			CheckpointInterval: cfg.LeaseCheckpointInterval,
			RetryInterval:      cfg.RequestTimeout,
			TickInterval:       rc.TickInterval,
			Held:               &n.leasesHeld,
			Logger:             logger,
		},
		OnStop: n.stopped,
		Logger: logger,
		Instrument: func(role string) []actor.PropsOption {
			return append(tracer.ActorOptions(role), m.ActorOptions(role)...)
		},
	})
	n.pid, err = spawner.SpawnNamed(props, cfg.ActorName)
	if err != nil {
		return nil, fmt.Errorf("cairn: spawn member: %w", err)
	}
	applyPID := node.ChildPID(n.pid, node.ApplyName)
	n.front, err = frontdoor.New(frontdoor.Config{
		System:               system,
		Raft:                 node.ChildPID(n.pid, node.RaftName),
		ReadIndex:            node.ChildPID(n.pid, node.ReadIndexName),
		Compactor:            node.ChildPID(applyPID, apply.CompactorName),
		Store:                store,
		Board:                n.board,
		MemberID:             id.GetMemberId(),
		ClusterID:            id.GetClusterId(),
		Incarnation:          incarnation,
		MaxRequestBytes:      cfg.MaxRequestBytes,
		MaxTxnOps:            cfg.MaxTxnOps,
		InFlight:             cfg.InFlight,
		MaxConcurrentStreams: cfg.MaxConcurrentStreams,
		RequestTimeout:       cfg.RequestTimeout,
		ElectionTimeout:      rc.ElectionTimeout(),
		Members:              n.members,
		MemberRaft: func(id uint64) (*actor.PID, error) {
			return n.memberPID(seed, id, node.RaftName)
		},
		DBSize: engine.DiskUsage,
		Backup: engine.WriteBackup,
		Lessor: func(member uint64) *actor.PID {
			pid, err := n.memberPID(seed, member, node.LessorName)
			if err != nil {
				return nil
			}
			return pid
		},
		MinLeaseTTL: lessor.MinTTL(rc.TickInterval, rc.ElectionTicks),
		WatchHub:    node.ChildPID(n.pid, node.WatchName),
		Watch:       cfg.Watch,
		Stopping:    n.stopping,
		Logger:      logger,
		Tracer:      tracer,
		SlowRequest: cfg.SlowRequest,

		BcryptCost:     cfg.BcryptCost,
		ClientCertAuth: cfg.ClientCertAuth,
		SimpleTokens:   simpleTokens,
		Tokens:         cfg.AuthTokens,

		// Memory budget (budget.go).
		MaxResponseBytes: cfg.MaxResponseBytes,
	})
	if err != nil {
		system.Root.Stop(n.pid)
		<-n.done
		n.keys.Close()
		return nil, err
	}
	n.grpc = grpc.NewServer(append(n.ServerOptions(), cfg.GRPCServerOptions...)...)
	n.Register(n.grpc)
	// In-process connections (Client's, and the gateway's) are gRPC's
	// alone: no HTTP to tell apart.
	n.inProcess = newPipeListener()
	n.clients = map[*clientv3.Client]struct{}{}
	go func() { _ = n.grpc.Serve(n.inProcess) }()
	if err := n.startGateway(logger); err != nil {
		n.grpc.Stop()
		system.Root.Stop(n.pid)
		<-n.done
		n.keys.Close()
		return nil, err
	}
	go n.publish(logger)
	logger.Info("member started", "id", fmt.Sprintf("%x", id.GetMemberId()),
		"cluster-id", fmt.Sprintf("%x", id.GetClusterId()), "data-dir", cfg.DataDir)
	return n, nil
}

// publish records the member's current name and client URLs in the cluster
// membership, retrying until it succeeds or the member stops, and then
// closes ready. It proposes even when nothing changed, as etcd does: the
// proposal's apply is what tells the member it has caught up with the
// cluster, so that it serves nothing older than what it had before it
// stopped.
func (n *Node) publish(logger *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.done:
		case <-n.stopping:
		}
		cancel()
	}()
	start := time.Now()
	for ctx.Err() == nil {
		err := n.front.Publish(ctx, n.cfg.Name, n.cfg.AdvertiseClientURLs)
		if err == nil {
			close(n.ready)
			return
		}
		if ctx.Err() == nil {
			// A new cluster has no leader until a quorum has started:
			// complain only when that takes long.
			level := slog.LevelDebug
			if time.Since(start) > 10*time.Second {
				level = slog.LevelWarn
			}
			logger.Log(ctx, level, "cannot publish member attributes yet", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func randomUint64() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return binary.BigEndian.Uint64(b[:])
}

// recordedMembers lists the members as the state machine records them.
func (n *Node) recordedMembers() ([]*cairnpb.Member, error) {
	v := n.store.Read()
	defer v.Close()
	return apply.Members(v)
}

// members lists the members as etcd's API shows them.
func (n *Node) members() ([]*pb.Member, error) {
	ms, err := n.recordedMembers()
	if err != nil {
		return nil, err
	}
	out := make([]*pb.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, &pb.Member{
			ID: m.GetId(), Name: m.GetName(), PeerURLs: m.GetPeerUrls(),
			ClientURLs: m.GetClientUrls(), IsLearner: m.GetIsLearner(),
		})
	}
	return out, nil
}

// memberPID returns the PID of the child named name of member id's
// supervisor.
func (n *Node) memberPID(seed map[uint64]string, id uint64, name string) (*actor.PID, error) {
	if id == n.ID() {
		return node.ChildPID(n.pid, name), nil
	}
	addrs, err := addresses(n.store, seed)
	if err != nil {
		return nil, err
	}
	addr, ok := addrs[id]
	if !ok {
		return nil, fmt.Errorf("cairn: no address for member %x", id)
	}
	// Every member runs its supervisor at the same path (Props).
	return actor.NewPID(addr, n.pid.GetId()+"/"+name), nil
}

// ID returns the member's ID.
func (n *Node) ID() uint64 { return n.id.GetMemberId() }

// ClusterID returns the cluster's ID.
func (n *Node) ClusterID() uint64 { return n.id.GetClusterId() }

// Status is what a member knows of the cluster's raft, as of the raft
// actor's last Ready: the zero Leader means none is known.
type Status struct {
	ID      uint64 // the member's ID
	Term    uint64
	Leader  uint64 // the leader's member ID; 0 when no leader is known
	Commit  uint64 // the highest raft index known committed
	Applied uint64 // the highest raft index the member has applied
	// State is raft's name of the member's role: StateFollower,
	// StateCandidate, StatePreCandidate or StateLeader.
	State string
	// LeaderChanges counts the leader changes the member has seen since
	// it started.
	LeaderChanges uint64
}

// IsLeader says whether the member leads.
func (s Status) IsLeader() bool { return s.State == raft.StateLeader.String() }

// Status returns the member's current view of raft. It sends no message:
// the raft actor publishes it after each Ready.
func (n *Node) Status() Status {
	st := n.board.Load()
	return Status{
		ID: st.ID, Term: st.Term, Leader: st.Lead, Commit: st.Commit, Applied: st.Applied,
		State: st.State.String(), LeaderChanges: st.LeaderChanges,
	}
}

// PID returns the member's supervisor actor, for an application that
// watches it (actor.Context.Watch) or sends it a stop. Its children are
// internal to the member.
func (n *Node) PID() *actor.PID { return n.pid }

func init() {
	probe.Of = func(x any) probe.Probe {
		n := x.(*Node)
		return probe.Probe{
			Board: n.board,
			FirstLogIndex: func() uint64 {
				i, _ := n.log.FirstIndex()
				return i
			},
			PendingReads: n.pendingReads.Load,
			LeasesHeld:   n.leasesHeld.Load,
			WatchStats:   &n.watchStats,
		}
	}
}

// Register registers etcd's services on g, which must have been created
// with ServerOptions.
func (n *Node) Register(g *grpc.Server) { n.front.Register(g) }

// ServerOptions returns the gRPC options the member's services need.
func (n *Node) ServerOptions() []grpc.ServerOption {
	return append(n.front.ServerOptions(), n.metrics.ServerOptions()...)
}

// startGateway prepares the HTTP side of Serve: the gateway's in-process
// gRPC connection and the HTTP server.
func (n *Node) startGateway(logger *slog.Logger) error {
	conn, err := grpc.NewClient("passthrough:///cairn-gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return n.inProcess.dial(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// The member bounds its responses (--max-response-bytes) and
		// requests (--max-request-bytes); the gateway adds none.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))
	if err != nil {
		return fmt.Errorf("cairn: gateway connection: %w", err)
	}
	h, err := gateway.New(context.Background(), gateway.Config{
		Conn:           conn,
		Monitor:        n.metrics.Handler(health{n}, logger),
		ServerVersion:  frontdoor.APIVersion,
		ClusterVersion: clusterVersion(frontdoor.APIVersion),
		StorageVersion: frontdoor.StorageVersion,
		// JSON's base64 makes bytes 4/3 as long; twice leaves room for the
		// rest of the JSON.
		MaxBodyBytes: 2 * int64(n.cfg.MaxRequestBytes+frontdoor.GRPCOverheadBytes),
	})
	if err != nil {
		conn.Close()
		return err
	}
	n.gw = conn
	n.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // clients' mistakes are not the member's
	}
	return nil
}

// clusterVersion is the cluster version etcd reports beside server version
// v: its major and minor version, patch 0.
func clusterVersion(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1] + ".0"
}

// Serve serves etcd's API on l until Stop: gRPC, and on the same port the
// HTTP paths etcd serves there (package gateway: the JSON gateway under
// /v3/, /version, /metrics, /health, /livez, /readyz). A TLS listener
// (tls.NewListener) serves gRPC to connections that negotiate "h2" and HTTP
// to those that negotiate HTTP/1.1. It may be called for several listeners.
func (n *Node) Serve(l net.Listener) error {
	grpcL, httpL := gateway.Split(l)
	go func() { _ = n.http.Serve(httpL) }()
	err := n.grpc.Serve(grpcL)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Ready is closed once the member has joined the cluster's raft and
// published its name and client URLs through it, as etcd's ReadyNotify: from
// then on it has applied at least everything committed before it started,
// and MemberList shows it as it is configured now. cmd/node serves clients
// only from then on.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Done is closed when the member has stopped, by Stop or by failure.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns why the member stopped (nil for Stop) once Done is closed.
func (n *Node) Err() error {
	<-n.done
	return n.err
}

func (n *Node) stopped(err error) {
	n.err = err
	close(n.done)
}

// Stop stops serving, stops the member's actors and closes its storage. It
// returns once everything is closed. For a member spawned with Props it
// stops the actor Props spawned, as stopping that actor's parent does.
func (n *Node) Stop() error {
	if n.host != nil {
		_ = n.system.Root.StopFuture(n.host).Wait()
		<-n.closed
		return n.closeErr
	}
	n.stopServing()
	n.system.Root.Stop(n.pid)
	<-n.done
	n.closeStorage()
	return n.closeErr
}

// stopServing closes the in-process clients and stops the gRPC server,
// letting in-flight calls finish for a while.
func (n *Node) stopServing() {
	n.stopOnce.Do(func() {
		close(n.stopping)
		n.closeClients()
		stopGRPC(n.grpc, 5*time.Second)
		stopHTTP(n.http, time.Second)
		n.gw.Close()
	})
}

// closeStorage closes the storage once the member's actors have stopped.
func (n *Node) closeStorage() {
	n.closeOnce.Do(func() {
		n.keys.Close()
		n.closeErr = n.engine.Close()
		close(n.closed)
	})
}

// stopHTTP lets in-flight requests finish for up to grace, then cuts the
// rest (a watch over HTTP, whose gRPC stream has ended with the server).
func stopHTTP(h *http.Server, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		h.Close()
	}
}

// stopGRPC lets in-flight calls finish for up to grace, then cuts the rest.
func stopGRPC(g *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		g.Stop()
	}
}
