package mvcc

import "errors"

// Errors returned by the store. The front door maps each to etcd's gRPC error
// (the comment names it). Errors are returned as they are or wrapped with %w:
// compare them with errors.Is.
var (
	// ErrCompacted: the requested revision is below the compaction revision
	// (rpctypes.ErrGRPCCompacted).
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrFutureRev: the requested revision is above the current revision
	// (rpctypes.ErrGRPCFutureRev).
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")
	// ErrKeyNotFound: a put with ignore_value or ignore_lease names a key that
	// does not exist, or a txn holds an empty request op
	// (rpctypes.ErrGRPCKeyNotFound).
	ErrKeyNotFound = errors.New("mvcc: key not found")
	// ErrLeaseNotFound: a put attaches a lease that does not exist, a revoke
	// names one, or a grant names lease ID 0 (rpctypes.ErrGRPCLeaseNotFound).
	ErrLeaseNotFound = errors.New("mvcc: lease not found")
	// ErrLeaseExists: a grant names a lease ID in use
	// (rpctypes.ErrGRPCLeaseExist).
	ErrLeaseExists = errors.New("mvcc: lease already exists")
	// ErrLeaseTTLTooLarge: a grant asks for a TTL above MaxLeaseTTL
	// (rpctypes.ErrGRPCLeaseTTLTooLarge).
	ErrLeaseTTLTooLarge = errors.New("mvcc: too large lease TTL")
	// ErrDuplicateKey: a txn writes one key twice in one branch
	// (rpctypes.ErrGRPCDuplicateKey).
	ErrDuplicateKey = errors.New("mvcc: duplicate key given in txn request")
	// ErrTooManyOps: a txn has more operations in one branch than allowed
	// (rpctypes.ErrGRPCTooManyOps).
	ErrTooManyOps = errors.New("mvcc: too many operations in txn request")
	// ErrEmptyKey: a request or a txn compare names an empty key
	// (rpctypes.ErrGRPCEmptyKey). Returned only by the Validate functions.
	ErrEmptyKey = errors.New("mvcc: key is not provided")
	// ErrValueProvided: a put sets both ignore_value and a value
	// (rpctypes.ErrGRPCValueProvided). Returned only by the Validate functions.
	ErrValueProvided = errors.New("mvcc: value is provided")
	// ErrLeaseProvided: a put sets both ignore_lease and a lease
	// (rpctypes.ErrGRPCLeaseProvided). Returned only by the Validate functions.
	ErrLeaseProvided = errors.New("mvcc: lease is provided")
	// ErrInvalidSortOption: a range names a sort order or target that does not
	// exist (rpctypes.ErrGRPCInvalidSortOption).
	ErrInvalidSortOption = errors.New("mvcc: invalid sort option")
	// ErrNotReadOnly: ReadView.Txn was given a txn that writes (see
	// IsReadOnlyTxn). A programming error of the caller, not of the client.
	ErrNotReadOnly = errors.New("mvcc: txn is not read-only")
	// ErrResponseTooLarge: the key-values of a range, or of the ranges of a
	// txn, would take more bytes than the caller allowed
	// (ReadView.RangeWithin, TxnWithin, Batch.TxnWith: a txn that fails so
	// changes nothing). The front door maps it to
	// ResourceExhausted, telling the client to page with a limit or stream;
	// etcd has no such limit.
	ErrResponseTooLarge = errors.New("mvcc: range response is too large")
	// ErrViewReplaced: a snapshot from the leader replaced the state machine
	// while a view was reading it (Store.Replace). The front door maps it to
	// Unavailable, which clients retry on a fresh view.
	ErrViewReplaced = errors.New("mvcc: state machine replaced by a snapshot during the read")
	// ErrCorrupt: a stored record could not be decoded. The database is
	// damaged or was written by an incompatible version.
	ErrCorrupt = errors.New("mvcc: corrupt record")
)

// MaxLeaseTTL is the largest TTL, in seconds, a lease may be granted with
// (etcd's lease.MaxLeaseTTL, about 285 years).
const MaxLeaseTTL = 9_000_000_000
