package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
	"google.golang.org/grpc"

	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/storage/mvcc"
	"github.com/cairnkv/cairn/tracing"
)

// Config of the front door.
type Config struct {
	System *actor.ActorSystem
	// Raft, ReadIndex and Compactor are the member's actors.
	Raft, ReadIndex, Compactor *actor.PID
	Store                      *mvcc.Store
	Board                      *raftactor.Board

	MemberID, ClusterID uint64
	// Incarnation names this run of the member in proposals' origins.
	Incarnation uint64

	// MaxRequestBytes bounds an encoded request. Default 1.5 MiB.
	MaxRequestBytes int
	// MaxTxnOps bounds the operations of one txn branch. Default 128.
	MaxTxnOps int
	// InFlight bounds the unary requests being served at once, and their
	// bytes, in all and per connection (admission.go).
	InFlight InFlightLimits
	// MaxConcurrentStreams bounds the gRPC streams of one client
	// connection (unary requests included), as etcd's
	// --max-concurrent-streams. Zero: no bound (gRPC's and etcd's default).
	MaxConcurrentStreams uint32
	// MaxResponseBytes bounds the key-values of a unary Range, or of the
	// ranges of a Txn: one that would exceed it fails with
	// ResourceExhausted, telling the client to page with a limit or use
	// RangeStream, before the member has built more than about this much.
	// etcd has no such bound. A Txn that writes carries this bound in its
	// proposal: every member applies it with the same bound, and one over
	// it changes nothing (mvcc.Batch.TxnWith). It bounds the listings of
	// leases and of a lease's keys the same way (lease.go). Zero or
	// negative: no bound.
	MaxResponseBytes int64
	// RequestTimeout bounds every wait for raft or apply. Default 7s (etcd's
	// 5s plus two election timeouts).
	RequestTimeout time.Duration
	// ElectionTimeout is how long a request waits for a leader before
	// failing with "no leader". Default 1s.
	ElectionTimeout time.Duration

	// Members lists the cluster's members (for MemberList).
	Members func() ([]*pb.Member, error)
	// MemberRaft returns the PID of a member's raft actor.
	MemberRaft func(id uint64) (*actor.PID, error)
	// DBSize returns the bytes the storage engine uses on disk.
	DBSize func() int64
	// Backup writes a backup of the keyspace to w (storage.Engine.WriteBackup),
	// for Maintenance.Snapshot. nil: Snapshot is unimplemented.
	Backup func(w io.Writer) (int64, error)
	// Lessor returns the PID of a member's lessor: keep-alives and
	// time-to-live questions go to the leader's. nil when that member's
	// cannot be reached.
	Lessor func(member uint64) *actor.PID
	// MinLeaseTTL is the least TTL, in seconds, a lease is granted with
	// (lessor.MinTTL). Default 2, etcd's with its default timing.
	MinLeaseTTL int64
	// WatchHub is the member's watch hub; nil serves no Watch service.
	// Watch sizes the handlers' side of each stream (PullBytes,
	// MaxRequests).
	WatchHub *actor.PID
	Watch    watch.Options
	// Stopping, if not nil, is closed when the member begins to stop:
	// long-lived streams (Watch) then end with etcd's "server stopped", so
	// that a graceful stop need not wait for their clients.
	Stopping <-chan struct{}
	// BcryptCost is the cost of the password hashes of users added or
	// changed through this member (etcd's --bcrypt-cost). Default 10.
	BcryptCost int
	// SimpleTokens are the member's simple tokens, which its apply actor
	// assigns (apply.Config.Tokens): Authenticate proposes one, requests
	// present them. Tokens, if not nil, issues and reads tokens instead
	// (auth.JWT). One of the two is required.
	SimpleTokens *auth.Tokens
	Tokens       auth.TokenProvider
	// ClientCertAuth makes the common name of a client's verified
	// certificate its user when it sends no token (etcd's
	// --client-cert-auth). The gRPC server must hand the TLS state to
	// requests (credentials.TLSInfo in the peer).
	ClientCertAuth bool
	// Version is the etcd API version reported by Maintenance.Status.
	Version string
	Logger  *slog.Logger
	// Tracer, if on, traces requests (observe.go); nil is off.
	Tracer *tracing.Tracer
	// SlowRequest is how long a request may take before it is logged with
	// its steps. Default 100ms (etcd's); negative logs none.
	SlowRequest time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 3 << 19 // 1.5 MiB, as etcd
	}
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = 128
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 7 * time.Second
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = time.Second
	}
	if c.Version == "" {
		c.Version = APIVersion
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DBSize == nil {
		c.DBSize = func() int64 { return 0 }
	}
	if c.Lessor == nil {
		c.Lessor = func(uint64) *actor.PID { return nil }
	}
	if c.MinLeaseTTL == 0 {
		c.MinLeaseTTL = 2
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = auth.DefaultBcryptCost
	}
	if c.SlowRequest == 0 {
		c.SlowRequest = tracing.DefaultSlowRequest
	}
	return c
}

// APIVersion is the etcd version whose API Cairn serves. Clients read it from
// Maintenance.Status to decide which features they may use.
const APIVersion = "3.7.3"

// GRPCOverheadBytes is the gRPC framing allowed above MaxRequestBytes, as
// etcd allows, so that an oversized request is refused with etcd's "request
// is too large" rather than gRPC's own error.
const GRPCOverheadBytes = 512 << 10

// Server implements etcd's KV, Maintenance and Cluster services.
type Server struct {
	cfg    Config
	nextID atomic.Uint64
	// headerBytes is etcdHeaderBytes of this member, counted once.
	headerBytes int
	// leaseIDs chooses the IDs of leases granted without one.
	leaseIDs *idGenerator
	// requestIDs numbers requests in logs; pending and failed count
	// proposals (observe.go).
	requestIDs atomic.Uint64
	pending    atomic.Int64
	failed     atomic.Uint64
	// views are the read views reads share (views.go).
	views viewCache
	// reads batches read index requests (linearize.go).
	reads readBatcher
	// simple are the simple tokens (Config.SimpleTokens), nil when tokens
	// (Config.Tokens) issues and reads the tokens of Authenticate (auth.go).
	simple *auth.Tokens
	tokens auth.TokenProvider
	// inFlight admits requests within Config.InFlight (admission.go).
	inFlight *inFlight
	// rangeBytes is the key-values of unary Range responses built and not
	// yet encoded (RangeBytes).
	rangeBytes atomic.Int64
}

// New returns a front door.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	inFlightErr := cfg.InFlight.Validate(cfg.MaxRequestBytes)
	switch {
	case cfg.System == nil || cfg.Raft == nil || cfg.ReadIndex == nil:
		return nil, errors.New("frontdoor: System, Raft and ReadIndex are required")
	case cfg.Store == nil || cfg.Board == nil:
		return nil, errors.New("frontdoor: Store and Board are required")
	case cfg.MemberID == 0:
		return nil, errors.New("frontdoor: MemberID must not be zero")
	case inFlightErr != nil:
		return nil, inFlightErr
	case (cfg.SimpleTokens == nil) == (cfg.Tokens == nil):
		return nil, errors.New("frontdoor: one of SimpleTokens and Tokens is required")
	case !auth.ValidBcryptCost(cfg.BcryptCost):
		return nil, fmt.Errorf("frontdoor: bcrypt-cost %d is outside bcrypt's range (4 to 31)", cfg.BcryptCost)
	}
	s := &Server{cfg: cfg, leaseIDs: newIDGenerator(cfg.MemberID, time.Now()), headerBytes: etcdHeaderBytes(cfg.MemberID),
		views: viewCache{store: cfg.Store}, simple: cfg.SimpleTokens, tokens: cfg.Tokens, inFlight: newInFlight(cfg.InFlight)}
	if cfg.Stopping != nil {
		go func() {
			<-cfg.Stopping
			s.views.close()
		}()
	}
	return s, nil
}

// ServerOptions returns the gRPC server options the front door needs: a
// receive limit that lets requests up to MaxRequestBytes through, the codec
// that decodes large values in place (codec.go), request logs and, with
// tracing on, otelgrpc's server handler, then admission control
// (admission.go) and authentication: a refused request is logged and
// counted, and costs no authentication.
func (s *Server) ServerOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.cfg.MaxRequestBytes + GRPCOverheadBytes),
		grpc.ForceServerCodecV2(newRequestCodec(&s.rangeBytes)),
		grpc.MaxSendMsgSize(1<<31 - 1),
		grpc.NumStreamWorkers(streamWorkers),
	}
	if s.cfg.MaxConcurrentStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(s.cfg.MaxConcurrentStreams))
	}
	opts = append(opts, s.observeOptions()...)
	opts = append(opts, grpc.ChainUnaryInterceptor(s.admitUnary))
	return append(opts, s.authOptions()...)
}

// streamWorkers is the number of goroutines that gRPC keeps to run
// requests: a request starts on one of them when one is free, and on a new
// goroutine otherwise. A new goroutine starts with a small stack and grows
// it, copying it, to the depth of a request (the profile of small puts
// showed a twentieth of a member's CPU in stack growth); a kept one has
// grown already. Each costs its stack, some KiB, while the server runs.
//
// 64 were too few for 100 puts in flight on the leader: a third of them
// started on new goroutines, and their stack growth was 3% of the leader's
// CPU. At 256, cmd/bench speed-small-puts (4 alternating pairs of 12 s
// runs) took 153 µs of the members' CPU per put instead of 158 (medians);
// an idle member's anonymous memory grew by about 0.3 MiB.
const streamWorkers = 256

// Register registers the front door's services on g.
func (s *Server) Register(g *grpc.Server) {
	pb.RegisterKVServer(g, &kvServer{s: s})
	pb.RegisterMaintenanceServer(g, &maintenanceServer{s: s})
	pb.RegisterClusterServer(g, &clusterServer{s: s})
	pb.RegisterLeaseServer(g, &leaseServer{s: s})
	pb.RegisterAuthServer(g, &authServer{s: s})
	if s.cfg.WatchHub != nil {
		pb.RegisterWatchServer(g, &watchServer{s: s})
	}
}

func (s *Server) header(rev int64) *pb.ResponseHeader {
	h := &pb.ResponseHeader{Revision: rev}
	s.fill(h)
	return h
}

// fill completes a response header as etcd does: cluster and member IDs, the
// current raft term, and the store's revision if the response has none.
func (s *Server) fill(h *pb.ResponseHeader) {
	h.ClusterId = s.cfg.ClusterID
	h.MemberId = s.cfg.MemberID
	h.RaftTerm = s.cfg.Board.Load().Term
	if h.Revision == 0 {
		h.Revision = s.cfg.Store.Rev()
	}
}

// Publish records this member's name and client URLs in the cluster's
// membership through raft, as etcd does when a member starts, so that
// MemberList shows the URLs the member serves now.
func (s *Server) Publish(ctx context.Context, name string, clientURLs []string) error {
	_, err := s.propose(ctx, &pb.InternalRaftRequest{ClusterMemberAttrSet: &membershippb.ClusterMemberAttrSetRequest{
		Member_ID:        s.cfg.MemberID,
		MemberAttributes: &membershippb.Attributes{Name: name, ClientUrls: clientURLs},
	}})
	return err
}
