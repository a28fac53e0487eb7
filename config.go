package cairn

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/cairnkv/cairn/raftactor"
	"github.com/cairnkv/cairn/storage"
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

	// MaxRequestBytes bounds an encoded client request. Default 1.5 MiB.
	MaxRequestBytes int
	// MaxTxnOps bounds the operations in one txn branch. Default 128.
	MaxTxnOps int
	// RequestTimeout bounds how long a request waits for raft and apply.
	// Default 5s plus two election timeouts.
	RequestTimeout time.Duration

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
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 3 << 19
	}
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = 128
	}
	if c.ActorName == "" {
		c.ActorName = "cairn"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Raft = c.Raft.WithDefaults()
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5*time.Second + 2*c.Raft.ElectionTimeout()
	}
	return c
}

// Validate names the first field that is missing or out of range.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("cairn: data dir is required")
	}
	for _, u := range append(append([]string{}, c.AdvertiseClientURLs...), c.AdvertisePeerURLs...) {
		if _, err := url.Parse(u); err != nil {
			return fmt.Errorf("cairn: invalid URL %q: %w", u, err)
		}
	}
	if c.MaxRequestBytes <= 0 {
		return errors.New("cairn: max-request-bytes must be positive")
	}
	if uint64(c.MaxRequestBytes) > c.Raft.MaxUncommittedEntriesSize {
		return fmt.Errorf("cairn: max-request-bytes (%d) must not exceed raft's max uncommitted entries size (%d)",
			c.MaxRequestBytes, c.Raft.MaxUncommittedEntriesSize)
	}
	if c.MaxTxnOps <= 0 {
		return errors.New("cairn: max-txn-ops must be positive")
	}
	return c.Storage.Validate()
}
