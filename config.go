package cairn

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/cairnkv/cairn/actors/watch"
	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/frontdoor"
	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/tracing"
)

// Config of a member. The zero value of every field but DataDir has a
// default, documented on the field.
type Config struct {
	// Name is the member's human-readable name. Default "default".
	Name string
	// DataDir holds everything the member persists. Required.
	DataDir string
	// AdvertiseClientURLs are the URLs clients are told to use. Default
	// http://localhost:2379.
	AdvertiseClientURLs []string
	// AdvertisePeerURLs are the URLs other members use; with the cluster
	// token they determine the member ID, as in etcd. Default
	// http://localhost:2380.
	AdvertisePeerURLs []string
	// InitialClusterToken distinguishes clusters bootstrapped with the same
	// URLs. Default "etcd-cluster".
	InitialClusterToken string
	// InitialCluster lists the members a new cluster starts with, this one
	// included. Default: this member alone.
	InitialCluster []InitialMember
	// InitialClusterState is ClusterStateNew to bootstrap a new cluster, or
	// ClusterStateExisting to join one that has already added this member
	// (MemberAdd). Only the first start reads it. Default ClusterStateNew.
	InitialClusterState string

	// MaxRequestBytes bounds an encoded client request. Default 1.5 MiB.
	MaxRequestBytes int
	// MaxTxnOps bounds the operations in one txn branch. Default 128.
	MaxTxnOps int
	// InFlight bounds the unary requests a member serves at once and their
	// bytes, in all and per client connection; beyond, requests fail at
	// once with "etcdserver: too many requests" (frontdoor/admission.go).
	// Zero fields take frontdoor.DefaultInFlightLimits.
	InFlight frontdoor.InFlightLimits
	// MaxConcurrentStreams bounds the gRPC streams of one client
	// connection, as etcd's --max-concurrent-streams. Zero: no bound.
	MaxConcurrentStreams uint32
	// MaxResponseBytes bounds the key-values of a unary Range (or of the
	// ranges of a Txn, which then changes nothing): one that would exceed
	// it fails with ResourceExhausted, telling the client to use a limit or
	// RangeStream, before the member holds more than about this much. etcd
	// has no such bound. Default 64 MiB; negative: no bound.
	MaxResponseBytes int64
	// RequestTimeout bounds how long a request waits for raft and apply.
	// Default 5s plus two election timeouts.
	RequestTimeout time.Duration

	// LeaseRevokeRate bounds the expired leases the leader revokes per
	// second. Default 1000 (etcd's).
	LeaseRevokeRate int
	// LeaseCheckpointInterval is how often the leader records, through
	// raft, the remaining TTL of each lease longer than the interval, so
	// that a new leader gives the lease its remaining time, not its full
	// TTL again. Default 5 minutes (etcd's); negative turns checkpoints off.
	LeaseCheckpointInterval time.Duration

	// Watch sizes the watch service: each stream's queue, the hub's budget,
	// etcd's --watch-progress-notify-interval (see watch.Options).
	// FragmentBytes defaults to MaxRequestBytes plus gRPC's overhead, as in
	// etcd.
	Watch watch.Options

	// RaftLogRetentionBytes bounds the applied raft log entries kept for
	// members that are behind; a member further behind gets a snapshot.
	// Default 64 MiB.
	RaftLogRetentionBytes uint64
	// RaftLogCompactionInterval is how often the log is compacted. Default
	// 100ms (see actors/logcompactor).
	RaftLogCompactionInterval time.Duration
	// RaftEntryCacheBytes bounds the cache of recent raft entries (raft
	// reads older ones from pebble). Default 4 MiB; negative: no cache.
	RaftEntryCacheBytes int64
	// ApplyCatchUpBytes bounds the committed entries the apply actor reads
	// from the log at once when it catches up after a restart. Default 16
	// MiB.
	ApplyCatchUpBytes uint64
	// SnapshotChunkBytes is the size of one chunk of a snapshot sent to a
	// member that is behind; a sender holds up to 4 unacknowledged. Default
	// 1 MiB.
	SnapshotChunkBytes int

	// Storage sizes the pebble engine.
	Storage storage.Options
	// Raft tunes raft: tick interval, election and heartbeat ticks, and
	// raft's byte limits. ID, Log, Peers and the actor PIDs are set by Start.
	Raft raftactor.Config

	// ActorName is the name of the member's supervisor in the actor system;
	// its children are named below it. Default "cairn".
	ActorName string

	// Logger receives the member's logs. Default slog.Default().
	Logger *slog.Logger

	// TracerProvider receives the member's spans (see package tracing):
	// every actor's handling of a traced message, and every member's apply
	// of a traced proposal. nil turns tracing off, at no cost.
	TracerProvider trace.TracerProvider
	// SlowRequest is how long a client request may take before it is
	// logged with the duration of each of its steps, and how long applying
	// one batch may take before it is logged as slow. Default 100ms
	// (etcd's); negative logs no request.
	SlowRequest time.Duration

	// Auth: etcd's authentication (package auth). BcryptCost is the cost
	// of password hashes made on this member (--bcrypt-cost, default 10);
	// AuthTokenTTL how long a simple token stays good after its last use
	// (--auth-token-ttl, default 300s); MaxAuthTokens bounds the simple
	// tokens a member holds (default 65536; one more drops the least
	// recently used; auth.Tokens). ClientCertAuth makes a verified client
	// certificate's common name the user of a request without a token
	// (--client-cert-auth); the gRPC server must then carry the TLS state
	// (GRPCServerOptions).
	BcryptCost     int
	AuthTokenTTL   time.Duration
	MaxAuthTokens  int
	ClientCertAuth bool
	// AuthTokens, if not nil, issues and verifies tokens in place of simple
	// ones (auth.JWT, --auth-token jwt,...).
	AuthTokens auth.TokenProvider
	// GRPCServerOptions are added to the member's own gRPC server (Serve),
	// for example transport credentials that hand requests the TLS state.
	GRPCServerOptions []grpc.ServerOption
}

// InitialMember is one member of a new cluster.
type InitialMember struct {
	Name     string
	PeerURLs []string
}

// Cluster states of Config.InitialClusterState, as etcd names them.
const (
	ClusterStateNew      = "new"
	ClusterStateExisting = "existing"
)

// ParseInitialCluster parses etcd's --initial-cluster syntax:
// "name1=url1,name1=url2,name2=url3". URLs of one name are grouped, in order.
func ParseInitialCluster(s string) ([]InitialMember, error) {
	var out []InitialMember
	index := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, u, ok := strings.Cut(part, "=")
		if !ok || name == "" || u == "" {
			return nil, fmt.Errorf("cairn: initial cluster entry %q is not name=url", part)
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, InitialMember{Name: name})
		}
		out[i].PeerURLs = append(out[i].PeerURLs, u)
	}
	return out, nil
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "default"
	}
	if len(c.AdvertiseClientURLs) == 0 {
		c.AdvertiseClientURLs = []string{"http://localhost:2379"}
	}
	if len(c.AdvertisePeerURLs) == 0 {
		c.AdvertisePeerURLs = []string{"http://localhost:2380"}
	}
	if c.InitialClusterToken == "" {
		c.InitialClusterToken = "etcd-cluster"
	}
	if len(c.InitialCluster) == 0 {
		c.InitialCluster = []InitialMember{{Name: c.Name, PeerURLs: c.AdvertisePeerURLs}}
	}
	if c.InitialClusterState == "" {
		c.InitialClusterState = ClusterStateNew
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 3 << 19
	}
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = 128
	}
	c.InFlight = c.InFlight.WithDefaults()
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 20
	}
	if c.RaftEntryCacheBytes == 0 {
		c.RaftEntryCacheBytes = 4 << 20
	}
	if c.ApplyCatchUpBytes == 0 {
		c.ApplyCatchUpBytes = 16 << 20
	}
	if c.SnapshotChunkBytes == 0 {
		c.SnapshotChunkBytes = 1 << 20
	}
	if c.Watch.FragmentBytes == 0 {
		c.Watch.FragmentBytes = c.MaxRequestBytes + frontdoor.GRPCOverheadBytes
	}
	c.Watch = c.Watch.WithDefaults()
	if c.ActorName == "" {
		c.ActorName = "cairn"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SlowRequest == 0 {
		c.SlowRequest = tracing.DefaultSlowRequest
	}
	c.Raft = c.Raft.WithDefaults()
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5*time.Second + 2*c.Raft.ElectionTimeout()
	}
	return c
}

// Validate names the first field that is missing or out of range, as Start
// and Props would find it: zero fields are first given their defaults.
func (c Config) Validate() error { return c.withDefaults().validate() }

// validate is Validate of a Config with its defaults.
func (c Config) validate() error {
	if c.DataDir == "" {
		return errors.New("cairn: data dir is required")
	}
	for _, u := range append(append([]string{}, c.AdvertiseClientURLs...), c.AdvertisePeerURLs...) {
		if _, err := url.Parse(u); err != nil {
			return fmt.Errorf("cairn: invalid URL %q: %w", u, err)
		}
	}
	if c.InitialClusterState != ClusterStateNew && c.InitialClusterState != ClusterStateExisting {
		return fmt.Errorf("cairn: initial cluster state %q must be %q or %q",
			c.InitialClusterState, ClusterStateNew, ClusterStateExisting)
	}
	self := c.initialSelf()
	if self == nil {
		return fmt.Errorf("cairn: initial cluster has no member named %q", c.Name)
	}
	if !sameURLs(self.PeerURLs, c.AdvertisePeerURLs) {
		return fmt.Errorf("cairn: initial cluster gives member %q peer URLs %v, but it advertises %v",
			c.Name, self.PeerURLs, c.AdvertisePeerURLs)
	}
	if c.MaxRequestBytes <= 0 {
		return errors.New("cairn: max-request-bytes must be positive")
	}
	if uint64(c.MaxRequestBytes) > c.Raft.MaxUncommittedEntriesSize {
		return fmt.Errorf("cairn: max-request-bytes (%d) must not exceed raft's max uncommitted entries size (%d)",
			c.MaxRequestBytes, c.Raft.MaxUncommittedEntriesSize)
	}
	if err := c.InFlight.Validate(c.MaxRequestBytes); err != nil {
		return fmt.Errorf("cairn: %w", err)
	}
	if c.MaxTxnOps <= 0 {
		return errors.New("cairn: max-txn-ops must be positive")
	}
	if c.BcryptCost != 0 && !auth.ValidBcryptCost(c.BcryptCost) {
		return fmt.Errorf("cairn: bcrypt-cost (%d) must be between 4 and 31", c.BcryptCost)
	}
	if c.AuthTokenTTL < 0 {
		return errors.New("cairn: auth-token-ttl must not be negative")
	}
	if c.LeaseRevokeRate < 0 {
		return errors.New("cairn: lease revoke rate must be positive")
	}
	if err := c.Watch.Validate(); err != nil {
		return err
	}
	return c.Storage.Validate()
}

// initialSelf returns this member's entry in the initial cluster.
func (c Config) initialSelf() *InitialMember {
	for i := range c.InitialCluster {
		if c.InitialCluster[i].Name == c.Name {
			return &c.InitialCluster[i]
		}
	}
	return nil
}

// sameURLs compares URL lists as sets, after normalising each URL.
func sameURLs(a, b []string) bool {
	norm := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, s := range in {
			if u, err := url.Parse(s); err == nil {
				s = u.String()
			}
			out = append(out, s)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}
