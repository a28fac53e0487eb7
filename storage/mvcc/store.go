package mvcc

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Store is the revisioned keyspace of one member. Its methods are safe for
// concurrent use; see the package documentation for who calls what.
//
// A Store keeps no per-key state in memory: only the last committed
// revision, compaction revision and applied index.
type Store struct {
	db *pebble.DB

	// The last committed state, updated after each Batch.Commit.
	rev        atomic.Int64
	compactRev atomic.Int64
	applied    atomic.Uint64
	// latest caches committed latest records for Prefetch; see
	// latestcache.go for who may touch it.
	latest latestCache

	batchOpen atomic.Bool
	// kept is the pebble batch of the last Batch, reset, for the next one
	// (Batch.Close); used only by the holder of batchOpen.
	kept      *pebble.Batch
	compactMu sync.Mutex // serializes RunCompaction calls

	// replacements counts the state machine's replacements (Replace) as a
	// sequence lock: odd while one is under way. pebble's excise, which
	// installs a snapshot, is not bound by the sequence numbers of open
	// snapshots (its virtual sstables drop the excised keys for every
	// reader), so a view open across a replacement would read a mix of the
	// old state and nothing: views check the count instead (ReadView.valid).
	replacements atomic.Uint64

	// authStatus is the committed auth status record (auth.go).
	authStatus atomic.Pointer[[]byte]

	// txnBuilt and txnMeasured count the key-value bytes of txn ranges
	// batches built and measured (TxnRangeBytes).
	txnBuilt, txnMeasured atomic.Int64
}

// TxnRangeBytes returns the bytes (kvCost: key, value and a few dozen bytes
// each) of the key-values of the ranges of the txns batches applied since
// the store was opened: built for the client a member answers
// (TxnOptions.Answer), and measured against the txn's response budget
// without being built. A txn that failed counts what was built or measured
// of it before it failed.
func (s *Store) TxnRangeBytes() (built, measured int64) {
	return s.txnBuilt.Load(), s.txnMeasured.Load()
}

// LatestCacheUsed returns the bytes the cache of latest records holds, as
// it counts them against LatestCacheBytes (each entry's key and a fixed
// overhead), as of the last commit. Safe from any goroutine
// (latestcache.go, invariant 5).
func (s *Store) LatestCacheUsed() int64 { return s.latest.published.Load() }

// Open reads the store's state from db, creating nothing until the first
// commit. The caller keeps ownership of db and closes it after the store (and
// after closing every view and batch).
func Open(db *pebble.DB) (*Store, error) {
	st, err := readState(db)
	if err != nil {
		return nil, fmt.Errorf("mvcc: open: %w", err)
	}
	s := &Store{db: db}
	s.rev.Store(st.rev)
	s.compactRev.Store(st.compactRev)
	s.applied.Store(st.applied)
	if err := s.loadAuthStatus(db); err != nil {
		return nil, fmt.Errorf("mvcc: open: %w", err)
	}
	return s, nil
}

// readState reads the state record, or returns emptyState if there is none.
func readState(rd pebble.Reader) (stateRecord, error) {
	st := emptyState
	err := getWith(rd, metaKey(nil, metaSystem, metaState), func(v []byte) error {
		var err error
		st, err = decodeState(v)
		return err
	})
	return st, err
}

// Rev returns the revision of the last committed batch. As in etcd, an empty
// store's revision is 1, so the first change is at revision 2.
func (s *Store) Rev() int64 { return s.rev.Load() }

// CompactRev returns the last compaction revision committed (0 if none).
// Reads below it fail with ErrCompacted.
func (s *Store) CompactRev() int64 { return s.compactRev.Load() }

// AppliedIndex returns the raft index passed to the last Batch.Commit (0 if
// none).
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

// Replace runs install, which replaces the state machine underneath the
// store (storage.Engine.ReplaceStateMachine installing a snapshot), then
// reloads the store's state. Views opened before or during the replacement
// fail with ErrViewReplaced from then on, rather than read a mix of both
// states. No batch may be open.
func (s *Store) Replace(install func() error) error {
	if s.batchOpen.Load() {
		return fmt.Errorf("mvcc: replace with a batch open")
	}
	s.replacements.Add(1)
	defer s.replacements.Add(1)
	if err := install(); err != nil {
		return err
	}
	return s.Reload()
}

// Reload reads the store's state again from pebble, after the state machine
// was replaced underneath it (see Replace). No batch may be open.
func (s *Store) Reload() error {
	if s.batchOpen.Load() {
		return fmt.Errorf("mvcc: reload with a batch open")
	}
	st, err := readState(s.db)
	if err != nil {
		return fmt.Errorf("mvcc: reload: %w", err)
	}
	s.rev.Store(st.rev)
	s.compactRev.Store(st.compactRev)
	s.applied.Store(st.applied)
	s.latest.clear()
	if err := s.loadAuthStatus(s.db); err != nil {
		return fmt.Errorf("mvcc: reload: %w", err)
	}
	return nil
}

// ForgetMembership prepares a state machine restored from a backup to seed a
// new cluster: it deletes every meta entry (the old cluster's members and
// raft configuration; the apply actor writes the new cluster's as it applies
// its first entries) and sets the applied index to 0, for a raft log that
// starts again at 1. Keys, revisions, leases and the compaction revision are
// kept. No batch may be open.
func (s *Store) ForgetMembership() error {
	b := s.NewBatch()
	defer b.Close()
	var names []string
	if err := b.MetaPrefix("", func(name string, _ []byte) error {
		names = append(names, name)
		return nil
	}); err != nil {
		return err
	}
	for _, name := range names {
		b.DeleteMeta(name)
	}
	return b.Commit(0)
}
