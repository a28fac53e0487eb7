package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cairnkv/cairn/storage/directfs"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/sstable/block"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options size the pebble engine. Their sum bounds the engine's memory: the
// block cache holds CacheBytes (more while fewer than two memtables of each
// database exist, see Open), the state machine's database keeps at most
// MemTableBytes*MemTableStopWritesThreshold bytes of memtables at once
// (writes stall, rather than memory growing, beyond that), and the raft
// log's two memtables of MemTableBytes (MemTablesBytes).
type Options struct {
	// CacheBytes is the size of the block cache both databases share. Zero
	// means 32 MiB.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. Zero means 16 MiB.
	MemTableBytes uint64
	// MemTableStopWritesThreshold is how many memtables of one database may
	// queue for flushing before its writes stall. Zero means 4.
	MemTableStopWritesThreshold int
	// Logger receives pebble's informational and error messages. Nil means
	// slog.Default().
	Logger *slog.Logger
	// FS is the filesystem the databases live in. Nil means the operating
	// system's. Tests use pebble's strict in-memory filesystem to drop
	// what was not synced, as a power failure would.
	FS vfs.FS
	// BufferedBlobWrites writes blob files (values of separateValuesFrom
	// bytes or more) through the page cache. By default, on the operating
	// system's filesystem, they are written with direct I/O
	// (storage/directfs says why).
	BufferedBlobWrites bool
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
	if o.FS == nil {
		o.FS = vfs.Default
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

// Engine is a member's storage: two pebble databases, one for the state
// machine and one for the raft log (see the package documentation).
type Engine struct {
	// DB holds the state machine (storage/mvcc). It has no write-ahead
	// log: what it holds is durable once pebble has flushed it, and the
	// raft log keeps every entry above the applied index DB has flushed
	// (mvcc.Store.ReadDurable), so that a restart applies them again.
	// Safe for concurrent use; which goroutine writes which keys is set
	// by the package documentation.
	DB *pebble.DB
	// Log holds the raft log (storage/raftlog) and the member's identity,
	// behind a write-ahead log: a synced write is durable at once.
	Log *pebble.DB
	// opts are the options DB was opened with (to write sstables it can
	// ingest); fs is the filesystem of both.
	opts *pebble.Options
	fs   vfs.FS
}

// DirectWrites reports the write buffers of blob files written with direct
// I/O (directfs.FS.Buffers): taken by files being written now, and
// allocated. ok is false when blob files are written through the page
// cache (Options.BufferedBlobWrites, or another filesystem than the
// operating system's), with no buffers. Safe from any goroutine.
func (e *Engine) DirectWrites() (taken, allocated int, ok bool) {
	fs, ok := e.fs.(*directfs.FS)
	if !ok {
		return 0, 0, false
	}
	taken, allocated = fs.Buffers()
	return taken, allocated, true
}

// Subdirectories of the data directory that hold each database.
const (
	stateDir = "pebble"
	logDir   = "raftlog"
)

// Open opens or creates the engine in dataDir: the state machine in
// dataDir/pebble, the raft log in dataDir/raftlog. A data directory written
// when both lived in dataDir/pebble is moved to this layout first
// (migrate.go).
func Open(dataDir string, opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := refuseForeign(opts.FS, dataDir); err != nil {
		return nil, err
	}
	if opts.FS == vfs.Default && !opts.BufferedBlobWrites {
		opts.FS = directfs.New()
	}
	// pebble counts its memtables against the block cache: each memtable
	// reserves its size in the cache (pebble.Cache.Reserve), and so does the
	// obsolete one it keeps to recycle. Under writes two memtables of the
	// state machine exist (one filling, one flushing or kept for reuse), so
	// a cache of CacheBytes alone held no blocks at all at the defaults:
	// every read decompressed and checksummed its index, filter and data
	// blocks again, and a put of a new key cost 14.5 µs instead of 6
	// (storage/mvcc's BenchmarkPutNewKeysOnDisk). Sized for those two and
	// the raft log's one on top, the cache keeps CacheBytes of blocks while
	// writes go on (the log's flushes are short: its entries are mostly
	// gone by then). Blocks and memtables together stay within that sum,
	// or the memtables alone when more queue: within the sum of Options.
	cache := pebble.NewCache(opts.CacheBytes + 2*int64(opts.MemTableBytes) + int64(LogMemTableBytes(opts)))
	// Each DB takes its own reference to the cache.
	defer cache.Unref()

	state := dbOptions(opts, cache)
	// No write-ahead log for the state machine: the raft log already is
	// one. Every applied value was written once, synced, to the raft log;
	// a second log would write it again (measured on cmd/bench's put-1mb,
	// 1 MiB values on 3 members: that WAL was a quarter of the bytes each
	// member wrote, and its writes and checksums a tenth of its CPU).
	state.DisableWAL = true
	// The log compactor has the state machine flush after every 2 MiB
	// applied (logcompactor.Config.FlushAfterBytes), not when a 16 MiB
	// memtable fills: eight times as many L0 files of an eighth of the size.
	// Each compaction of L0 rewrites the part of Lbase it overlaps, and new
	// versions of keys spread over all of it, so the fewer L0 compactions
	// the fewer bytes rewritten. pebble's 4 rewrote Lbase twice as often as
	// 8 (restart-1m's load of 1M keys: 11.3 s of CPU at 4, 9.1 s at 8;
	// 256 B puts: 164 -> 151 µs per put), and 8 twice as often as 16 (256 B
	// puts for 12 s, 3 rounds each: 4.4 -> 3.7 KiB written to disk per put
	// over the 3 members, p99 32.4 -> 27.9 ms, CPU per put unchanged).
	// Writes stall three times that deep, as pebble's defaults do. A point
	// lookup checks each L0 file's bloom filter first, so the deeper L0
	// costs reads little.
	state.L0CompactionThreshold = 16
	state.L0StopWritesThreshold = 48
	log := dbOptions(opts, cache)
	// Raft log entries live for a short while: the log compactor deletes
	// them once applied (and flushed in the state machine) and sent to
	// every member. Compressing them would be wasted work.
	for i := range log.Levels {
		log.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	// Entries removed while their memtable still takes writes are dropped
	// when it is flushed, never written again: the log compactor removes
	// them soon enough for most (logcompactor.Config.FlushAfterBytes), so
	// the log's flushes are mostly tombstones, quick to write, and two
	// memtables are enough.
	log.MemTableSize = LogMemTableBytes(opts)
	log.MemTableStopWritesThreshold = logMemTables
	// pebble fills defaults on its own copy; fill ours too, for
	// MakeWriterOptions.
	state.EnsureDefaults()
	log.EnsureDefaults()

	if err := opts.FS.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dataDir, err)
	}
	sdb, err := pebble.Open(filepath.Join(dataDir, stateDir), state)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", filepath.Join(dataDir, stateDir), err)
	}
	ldb, err := pebble.Open(filepath.Join(dataDir, logDir), log)
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("storage: open %s: %w", filepath.Join(dataDir, logDir), err)
	}
	e := &Engine{DB: sdb, Log: ldb, opts: state, fs: opts.FS}
	if err := syncDirs(opts.FS, dataDir); err != nil {
		e.close()
		return nil, err
	}
	if err := e.migrate(); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// logMemTables is how many memtables the raft log's database keeps at most.
const logMemTables = 2

// LogMemTableBytes is the size of one memtable of the raft log's database:
// the state machine's. Its entries are mostly removed while their memtable
// still takes writes, all but the last FlushAfterBytes or so applied
// (logcompactor.Config.FlushAfterBytes), and the smaller their share of
// the memtable the fewer are written out again: with 1 MiB puts on 3
// members, half this size wrote a third more bytes per put than this
// (8.4 MiB against 7.0 over the members, with an eighth of it as
// FlushAfterBytes).
func LogMemTableBytes(opts Options) uint64 { return opts.withDefaults().MemTableBytes }

// MemTablesBytes bounds the memtables of both databases together.
func MemTablesBytes(opts Options) int64 {
	opts = opts.withDefaults()
	return int64(opts.MemTableBytes)*int64(opts.MemTableStopWritesThreshold) + int64(LogMemTableBytes(opts))*logMemTables
}

// dbOptions returns the options both databases share.
func dbOptions(opts Options, cache *pebble.Cache) *pebble.Options {
	po := &pebble.Options{
		Cache:                       cache,
		FS:                          opts.FS,
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
		// One index block per table, not pebble's two-level index of 4 KiB
		// blocks: a point lookup then finds its data block with one
		// block-cache lookup fewer (as CockroachDB sizes them). A small
		// gain: BenchmarkGetOnDisk 15.0 -> 14.6 µs of CPU per get (medians
		// of 4); cmd/bench's linearizable gets of 256 B values on 3 members,
		// 4 alternating pairs of rounds on a busy machine: more reads per
		// second in 3 of them (and 256 B puts in 2 of 2).
		po.Levels[i].IndexBlockSize = 256 << 10
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return valuesUncompressed }
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
			Enabled:     true,
			MinimumSize: separateValuesFrom,
			// A table may reference this many overlapping blob files before
			// a compaction copies its values into new ones. A compaction of
			// the state machine's L0 (16 files, each flush with blob files
			// of its own) must stay under it: at 10, compacting L0 after 16
			// files rewrote the values of 1 MiB puts (cmd/bench
			// speed-put-1mb, 2 rounds: 10.5 MiB written per put over the 3
			// members and 40 ms of CPU, against 7.0 MiB and 31 ms at 20).
			MaxBlobReferenceDepth: 20,
			// Blob files whose values were mostly deleted (overwritten or
			// compacted versions) are rewritten once a fifth is garbage,
			// bounding the disk they waste.
			RewriteMinimumAge:  time.Minute,
			TargetGarbageRatio: 0.2,
		}
	}
	return po
}

// valuesUncompressed compresses keys and small values as pebble does by
// default, and leaves the blocks of large values (blob files) alone: the
// values clients store that large are mostly compressed already (images,
// protobuf or gzip payloads), and trying cost a copy and about 2 ms of CPU
// per MiB on every flush (snappy on put-1mb's values, which do not
// compress, as etcd never tries either).
var valuesUncompressed = &block.CompressionProfile{
	Name:                "cairn-values-uncompressed",
	DataBlocks:          block.SnappyCompression.DataBlocks,
	ValueBlocks:         block.NoCompression.ValueBlocks,
	OtherBlocks:         block.SnappyCompression.OtherBlocks,
	MinReductionPercent: block.SnappyCompression.MinReductionPercent,
}

// Close flushes the state machine, so that a restart need not apply the
// raft log's entries again, and closes both databases. If the flush fails
// the databases are still closed; what was not flushed is applied again
// from the raft log at the next start.
func (e *Engine) Close() error {
	err := e.DB.Flush()
	if cerr := e.close(); err == nil {
		err = cerr
	}
	return err
}

func (e *Engine) close() error {
	err := e.DB.Close()
	if lerr := e.Log.Close(); err == nil {
		err = lerr
	}
	return err
}

// FlushStateMachine starts a flush of the state machine's memtables and
// returns at once; the channel is closed when the flush is done.
func (e *Engine) FlushStateMachine() (<-chan struct{}, error) {
	return e.DB.AsyncFlush()
}

// syncDirs syncs dir and each directory above it, so that the entries of the
// directories just created (the data directory, and the databases' own in
// it) survive a power failure: pebble syncs what it writes inside its
// directory, not the directory's own entry in its parent.
func syncDirs(fs vfs.FS, dir string) error {
	for {
		d, err := fs.OpenDir(dir)
		if err != nil {
			return fmt.Errorf("storage: sync %s: %w", dir, err)
		}
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("storage: sync %s: %w", dir, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
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
