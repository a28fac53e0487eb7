package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Options size the pebble engine. Their sum bounds the engine's memory: the
// block cache holds CacheBytes (up to 2*MemTableBytes more while fewer than
// two memtables exist, see Open), and at most
// MemTableBytes*MemTableStopWritesThreshold bytes of memtables exist at once
// (writes stall, rather than memory growing, beyond that).
type Options struct {
	// CacheBytes is the size of the block cache. Zero means 32 MiB.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. Zero means 16 MiB.
	MemTableBytes uint64
	// MemTableStopWritesThreshold is how many memtables may queue for flushing
	// before writes stall. Zero means 4.
	MemTableStopWritesThreshold int
	// Logger receives pebble's informational and error messages. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultOptions returns the options used when a field is left zero.
func DefaultOptions() Options {
	return Options{
		CacheBytes:                  32 << 20,
		MemTableBytes:               16 << 20,
		MemTableStopWritesThreshold: 4,
	}
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options { return o.withDefaults() }

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.CacheBytes == 0 {
		o.CacheBytes = d.CacheBytes
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = d.MemTableBytes
	}
	if o.MemTableStopWritesThreshold == 0 {
		o.MemTableStopWritesThreshold = d.MemTableStopWritesThreshold
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate names the first field that is out of range.
func (o Options) Validate() error {
	switch {
	case o.CacheBytes < 0:
		return errors.New("storage: cache bytes must not be negative")
	case o.MemTableStopWritesThreshold < 0 || o.MemTableStopWritesThreshold == 1:
		return errors.New("storage: memtable stop-writes threshold must be at least 2")
	}
	return nil
}

// Engine is a member's pebble database.
type Engine struct {
	// DB is safe for concurrent use. Which goroutine may write which keys is
	// set by the package documentation, not enforced here.
	DB *pebble.DB
	// opts are the options DB was opened with (to write sstables it can
	// ingest).
	opts *pebble.Options
}

// Open opens or creates the pebble database in dir.
func Open(dir string, opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	// pebble counts its memtables against the block cache: each memtable
	// reserves its size in the cache (pebble.Cache.Reserve), and so does the
	// obsolete one it keeps to recycle. Under writes two memtables exist (one
	// filling, one flushing or kept for reuse), so a cache of CacheBytes
	// alone held no blocks at all at the defaults (two 16 MiB memtables in a
	// 32 MiB cache): every read decompressed and checksummed its index,
	// filter and data blocks again, and a put of a new key cost 14.5 µs
	// instead of 6 (storage/mvcc's BenchmarkPutNewKeysOnDisk). Sized for
	// those two memtables on top, the cache keeps CacheBytes of blocks while
	// writes go on. Blocks and memtables together stay within CacheBytes +
	// 2*MemTableBytes, or the memtables alone when more queue (up to
	// MemTableStopWritesThreshold of them): within the sum above.
	cache := pebble.NewCache(opts.CacheBytes + 2*int64(opts.MemTableBytes))
	// The DB takes its own reference to the cache.
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                opts.MemTableBytes,
		MemTableStopWritesThreshold: opts.MemTableStopWritesThreshold,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      pebbleLogger{opts.Logger},
	}
	// Bloom filters on every level: each put looks up its key's latest
	// version, and for a new key that lookup misses; without a filter a miss
	// reads index and data blocks in every level whose range covers the key.
	// About 10 bits per key (1.2 MiB per million keys, in the block cache).
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	// Values of separateValuesFrom bytes or more go to blob files when a
	// memtable is flushed, and compactions move references to them instead
	// of rewriting them: measured on cmd/bench's put-1mb (1 MiB values,
	// 3 members on 2 cores), 47-50 puts/s instead of 34-40 and a p99 of
	// 145-176 ms instead of 208-355 ms; most of a member's CPU had gone to
	// compactions rewriting values (raft log entries among them, deleted
	// soon after). Small values stay inline, where a range reads them
	// without a second lookup.
	po.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           separateValuesFrom,
			MaxBlobReferenceDepth: 10,
			// Blob files whose values were mostly deleted (applied raft
			// entries, overwritten or compacted versions) are rewritten
			// once a fifth is garbage, bounding the disk they waste.
			RewriteMinimumAge:  time.Minute,
			TargetGarbageRatio: 0.2,
		}
	}
	// pebble fills defaults on its own copy; fill ours too, for
	// MakeWriterOptions.
	po.EnsureDefaults()
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	return &Engine{DB: db, opts: po}, nil
}

// Close flushes nothing beyond what pebble's WAL already holds and closes the
// database.
func (e *Engine) Close() error {
	return e.DB.Close()
}

// separateValuesFrom is the size from which pebble stores a value in a blob
// file instead of inline in its sstable (see Open).
const separateValuesFrom = 4 << 10

// pebbleLogger routes pebble's messages to slog. Pebble's info messages are
// routine (flushes, compactions), so they go to debug.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}
