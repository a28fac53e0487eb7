package mvcc

import (
	"context"
	"errors"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// Errors returned by the store. The front door maps each to etcd's gRPC error.
var (
	// ErrCompacted: the requested revision is below the compaction revision.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrFutureRev: the requested revision is above the current revision.
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")
	// ErrKeyNotFound: a put with ignore_value or ignore_lease names a key that
	// does not exist.
	ErrKeyNotFound = errors.New("mvcc: key not found")
	// ErrLeaseNotFound: a put attaches a lease that does not exist, or a
	// revoke names one.
	ErrLeaseNotFound = errors.New("mvcc: lease not found")
	// ErrLeaseExists: a grant names a lease ID in use.
	ErrLeaseExists = errors.New("mvcc: lease already exists")
	// ErrDuplicateKey: a txn writes one key twice in one branch.
	ErrDuplicateKey = errors.New("mvcc: duplicate key given in txn request")
	// ErrTooManyOps: a txn has more operations in one branch than allowed.
	ErrTooManyOps = errors.New("mvcc: too many operations in txn request")
)

// Store is the revisioned keyspace of one member.
type Store struct{}

// Open reads the store's state from db (creating nothing until the first
// commit). The caller keeps ownership of db and closes it after the store.
func Open(db *pebble.DB) (*Store, error) { panic("unimplemented") }

// Rev returns the revision of the last committed batch (0 for an empty store).
func (s *Store) Rev() int64 { panic("unimplemented") }

// CompactRev returns the last compaction revision committed (0 if none).
func (s *Store) CompactRev() int64 { panic("unimplemented") }

// AppliedIndex returns the raft index passed to the last Batch.Commit.
func (s *Store) AppliedIndex() uint64 { panic("unimplemented") }

// Read opens a view of the last committed state. The caller must Close it.
func (s *Store) Read() *ReadView { panic("unimplemented") }

// NewBatch opens the write batch. At most one may be open at a time.
func (s *Store) NewBatch() *Batch { panic("unimplemented") }

// RunCompaction physically removes history below the committed compaction
// revision, at most chunk revisions per pebble batch, until done or ctx ends.
// It records its progress, so a call after a restart resumes where the last
// one stopped. Safe concurrently with the Batch and views.
func (s *Store) RunCompaction(ctx context.Context, chunk int) error { panic("unimplemented") }

// ReadView is a consistent, read-only view of one committed state.
type ReadView struct{}

// Rev returns the view's current revision.
func (v *ReadView) Rev() int64 { panic("unimplemented") }

// CompactRev returns the view's compaction revision.
func (v *ReadView) CompactRev() int64 { panic("unimplemented") }

// Range serves r with etcd's semantics. The response header carries only the
// view's revision.
func (v *ReadView) Range(r *pb.RangeRequest) (*pb.RangeResponse, error) { panic("unimplemented") }

// Txn serves a read-only txn (see IsReadOnlyTxn).
func (v *ReadView) Txn(r *pb.TxnRequest) (*pb.TxnResponse, error) { panic("unimplemented") }

// Hash returns a hash of every key-value visible at rev (0 means the view's
// revision) and the compaction revision. Members that applied the same
// entries return the same hash.
func (v *ReadView) Hash(rev int64) (hash uint32, compactRev int64, err error) {
	panic("unimplemented")
}

// Meta returns the value stored under name by Batch.PutMeta, or nil.
func (v *ReadView) Meta(name string) ([]byte, error) { panic("unimplemented") }

// MetaPrefix calls fn for every meta entry whose name starts with prefix, in
// name order. The slices are valid only during the call.
func (v *ReadView) MetaPrefix(prefix string, fn func(name string, value []byte) error) error {
	panic("unimplemented")
}

// Lease returns the granted TTL and the last checkpointed remaining TTL of a
// lease, or ErrLeaseNotFound.
func (v *ReadView) Lease(id int64) (ttl, remaining int64, err error) { panic("unimplemented") }

// Leases calls fn for every lease in ID order.
func (v *ReadView) Leases(fn func(id, ttl, remaining int64) error) error { panic("unimplemented") }

// LeaseKeys calls fn for every key attached to a lease, in key order. The
// slice is valid only during the call.
func (v *ReadView) LeaseKeys(id int64, fn func(key []byte) error) error { panic("unimplemented") }

// Close releases the view.
func (v *ReadView) Close() { panic("unimplemented") }

// Batch applies writes; see the package documentation for its rules. Every
// read through a Batch sees the writes made earlier through it.
type Batch struct{}

// Range serves r against the batch's state (used for txn-like reads).
func (b *Batch) Range(r *pb.RangeRequest) (*pb.RangeResponse, error) { panic("unimplemented") }

// Put applies r as one revision. Errors leave the batch unchanged.
func (b *Batch) Put(r *pb.PutRequest) (*pb.PutResponse, error) { panic("unimplemented") }

// DeleteRange applies r; a delete that removes nothing does not raise the
// revision.
func (b *Batch) DeleteRange(r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	panic("unimplemented")
}

// Txn applies r as one revision (none if it changes nothing). Errors leave the
// batch unchanged.
func (b *Batch) Txn(r *pb.TxnRequest) (*pb.TxnResponse, error) { panic("unimplemented") }

// Compact records rev as the compaction revision: reads below it fail from
// this batch on. The history is removed later by Store.RunCompaction.
func (b *Batch) Compact(rev int64) (*pb.CompactionResponse, error) { panic("unimplemented") }

// LeaseGrant records a lease.
func (b *Batch) LeaseGrant(id, ttl int64) error { panic("unimplemented") }

// LeaseRevoke removes a lease and deletes every key attached to it, in one
// revision.
func (b *Batch) LeaseRevoke(id int64) error { panic("unimplemented") }

// LeaseCheckpoint records the remaining TTL of a lease.
func (b *Batch) LeaseCheckpoint(id, remaining int64) error { panic("unimplemented") }

// PutMeta stores other state-machine state (members, conf state) atomically
// with the batch.
func (b *Batch) PutMeta(name string, value []byte) { panic("unimplemented") }

// DeleteMeta removes a meta entry.
func (b *Batch) DeleteMeta(name string) { panic("unimplemented") }

// Meta reads a meta entry through the batch.
func (b *Batch) Meta(name string) ([]byte, error) { panic("unimplemented") }

// Rev returns the revision including the batch's uncommitted writes.
func (b *Batch) Rev() int64 { panic("unimplemented") }

// Events returns the events written through the batch so far, in revision
// order. The caller must not modify them.
func (b *Batch) Events() []*mvccpb.Event { panic("unimplemented") }

// Commit writes the batch and appliedIndex in one pebble batch without
// syncing: the raft log, synced before the entries were applied, is what makes
// them durable. The batch cannot be used after Commit.
func (b *Batch) Commit(appliedIndex uint64) error { panic("unimplemented") }

// Close discards an uncommitted batch. Safe after Commit.
func (b *Batch) Close() { panic("unimplemented") }

// ValidateTxn checks a txn request before it is proposed, as etcd's front door
// does: at most maxOps operations in each branch (nested txns counted), and no
// key written twice in one branch (a put overlapping another put or a delete
// range, including in nested txns).
func ValidateTxn(r *pb.TxnRequest, maxOps int) error { panic("unimplemented") }

// IsReadOnlyTxn reports whether a txn has no write operations in any branch,
// nested txns included.
func IsReadOnlyTxn(r *pb.TxnRequest) bool { panic("unimplemented") }
