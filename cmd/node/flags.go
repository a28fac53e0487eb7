package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/frontdoor"
	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/storage"
)

// options are the parsed command line.
type options struct {
	cfg              cairn.Config
	listenClientURLs []string
	// listenPeerURL is where actor remoting listens for other members.
	listenPeerURL string
	logLevel      slog.Level
	logFormat     string
	// observe: tracing, metrics and log outputs (observe.go).
	observe observeOptions
	// memory: the memory limit and budget flags (memory.go).
	memory memoryOptions
	// security: TLS for clients and peers (security.go).
	security securityOptions
	// auth: etcd's auth flags (auth.go).
	auth authOptions
}

// parseFlags parses args (without the program name). Output (usage, errors)
// goes to out.
func parseFlags(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: node [flags]\n\nRuns one Cairn member, serving etcd's v3 API. Flags:\n\n")
		fs.PrintDefaults()
	}
	o := &options{}
	c := &o.cfg
	sd := storage.DefaultOptions()
	rd := raftactor.DefaultConfig()

	fs.StringVar(&c.Name, "name", "default", "Human-readable name for this member.")
	fs.StringVar(&c.DataDir, "data-dir", "", "Path to the data directory. Default: ${name}.cairn.")
	listenClient := fs.String("listen-client-urls", "http://127.0.0.1:2379", "Comma-separated URLs to listen on for client traffic.")
	advertiseClient := fs.String("advertise-client-urls", "http://127.0.0.1:2379", "Comma-separated client URLs to advertise to the rest of the cluster and to clients.")
	advertisePeer := fs.String("initial-advertise-peer-urls", "http://localhost:2380", "Comma-separated peer URLs of this member to advertise to the rest of the cluster; with the token they determine the member ID.")
	fs.StringVar(&c.InitialClusterToken, "initial-cluster-token", "etcd-cluster", "Initial cluster token for the cluster during bootstrap.")
	initialCluster := fs.String("initial-cluster", "", "Initial cluster configuration for bootstrapping, as name=peer-url,... Default: this member alone (${name}=${initial-advertise-peer-urls}).")
	fs.StringVar(&c.InitialClusterState, "initial-cluster-state", cairn.ClusterStateNew, "Initial cluster state: 'new' to bootstrap a cluster, 'existing' to join one that has added this member (etcdctl member add).")
	listenPeer := fs.String("listen-peer-urls", "http://localhost:2380", "URL to listen on for peer traffic (actor remoting). One URL: Cairn's members talk over one connection each.")
	fs.Uint64Var(&c.RaftLogRetentionBytes, "raft-log-retention-bytes", 64<<20, "Most bytes of applied raft log entries kept for members that are behind (an eighth of it on a member that does not lead); a member further behind gets a snapshot.")
	fs.IntVar(&c.MaxRequestBytes, "max-request-bytes", 3<<19, "Maximum client request size in bytes the server will accept.")
	fs.IntVar(&c.MaxTxnOps, "max-txn-ops", 128, "Maximum number of operations permitted in a transaction branch.")
	inFlight := frontdoor.DefaultInFlightLimits()
	fs.Int64Var(&c.InFlight.Requests, "max-requests-in-flight", inFlight.Requests, "Maximum unary requests served at once; beyond, requests fail at once with 'too many requests'. Negative: no bound.")
	fs.Int64Var(&c.InFlight.Bytes, "max-request-bytes-in-flight", inFlight.Bytes, "Maximum bytes of the unary requests served at once. Negative: no bound.")
	fs.Int64Var(&c.InFlight.ConnRequests, "max-requests-in-flight-per-connection", inFlight.ConnRequests, "Maximum unary requests served at once for one client connection. Negative: no bound.")
	fs.Int64Var(&c.InFlight.ConnBytes, "max-request-bytes-in-flight-per-connection", inFlight.ConnBytes, "Maximum bytes of the unary requests served at once for one client connection. Negative: no bound.")
	fs.DurationVar(&c.InFlight.Latency, "admission-target-latency", inFlight.Latency, "Time admitted unary requests should take at most: while they take longer, the member admits fewer at once, refusing the rest with 'too many requests'. Negative: only the limits above.")
	maxStreams := fs.Uint64("max-concurrent-streams", math.MaxUint32, "Maximum concurrent gRPC streams of one client connection (etcd's flag; the default is no bound).")
	fs.DurationVar(&c.Watch.ProgressNotifyInterval, "watch-progress-notify-interval", 10*time.Minute, "Duration of periodic watch progress notifications.")
	fs.Int64Var(&c.Watch.QueueBytes, "watch-queue-bytes", 1<<20, "Most bytes of responses a watch stream holds for its client; a watcher whose events do not fit catches up from history.")
	fs.Int64Var(&c.Watch.WatcherBytes, "watch-watcher-bytes", 1<<20, "Most bytes one watch stream's watchers hold (their key ranges, twice, and 384 bytes each); a watcher created beyond it is created canceled.")
	heartbeat := fs.Uint("heartbeat-interval", uint(rd.TickInterval/time.Millisecond), "Time (in milliseconds) of a heartbeat interval.")
	election := fs.Uint("election-timeout", uint(rd.ElectionTimeout()/time.Millisecond), "Time (in milliseconds) for an election to timeout.")
	fs.Int64Var(&c.Storage.CacheBytes, "pebble-cache-bytes", sd.CacheBytes, "Size in bytes of pebble's block cache.")
	fs.Uint64Var(&c.Storage.MemTableBytes, "pebble-memtable-bytes", sd.MemTableBytes, "Size in bytes of one pebble memtable.")
	fs.IntVar(&c.Storage.MemTableStopWritesThreshold, "pebble-memtable-stop-writes-threshold", sd.MemTableStopWritesThreshold, "Writes stall while the memtables waiting to be flushed (and batches of more than half a memtable, which pebble queues as they are) hold this many memtables' worth of bytes.")
	fs.Uint64Var(&c.Raft.MaxSizePerMsg, "raft-max-size-per-msg", rd.MaxSizePerMsg, "Maximum bytes of entries in one raft append message.")
	fs.Uint64Var(&c.Raft.MaxInflightBytes, "raft-max-inflight-bytes", rd.MaxInflightBytes, "Maximum bytes of raft appends in flight to one follower.")
	fs.Uint64Var(&c.Raft.MaxUncommittedEntriesSize, "raft-max-uncommitted-bytes", rd.MaxUncommittedEntriesSize, "Maximum bytes of uncommitted entries on the leader; proposals beyond it are refused.")
	fs.Uint64Var(&c.Raft.MaxCommittedSizePerReady, "raft-max-committed-bytes-per-ready", rd.MaxCommittedSizePerReady, "Maximum bytes of committed entries handed to apply and not yet applied.")
	logLevel := fs.String("log-level", "info", "Log level: debug, info, warn or error.")
	fs.StringVar(&o.logFormat, "log-format", "text", "Log format: text or json.")
	checkObserve := addObserveFlags(fs, &o.observe, &c.SlowRequest)
	checkMemory := addMemoryFlags(fs, &o.memory, c)
	checkSecurity := addSecurityFlags(fs, &o.security)
	checkAuth := addAuthFlags(fs, &o.auth)

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.DataDir == "" {
		c.DataDir = c.Name + ".cairn"
	}
	if *maxStreams == 0 || *maxStreams > math.MaxUint32 {
		return nil, fmt.Errorf("max-concurrent-streams: %d is not between 1 and %d", *maxStreams, uint64(math.MaxUint32))
	}
	if *maxStreams < math.MaxUint32 {
		c.MaxConcurrentStreams = uint32(*maxStreams)
	}
	var err error
	if o.listenClientURLs, err = parseURLs("listen-client-urls", *listenClient); err != nil {
		return nil, err
	}
	if c.AdvertiseClientURLs, err = parseURLs("advertise-client-urls", *advertiseClient); err != nil {
		return nil, err
	}
	if c.AdvertisePeerURLs, err = parseURLs("initial-advertise-peer-urls", *advertisePeer); err != nil {
		return nil, err
	}
	peers, err := parseURLs("listen-peer-urls", *listenPeer)
	if err != nil {
		return nil, err
	}
	if len(peers) > 1 {
		return nil, errors.New("listen-peer-urls: Cairn listens for peers on one URL")
	}
	o.listenPeerURL = peers[0]
	if *initialCluster != "" {
		if c.InitialCluster, err = cairn.ParseInitialCluster(*initialCluster); err != nil {
			return nil, fmt.Errorf("initial-cluster: %w", err)
		}
	}
	if *heartbeat == 0 || *election <= *heartbeat {
		return nil, fmt.Errorf("election-timeout (%dms) must be greater than heartbeat-interval (%dms), which must be positive", *election, *heartbeat)
	}
	c.Raft.TickInterval = time.Duration(*heartbeat) * time.Millisecond
	c.Raft.HeartbeatTicks = 1
	c.Raft.ElectionTicks = int(*election / *heartbeat)
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, errors.New("log-format must be text or json")
	}
	if err := checkObserve(); err != nil {
		return nil, err
	}
	if err := checkMemory(); err != nil {
		return nil, err
	}
	if err := checkSecurity(o); err != nil {
		return nil, err
	}
	if err := checkAuth(o); err != nil {
		return nil, err
	}
	return o, nil
}

// parseURLs parses a comma-separated URL list; each must be http(s) with a
// host and port.
func parseURLs(flagName, s string) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
			return nil, fmt.Errorf("%s: %q is not a URL of the form http://host:port", flagName, raw)
		}
		out = append(out, u.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: at least one URL is required", flagName)
	}
	return out, nil
}
