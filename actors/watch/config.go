package watch

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/storage/mvcc"
)

// Options are the watch service's knobs. The zero value of each field means
// its default. Memory: a stream holds at most QueueBytes of responses (plus
// one revision's events, which a catch-up read may add over the budget so
// that it always makes progress), and its gRPC handler at most PullBytes
// (plus one response) while sending; the hub holds at most HubBytes of
// events in flight from the apply actor. So the watch service's memory is
// bounded by HubBytes + streams x (QueueBytes + PullBytes), plus a few
// hundred bytes per watcher for its range and state.
type Options struct {
	// QueueBytes bounds the responses a stream actor holds for its client.
	// A watcher whose events would not fit is moved to catch up from
	// history. Default 1 MiB.
	QueueBytes int64
	// PullBytes bounds the responses the gRPC handler takes from its stream
	// actor at once (it always takes at least one). Default 256 KiB.
	PullBytes int64
	// ChunkBytes bounds the events one catch-up read from history queues
	// (rounded up to a whole revision). Default QueueBytes/4.
	ChunkBytes int64
	// HubBytes bounds the events the apply actor has sent to the hub and the
	// hub has not dispatched yet. Beyond it the apply actor sends only the
	// revision and the hub's watchers catch up from history. Default 64 MiB.
	HubBytes int64
	// FragmentBytes is the response size above which a watcher that asked
	// for fragment has its responses split (etcd's max-request-bytes plus
	// gRPC overhead). Default 2 MiB (1.5 MiB + 512 KiB, as etcd's default).
	FragmentBytes int
	// MaxRequests bounds the requests a stream's handler has forwarded to
	// the stream actor and not seen processed; beyond it the handler stops
	// reading requests (etcd's ctrlStreamBufLen). Default 16.
	MaxRequests int
	// MaxStreams bounds the streams open at once; more are refused with
	// etcd's "too many requests". Default 0: no bound.
	MaxStreams int
	// WatcherBytes bounds what one stream's watchers hold (WatcherCost
	// each: their key ranges, twice, and their state): a watcher created
	// beyond it is created canceled, with ErrTooManyWatchers as the reason.
	// etcd has no such bound. Default 1 MiB: about 2,500 watchers of
	// 100-byte prefixes per stream.
	WatcherBytes int64
	// ProgressNotifyInterval is how often a watcher created with
	// progress_notify is told the revision when nothing else was sent to it
	// (etcd's --watch-progress-notify-interval), plus up to a tenth of it as
	// jitter. Default 10 minutes, as etcd; at least
	// MinProgressNotifyInterval.
	ProgressNotifyInterval time.Duration
}

// MinProgressNotifyInterval is the shortest progress notify interval, as in
// etcd (minWatchProgressInterval).
const MinProgressNotifyInterval = 100 * time.Millisecond

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.QueueBytes == 0 {
		o.QueueBytes = 1 << 20
	}
	if o.PullBytes == 0 {
		o.PullBytes = 256 << 10
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = max(o.QueueBytes/4, 1)
	}
	if o.HubBytes == 0 {
		o.HubBytes = 64 << 20
	}
	if o.FragmentBytes == 0 {
		o.FragmentBytes = 3<<19 + 512<<10
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = 16
	}
	if o.WatcherBytes == 0 {
		o.WatcherBytes = 1 << 20
	}
	if o.ProgressNotifyInterval == 0 {
		o.ProgressNotifyInterval = 10 * time.Minute
	}
	if o.ProgressNotifyInterval > 0 && o.ProgressNotifyInterval < MinProgressNotifyInterval {
		o.ProgressNotifyInterval = MinProgressNotifyInterval // as etcd raises it
	}
	return o
}

// Validate names the first field out of range.
func (o Options) Validate() error {
	switch {
	case o.QueueBytes < 0:
		return fmt.Errorf("watch: queue bytes (%d) must not be negative", o.QueueBytes)
	case o.PullBytes < 0:
		return fmt.Errorf("watch: pull bytes (%d) must not be negative", o.PullBytes)
	case o.ChunkBytes < 0:
		return fmt.Errorf("watch: chunk bytes (%d) must not be negative", o.ChunkBytes)
	case o.HubBytes < 0:
		return fmt.Errorf("watch: hub bytes (%d) must not be negative", o.HubBytes)
	case o.FragmentBytes < 0:
		return fmt.Errorf("watch: fragment bytes (%d) must not be negative", o.FragmentBytes)
	case o.MaxRequests < 0:
		return fmt.Errorf("watch: max requests (%d) must not be negative", o.MaxRequests)
	case o.MaxStreams < 0:
		return fmt.Errorf("watch: max streams (%d) must not be negative", o.MaxStreams)
	case o.WatcherBytes < 0:
		return fmt.Errorf("watch: watcher bytes (%d) must not be negative", o.WatcherBytes)
	case o.ProgressNotifyInterval < 0:
		return fmt.Errorf("watch: progress notify interval (%v) must not be negative", o.ProgressNotifyInterval)
	}
	return nil
}

// Config of the watch hub.
type Config struct {
	Options
	// Store is read by stream actors: history and prev_kv.
	Store *mvcc.Store
	// Apply, if not nil, is told WatchEventsAck when the hub starts, so that
	// events sent to an earlier incarnation leave its budget.
	Apply *actor.PID
	// ClusterID and MemberID fill response headers; Term returns the
	// current raft term for them.
	ClusterID, MemberID uint64
	Term                func() uint64
	// Stats, if not nil, is kept up to date by the hub, for metrics and
	// tests.
	Stats  *Stats
	Logger *slog.Logger
}

// Stats are the watch service's counters, written by the hub, its streams
// and the apply actor's Feed, read by metrics, the status page and tests.
type Stats struct {
	// Streams is the number of stream actors; Watchers the number of
	// subscriptions they hold with the hub (one per watcher that is not
	// cancelled or compacted).
	Streams, Watchers atomic.Int64
	// Revision is the last revision the hub has dispatched.
	Revision atomic.Int64
	// Lagged counts watchers moved from the live stream to catching up
	// from history, because their stream's queue was full or the hub
	// skipped events.
	Lagged atomic.Int64
	// CatchingUp is the number of streams with watchers catching up from
	// history.
	CatchingUp atomic.Int64
	// QueuedBytes is the bytes of responses queued in all streams for
	// their clients (each stream's share is within QueueBytes).
	QueuedBytes atomic.Int64
	// HubBytes is the bytes of events the apply actor has sent to the hub
	// and the hub has not acknowledged (within HubBytes), as the apply
	// actor's Feed counts them; written by the Feed given these Stats.
	HubBytes atomic.Int64
}

func (c Config) withDefaults() Config {
	c.Options = c.Options.WithDefaults()
	if c.Term == nil {
		c.Term = func() uint64 { return 0 }
	}
	if c.Stats == nil {
		c.Stats = new(Stats)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate names the first missing or invalid field.
func (c Config) Validate() error {
	if c.Store == nil {
		return errors.New("watch: Store is required")
	}
	return c.Options.Validate()
}
