package raftlog

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cairnkv/cairn/storage"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// quietLogger keeps pebble's routine messages out of test output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// cacheConfigs are the cache settings every behaviour test runs under: the
// results must not depend on the cache.
var cacheConfigs = []struct {
	name string
	opts Options
}{
	{"nocache", Options{CacheBytes: -1}},
	{"tinycache", Options{CacheBytes: 600}}, // about two small entries
	{"cache", Options{}},
}

func forEachCache(t *testing.T, f func(t *testing.T, opts Options)) {
	for _, c := range cacheConfigs {
		t.Run(c.name, func(t *testing.T) { f(t, c.opts) })
	}
}

// env is a Log on an in-memory pebble that can be closed and reopened.
type env struct {
	fs   *vfs.MemFS
	db   *pebble.DB
	log  *Log
	opts Options
	// crashed are the databases left open by crash, closed at cleanup.
	crashed []*pebble.DB
}

func openDB(t testing.TB, fs vfs.FS) *pebble.DB {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: fs, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	e := &env{fs: vfs.NewCrashableMem(), opts: opts}
	e.db = openDB(t, e.fs)
	t.Cleanup(func() {
		_ = e.db.Close()
		for _, db := range e.crashed {
			_ = db.Close()
		}
	})
	var err error
	if e.log, err = Open(e.db, opts); err != nil {
		t.Fatal(err)
	}
	return e
}

// reopen closes pebble and opens it and the log again, as a clean restart
// would: everything written survives, synced or not.
func (e *env) reopen(t testing.TB) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.db = openDB(t, e.fs)
	var err error
	if e.log, err = Open(e.db, e.opts); err != nil {
		t.Fatal(err)
	}
}

// crash opens the log on a copy of the filesystem holding only what was
// synced, as a machine crash would leave it. The old pebble is left open
// (and closed at cleanup) since a crashed process does not close anything.
func (e *env) crash(t testing.TB) {
	t.Helper()
	e.fs = e.fs.CrashClone(vfs.CrashCloneCfg{})
	e.crashed = append(e.crashed, e.db)
	e.db = openDB(t, e.fs)
	var err error
	if e.log, err = Open(e.db, e.opts); err != nil {
		t.Fatal(err)
	}
}

// index mirrors raft's test helper: index(i).terms(t1, t2, ...) is the
// entries i, i+1, ... with those terms.
type index uint64

func (i index) terms(terms ...uint64) []*raftpb.Entry {
	ents := make([]*raftpb.Entry, 0, len(terms))
	for j, term := range terms {
		ents = append(ents, &raftpb.Entry{Term: proto.Uint64(term), Index: proto.Uint64(uint64(i) + uint64(j))})
	}
	return ents
}

func ent(i, term uint64, data string) *raftpb.Entry {
	return &raftpb.Entry{
		Term:  proto.Uint64(term),
		Index: proto.Uint64(i),
		Type:  raftpb.EntryNormal.Enum(),
		Data:  []byte(data),
	}
}

// withLog builds the log raft's storage tests start from: a snapshot at
// ents[0] (the "dummy" entry of MemoryStorage) and ents[1:] appended.
func withLog(t testing.TB, opts Options, ents []*raftpb.Entry) *env {
	t.Helper()
	e := newEnv(t, opts)
	snap := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index: proto.Uint64(ents[0].GetIndex()),
		Term:  proto.Uint64(ents[0].GetTerm()),
	}}
	if err := e.log.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := e.log.Append(nil, ents[1:], false); err != nil {
		t.Fatal(err)
	}
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sameEntries(a, b []*raftpb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func describe(ents []*raftpb.Entry) string {
	s := "["
	for i, e := range ents {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d/%d", e.GetIndex(), e.GetTerm())
		if len(e.GetData()) > 0 && len(e.GetData()) <= 16 {
			s += fmt.Sprintf("%q", e.GetData())
		}
	}
	return s + "]"
}

func requireEntries(t testing.TB, want, got []*raftpb.Entry) {
	t.Helper()
	if !sameEntries(want, got) {
		t.Fatalf("entries: got %s, want %s", describe(got), describe(want))
	}
}

// allEntries returns every entry of the log with no size limit.
func allEntries(t testing.TB, l *Log) []*raftpb.Entry {
	t.Helper()
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	if last < first {
		return nil
	}
	ents, err := l.Entries(first, last+1, 1<<63)
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", first, last+1, err)
	}
	return ents
}

// checkLog verifies the log against what pebble holds: entries exactly for
// (snapshot index, last index], headers agreeing with the entries, running
// totals and Bytes agreeing with the encoded sizes, the cache agreeing with
// pebble, Term and Entries agreeing with all of that, and a fresh Open
// recovering the same state. It also checks that no key outside
// storage.RaftLogPrefix was written, other than the ones the test put there.
func checkLog(t testing.TB, l *Log) {
	t.Helper()
	s := l.state.Load()
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: entriesStart, UpperBound: entriesEnd})
	must(t, err)
	defer it.Close()
	var scanned []*raftpb.Entry
	next, cum := s.snapIndex+1, s.snapCum
	for valid := it.First(); valid; valid = it.Next() {
		i, err := parseEntryKey(it.Key())
		must(t, err)
		if i != next {
			t.Fatalf("pebble holds entry %d, want %d (state %+v)", i, next, *s)
		}
		v := it.Value()
		term, c, err := entryHeader(v)
		must(t, err)
		e, err := decodeEntry(v)
		must(t, err)
		size := uint64(proto.Size(e))
		cum += size
		if e.GetIndex() != i || e.GetTerm() != term || c != cum {
			t.Fatalf("entry %d: index %d term %d/%d cum %d/%d", i, e.GetIndex(), e.GetTerm(), term, c, cum)
		}
		scanned = append(scanned, e)
		next++
	}
	if next-1 != s.last || cum != s.lastCum {
		t.Fatalf("pebble ends at %d (cum %d), state at %d (cum %d)", next-1, cum, s.last, s.lastCum)
	}
	var bytes uint64
	for _, e := range scanned {
		bytes += uint64(proto.Size(e))
	}
	if l.Bytes() != bytes {
		t.Fatalf("Bytes() = %d, entries encode to %d", l.Bytes(), bytes)
	}
	requireEntries(t, scanned, allEntries(t, l))
	for _, e := range scanned {
		term, err := l.Term(e.GetIndex())
		if err != nil || term != e.GetTerm() {
			t.Fatalf("Term(%d) = %d, %v; want %d", e.GetIndex(), term, err, e.GetTerm())
		}
	}
	if term, err := l.Term(s.snapIndex); err != nil || term != s.snapTerm {
		t.Fatalf("Term(snapshot %d) = %d, %v; want %d", s.snapIndex, term, err, s.snapTerm)
	}
	if c := l.cache; c != nil {
		c.mu.Lock()
		var acct uint64
		for j, ce := range c.ents {
			i := c.first + uint64(j)
			acct += ce.size + entryOverhead
			if i <= s.snapIndex || i > s.last || !proto.Equal(ce.e, scanned[i-s.snapIndex-1]) ||
				ce.size != uint64(proto.Size(ce.e)) {
				c.mu.Unlock()
				t.Fatalf("cache holds %s at %d; log is (%d, %d]", describe([]*raftpb.Entry{ce.e}), i, s.snapIndex, s.last)
			}
		}
		if acct != c.bytes || c.bytes > c.budget {
			c.mu.Unlock()
			t.Fatalf("cache accounts %d bytes, holds %d, budget %d", c.bytes, acct, c.budget)
		}
		c.mu.Unlock()
	}
	re, err := loadState(l.db)
	must(t, err)
	re.epoch = s.epoch
	if !proto.Equal(re.hardState, s.hardState) || !proto.Equal(re.confState, s.confState) {
		t.Fatalf("reloaded hard state %v conf state %v, have %v %v", re.hardState, re.confState, s.hardState, s.confState)
	}
	re.hardState, re.confState = s.hardState, s.confState
	if *re != *s {
		t.Fatalf("reloaded state %+v, have %+v", *re, *s)
	}
	pending, err := loadPending(l.db)
	must(t, err)
	if !proto.Equal(pending, l.pending) {
		t.Fatalf("pebble holds pending snapshot %v, the log %v", pending, l.pending)
	}
	checkOtherPrefixes(t, l.db)
}

// foreignKeys are written by tests outside the raft log's prefix, to check
// that the log never touches them.
var foreignKeys = [][]byte{
	{0x00, 'e'},
	{storage.RaftLogPrefix - 1, 0xff},
	{storage.RaftLogPrefix + 1},
	{storage.RaftLogPrefix + 1, 'e', 0, 0, 0, 0, 0, 0, 0, 1},
	{storage.StateMachineStart, 'k'},
}

func putForeignKeys(t testing.TB, db *pebble.DB) {
	t.Helper()
	for _, k := range foreignKeys {
		must(t, db.Set(k, []byte("foreign"), pebble.NoSync))
	}
}

// checkOtherPrefixes checks that every key outside the log's span is one of
// foreignKeys with its value, and that those present earlier still are.
func checkOtherPrefixes(t testing.TB, db *pebble.DB) {
	t.Helper()
	start, end := LogSpan()
	it, err := db.NewIter(nil)
	must(t, err)
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		if string(k) >= string(start) && string(k) < string(end) {
			continue
		}
		ok := false
		for _, f := range foreignKeys {
			ok = ok || string(f) == string(k)
		}
		if !ok || string(it.Value()) != "foreign" {
			t.Fatalf("unexpected key %x = %q outside the log's span", k, it.Value())
		}
	}
}

func requireForeignKeys(t testing.TB, db *pebble.DB) {
	t.Helper()
	for _, k := range foreignKeys {
		v, closer, err := db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			t.Fatalf("foreign key %x deleted", k)
		}
		must(t, err)
		if string(v) != "foreign" {
			t.Fatalf("foreign key %x = %q", k, v)
		}
		_ = closer.Close()
	}
}
