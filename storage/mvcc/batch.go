package mvcc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// errBatchClosed is returned by a Batch used after Commit or Close.
var errBatchClosed = errors.New("mvcc: batch is closed")

// Batch applies writes; see the package documentation for its rules. Every
// read through a Batch sees the writes made earlier through it.
//
// Each write method (Put, DeleteRange, Txn, LeaseRevoke) is one etcd write
// txn: its changes share the revision Rev()+1 and raise Rev() by one if there
// is at least one. A method that returns an error before changing anything
// leaves the batch as it was. If storage fails after a method started
// changing the batch, the batch is failed: every later call, Commit included,
// returns that error, and the caller must Close it and recover from the last
// commit.
//
// The batch keeps the keys and values of the requests given to its write
// methods (its events alias them, and Commit writes the revision log from
// the events): the caller must not modify them until the batch is closed.
//
// A Batch is used by one goroutine (the apply actor).
type Batch struct {
	s          *Store
	b          *pebble.Batch // indexed, so reads see earlier writes
	rev        int64
	compactRev int64
	events     []*mvccpb.Event
	err        error // sticky failure, see above
	closed     bool

	// The write txn in progress: its changes go to revision txBegin+1 with
	// sub-revisions 0, 1, ... txChanges-1.
	txBegin   int64
	txChanges int64
	txCount   uint32 // b.Count() when the write txn began

	// authStatusWritten: the batch wrote or deleted AuthStatusRecord;
	// authStatus is its value then (nil: deleted), for Commit (auth.go).
	authStatusWritten bool
	authStatus        []byte

	kbuf, vbuf []byte // scratch for keys and values; pebble copies them

	pre []prefetched // latest records looked up by Prefetch (prefetch.go)
	// dirty are keys the batch wrote without a prefetched entry: their
	// entries in the store's cache are dropped once it commits
	// (latestcache.go).
	dirty [][]byte

	// undo, while on, records how to take back the write txn in progress
	// (TxnWith, undoTxn).
	undo txnUndo
}

// txnUndo is what undoTxn needs to take back a write txn: the length of the
// pebble batch's representation, of the events and of the dirty keys when it
// began, and the prefetched entries it changed with their earlier contents.
type txnUndo struct {
	on      bool
	repr    int
	events  int
	dirty   int
	entries []prefetchedUndo
}

type prefetchedUndo struct {
	p   *prefetched
	was prefetched
}

// NewBatch opens the write batch. At most one may be open at a time: opening
// a second one panics, as it is a bug of the caller.
func (s *Store) NewBatch() *Batch { return s.NewBatchWithSize(0) }

// NewBatchWithSize is NewBatch with room for size bytes of writes made up
// front: pebble's batch doubles its buffer each time it grows, so a batch
// sized for what it will hold takes about that, not up to twice as much.
// size is a hint; a batch that needs more grows.
func (s *Store) NewBatchWithSize(size int) *Batch {
	if !s.batchOpen.CompareAndSwap(false, true) {
		panic("mvcc: NewBatch while another batch is open")
	}
	b := &Batch{
		s:          s,
		rev:        s.rev.Load(),
		compactRev: s.compactRev.Load(),
	}
	if k := s.kept; k != nil {
		s.kept = nil
		if cap(k.Repr()) >= size {
			b.b = k
			return b
		}
		_ = k.Close()
	}
	if size > 0 {
		b.b = s.db.NewIndexedBatchWithSize(size)
		// pebble sets a batch's buffer up at its first record, replacing
		// one smaller than the record rounded up to a power of two; Repr
		// sets it up now and keeps this one (TestBatchWithSize checks it).
		_ = b.b.Repr()
	} else {
		b.b = s.db.NewIndexedBatch()
	}
	return b
}

// Rev returns the revision including the batch's uncommitted writes.
func (b *Batch) Rev() int64 { return b.rev }

// Events returns the events written through the batch so far, in revision
// and sub-revision order. PUT events carry the full key-value; DELETE events
// carry the key and, as ModRevision, the revision of the deletion. PrevKv is
// nil. The events' keys and values may alias the requests' slices. The caller
// must not modify them; they stay valid after Commit.
func (b *Batch) Events() []*mvccpb.Event { return b.events }

// usable returns the error that stops the batch from being used, if any.
func (b *Batch) usable() error {
	if b.closed {
		return errBatchClosed
	}
	return b.err
}

// beginTxn starts a write txn at the batch's revision.
func (b *Batch) beginTxn() {
	b.txBegin = b.rev
	b.txChanges = 0
	b.txCount = b.b.Count()
}

// endTxn ends a write txn: a txn that changed something takes a revision.
func (b *Batch) endTxn() {
	if b.txChanges > 0 {
		b.rev++
	}
	b.txChanges = 0
}

// fail records err as the batch's failure if the write txn in progress has
// already changed the batch, and returns err.
func (b *Batch) fail(err error) error {
	if b.b.Count() != b.txCount || b.txChanges > 0 {
		b.err = fmt.Errorf("mvcc: batch failed: %w", err)
		return b.err
	}
	return err
}

// Range serves r against the batch's state: the revision is Rev(), reads see
// every write made through the batch.
func (b *Batch) Range(r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	return rangeKVs(b.b, r, b.rev, b.compactRev, nil)
}

// Put applies r as one revision. Errors (ErrLeaseNotFound, ErrKeyNotFound)
// leave the batch unchanged.
func (b *Batch) Put(r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	b.beginTxn()
	if err := checkLease(b.b, r.Lease); err != nil {
		return nil, err
	}
	prev, err := b.prevKV(r)
	if err != nil {
		return nil, err
	}
	if (r.IgnoreValue || r.IgnoreLease) && prev == nil {
		return nil, ErrKeyNotFound
	}
	resp, err := b.applyPut(r, prev)
	if err != nil {
		return nil, b.fail(err)
	}
	b.endTxn()
	return resp, nil
}

// DeleteRange applies r; a delete that removes nothing does not raise the
// revision.
func (b *Batch) DeleteRange(r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	b.beginTxn()
	resp, err := b.applyDeleteRange(r)
	if err != nil {
		return nil, b.fail(err)
	}
	b.endTxn()
	return resp, nil
}

// Txn applies r as one revision (none if it changes nothing), building the
// responses of its ranges without a bound: TxnWith(r, TxnOptions{Answer:
// true}).
func (b *Batch) Txn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return b.TxnWith(r, TxnOptions{Answer: true})
}

// TxnOptions say how a Batch serves the ranges of a txn.
type TxnOptions struct {
	// MaxResponseBytes bounds the key-values of all the txn's ranges
	// together, as ReadView.TxnWithin bounds them; zero or negative: no
	// bound. The outcome depends on it, so every member must apply a txn
	// with the same bound: the proposer's, carried in the entry.
	MaxResponseBytes int64
	// Answer builds the ranges' responses, for the member that answers
	// the client. Without it the ranges' responses carry only a header:
	// their key-values are measured against MaxResponseBytes without being
	// built (measure.go), or not read at all without a bound.
	Answer bool
}

// TxnWith applies r as one revision (none if it changes nothing). Errors from
// the checks of the chosen branch (ErrFutureRev, ErrCompacted,
// ErrLeaseNotFound, ErrKeyNotFound) leave the batch unchanged. The batch does
// not run ValidateTxn: the front door does before proposing.
//
// A txn whose ranges' key-values exceed o.MaxResponseBytes fails with
// ErrResponseTooLarge and leaves the batch unchanged too, although it is
// known only once its path runs: ranges see the txn's earlier writes, so
// their size cannot be known before them. The writes the txn made until then
// are taken back (undoTxn). Whether a txn fails so depends only on the
// batch's state, r and o.MaxResponseBytes, never on o.Answer (measure.go):
// members that build the ranges and members that only measure them apply or
// refuse the same txns, and their state machines stay the same.
func (b *Batch) TxnWith(r *pb.TxnRequest, o TxnOptions) (*pb.TxnResponse, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	b.beginTxn()
	t := &txnRunner{rd: b.b, w: b, begin: b.rev, compactRev: b.compactRev,
		budget: newResponseBudget(o.MaxResponseBytes), measureOnly: !o.Answer}
	if t.budget != nil {
		b.recordUndo()
		defer b.stopUndo()
	}
	resp, executed, err := t.run(r)
	if err != nil {
		if executed && errors.Is(err, ErrResponseTooLarge) {
			if uerr := b.undoTxn(); uerr != nil {
				b.err = fmt.Errorf("mvcc: batch failed: undo a txn over its response budget: %w", uerr)
				return nil, b.err
			}
			return nil, err
		}
		if executed {
			return nil, b.fail(err)
		}
		return nil, err
	}
	b.endTxn()
	return resp, nil
}

// recordUndo starts recording how to take back the write txn that began.
func (b *Batch) recordUndo() {
	b.undo = txnUndo{on: true, repr: len(b.b.Repr()), events: len(b.events), dirty: len(b.dirty),
		entries: b.undo.entries[:0]}
}

func (b *Batch) stopUndo() {
	clear(b.undo.entries)
	b.undo.on, b.undo.entries = false, b.undo.entries[:0]
}

// undoTxn takes back every change of the write txn in progress, recorded
// since recordUndo: the batch is then as it was before the txn. pebble's
// batches cannot drop their last records, so the batch is rebuilt from the
// records before the txn's: a copy of the batch, as long as it, made only
// for a txn that fails so.
func (b *Batch) undoTxn() error {
	u := &b.undo
	for i := len(u.entries) - 1; i >= 0; i-- {
		*u.entries[i].p = u.entries[i].was
	}
	clear(b.events[u.events:])
	b.events = b.events[:u.events]
	clear(b.dirty[u.dirty:])
	b.dirty = b.dirty[:u.dirty]
	b.txChanges = 0
	if b.b.Count() == b.txCount {
		return nil
	}
	// The records before the txn's, with their count in the header.
	data := bytes.Clone(b.b.Repr()[:u.repr])
	batchrepr.SetCount(data, b.txCount)
	head := b.s.db.NewBatch()
	defer func() { _ = head.Close() }()
	if err := head.SetRepr(data); err != nil {
		return err
	}
	nb := b.s.db.NewIndexedBatchWithSize(len(data))
	if err := nb.Apply(head, nil); err != nil {
		_ = nb.Close()
		return err
	}
	_ = b.b.Close()
	b.b = nb
	return nil
}

// prevKV returns the latest key-value of r.Key if r needs it (prev_kv,
// ignore_value or ignore_lease) and the key exists, else nil.
func (b *Batch) prevKV(r *pb.PutRequest) (*mvccpb.KeyValue, error) {
	if !r.PrevKv && !r.IgnoreValue && !r.IgnoreLease {
		return nil, nil
	}
	return getKV(b.b, r.Key)
}

// getKV returns a copy of key's latest key-value, or nil if it does not
// exist.
func getKV(rd pebble.Reader, key []byte) (*mvccpb.KeyValue, error) {
	var m meta
	found, err := getLatest(rd, nil, key, &m)
	if err != nil || !found {
		return nil, err
	}
	vr := valueReader{r: rd}
	defer func() { _ = vr.close() }()
	v, err := vr.get(key, m.mod, m.modSub)
	if err != nil {
		return nil, err
	}
	return &mvccpb.KeyValue{
		Key:            bytes.Clone(key),
		Value:          bytes.Clone(v),
		CreateRevision: m.create,
		ModRevision:    m.mod,
		Version:        m.version,
		Lease:          m.lease,
	}, nil
}

// applyPut writes r in the current write txn (etcd's put). prev is the key's
// latest key-value if r needed it; the checks are done.
func (b *Batch) applyPut(r *pb.PutRequest, prev *mvccpb.KeyValue) (*pb.PutResponse, error) {
	value, lease := r.Value, r.Lease
	if r.IgnoreValue || r.IgnoreLease {
		if prev == nil {
			// The checks ran against the state this put sees.
			return nil, fmt.Errorf("%w: key %q vanished after the checks", ErrKeyNotFound, r.Key)
		}
		if r.IgnoreValue {
			value = prev.Value
		}
		if r.IgnoreLease {
			lease = prev.Lease
		}
	}
	resp := &pb.PutResponse{Header: &pb.ResponseHeader{}}
	if r.PrevKv {
		resp.PrevKv = prev
	}
	if err := b.put(r.Key, value, lease); err != nil {
		return nil, err
	}
	resp.Header.Revision = b.txBegin + 1
	return resp, nil
}

// put writes a new version of key in the current write txn, moving the key
// from its old lease to the new one.
func (b *Batch) put(key, value []byte, lease int64) error {
	var old meta
	pre := b.prefetchedAt(key)
	found, err := b.latest(key, pre, &old)
	if err != nil {
		return err
	}
	main, sub := b.txBegin+1, b.txChanges
	m := meta{create: main, mod: main, modSub: sub, version: 1, lease: lease}
	if found {
		m.create = old.create
		m.version = old.version + 1
	}
	if err := b.setVersion(versionKey(b.kbuf[:0], key, main, sub), &m, value); err != nil {
		return err
	}
	// The revision-log record is written by Commit (writeLog).
	b.vbuf = appendLatest(b.vbuf[:0], &m)
	if err := b.setKey(latestKey(b.kbuf[:0], key), b.vbuf); err != nil {
		return err
	}
	b.wroteLatest(pre, key, &m)
	if found && old.lease != 0 && old.lease != lease {
		if err := b.deleteKeyRecord(leaseAttachKey(b.kbuf[:0], old.lease, key)); err != nil {
			return err
		}
	}
	if lease != 0 && (!found || old.lease != lease) {
		if err := b.setKey(leaseAttachKey(b.kbuf[:0], lease, key), nil); err != nil {
			return err
		}
	}
	b.txChanges++
	b.events = append(b.events, &mvccpb.Event{
		Type: mvccpb.Event_PUT,
		Kv: &mvccpb.KeyValue{
			Key:            key,
			Value:          value,
			CreateRevision: m.create,
			ModRevision:    main,
			Version:        m.version,
			Lease:          lease,
		},
	})
	return nil
}

// applyDeleteRange deletes r's keys in the current write txn (etcd's
// deleteRange).
func (b *Batch) applyDeleteRange(r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp := &pb.DeleteRangeResponse{Header: &pb.ResponseHeader{}}
	if r.PrevKv {
		resp.PrevKvs = []*mvccpb.KeyValue{}
	}
	if sp, ok := requestSpan(r.Key, r.RangeEnd); ok {
		// The cursor sees the batch as it is now, not the deletions below.
		c, err := newLatestCursor(b.b, sp, false)
		if err != nil {
			return nil, err
		}
		err = b.deleteAll(c, r.PrevKv, resp)
		if cerr := c.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	resp.Header.Revision = b.txBegin
	if resp.Deleted != 0 || b.txChanges > 0 {
		resp.Header.Revision = b.txBegin + 1
	}
	return resp, nil
}

func (b *Batch) deleteAll(c *latestCursor, prevKV bool, resp *pb.DeleteRangeResponse) error {
	for {
		ok, err := c.next()
		if err != nil || !ok {
			return err
		}
		key := bytes.Clone(c.key())
		m := *c.meta()
		if prevKV {
			v, err := c.value()
			if err != nil {
				return err
			}
			resp.PrevKvs = append(resp.PrevKvs, &mvccpb.KeyValue{
				Key:            key,
				Value:          bytes.Clone(v),
				CreateRevision: m.create,
				ModRevision:    m.mod,
				Version:        m.version,
				Lease:          m.lease,
			})
		}
		if err := b.deleteKey(key, &m); err != nil {
			return err
		}
		resp.Deleted++
	}
}

// deleteKey writes a tombstone for key, whose latest record is old, in the
// current write txn. key must not be modified afterwards: the event keeps it.
func (b *Batch) deleteKey(key []byte, old *meta) error {
	main, sub := b.txBegin+1, b.txChanges
	if err := b.setKey(versionKey(b.kbuf[:0], key, main, sub), tombstoneRecord); err != nil {
		return err
	}
	// The revision-log record is written by Commit (writeLog).
	if err := b.deleteKeyRecord(latestKey(b.kbuf[:0], key)); err != nil {
		return err
	}
	b.wroteLatest(b.prefetchedAt(key), key, nil)
	if old.lease != 0 {
		if err := b.deleteKeyRecord(leaseAttachKey(b.kbuf[:0], old.lease, key)); err != nil {
			return err
		}
	}
	b.txChanges++
	b.events = append(b.events, &mvccpb.Event{
		Type: mvccpb.Event_DELETE,
		Kv:   &mvccpb.KeyValue{Key: key, ModRevision: main},
	})
	return nil
}

// setKey sets k to v in the batch, keeping k's buffer as the key scratch
// buffer (pebble copies both).
func (b *Batch) setKey(k, v []byte) error {
	b.kbuf = k
	return b.b.Set(k, v, nil)
}

// setVersion sets k to the version record of m and value, encoding it
// straight into the batch: assembled in a scratch buffer first, a large
// value was copied twice, into a buffer as large (allocated again by each
// batch) and then into the batch.
func (b *Batch) setVersion(k []byte, m *meta, value []byte) error {
	b.kbuf = k
	b.vbuf = appendVersionHeader(b.vbuf[:0], m)
	op := b.b.SetDeferred(len(k), len(b.vbuf)+len(value))
	copy(op.Key, k)
	copy(op.Value[copy(op.Value, b.vbuf):], value)
	return op.Finish()
}

// deleteKeyRecord deletes k in the batch, keeping k's buffer as the key
// scratch buffer.
func (b *Batch) deleteKeyRecord(k []byte) error {
	b.kbuf = k
	return b.b.Delete(k, nil)
}

// Commit writes the batch, the revision, the compaction revision and
// appliedIndex in one pebble batch without syncing: the raft log, synced
// before the entries were applied, is what makes them durable. The batch
// cannot be used after Commit, whatever it returns.
//
// The state machine's database has no write-ahead log (storage.Engine): a
// committed batch is durable once pebble flushes its memtable, and until
// then the raft log keeps the entries it applied (ReadDurable), so that a
// restart after a crash applies them again. Each value is written to disk
// once in the raft log and once when flushed, as etcd writes it once in its
// WAL and once in bbolt.
func (b *Batch) Commit(appliedIndex uint64) error {
	if b.closed {
		return errBatchClosed
	}
	defer b.Close()
	if b.err != nil {
		return b.err
	}
	if err := b.writeLog(); err != nil {
		return err
	}
	st := stateRecord{rev: b.rev, compactRev: b.compactRev, applied: appliedIndex}
	if err := b.setKey(metaKey(b.kbuf[:0], metaSystem, metaState), st.append(b.vbuf[:0])); err != nil {
		return err
	}
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("mvcc: commit: %w", err)
	}
	b.s.rev.Store(st.rev)
	b.s.compactRev.Store(st.compactRev)
	b.s.applied.Store(st.applied)
	b.cacheLatest()
	if b.authStatusWritten {
		v := b.authStatus // auth.go, invariant 1
		b.s.authStatus.Store(&v)
	}
	return nil
}

// cacheLatest passes the latest records the batch committed to the store's
// cache (latestcache.go, invariant 1).
func (b *Batch) cacheLatest() {
	for i := range b.pre {
		switch p := &b.pre[i]; {
		case p.written && p.admit:
			b.s.latest.put(p.key, latestRecord{found: p.found, m: p.m})
		case p.written:
			b.s.latest.drop(p.key)
		}
	}
	for _, k := range b.dirty {
		b.s.latest.drop(k)
	}
	b.s.latest.publish()
}

// writeLog writes the revision-log record of every change of the batch: one
// per event, in revision and sub-revision order. Nothing reads the revision
// log through the batch, so these records wait for the commit, where they
// go in ascending key order, each next to the one before: pebble's memtable
// inserts such a run without searching its skiplist for each (its inserter
// starts from where the last insert was), where records interleaved with
// the version and latest records of each change cost a full search each.
func (b *Batch) writeLog() error {
	var main, sub int64
	for _, ev := range b.events {
		if rev := ev.Kv.ModRevision; rev != main {
			main, sub = rev, 0
		}
		typ := logPut
		if ev.Type == mvccpb.Event_DELETE {
			typ = logDelete
		}
		b.vbuf = appendLogRecord(b.vbuf[:0], typ, ev.Kv.Key)
		if err := b.setKey(logKey(b.kbuf[:0], main, sub), b.vbuf); err != nil {
			return err
		}
		sub++
	}
	return nil
}

// Close discards an uncommitted batch. Safe after Commit and more than once.
func (b *Batch) Close() {
	if b.closed {
		return
	}
	b.closed = true
	b.s.keep(b.b)
	b.s.batchOpen.Store(false)
}

// keptBatchBytes bounds the buffer of the pebble batch the store keeps from
// one Batch to the next (Store.kept). A new indexed batch for each apply
// allocated, zeroed and faulted in a buffer as large as the entries it
// applied, and pebble drops an indexed batch's buffer over 1 MiB when the
// batch is reset or closed: with 1 MiB values that was every apply, a sixth
// of the members' page faults on 1 MiB puts.
const keptBatchBytes = 4 << 20

// keep resets pb, committed or not, and keeps it with its buffer for the
// next NewBatch, unless the buffer is over keptBatchBytes.
//
// The buffer is reused only once pebble is done with it: the state
// machine's database has no write-ahead log (the commit pipeline keeps a
// batch's buffer past Commit only to write it to a WAL), and a batch large
// enough to go to the memtables as it is (a flushable batch) has its buffer
// taken by pebble at Commit, so that Repr below is a new, empty one.
func (s *Store) keep(pb *pebble.Batch) {
	data := pb.Repr()
	if cap(data) > keptBatchBytes {
		_ = pb.Close()
		return
	}
	pb.Reset()
	// Reset dropped a buffer over pebble's 1 MiB; give it back.
	data = data[:batchrepr.HeaderLen]
	clear(data)
	if err := pb.SetRepr(data); err != nil {
		_ = pb.Close()
		return
	}
	s.kept = pb
}
