package mvcc

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// quietLogger drops pebble's messages in tests.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// testDB is a pebble database in memory that can be closed and reopened.
type testDB struct {
	fs vfs.FS
	db *pebble.DB
}

func openTestDB(tb testing.TB, fs vfs.FS, tune ...func(*pebble.Options)) *testDB {
	tb.Helper()
	if fs == nil {
		fs = vfs.NewMem()
	}
	opts := &pebble.Options{
		FS:                 fs,
		Logger:             quietLogger{},
		FormatMajorVersion: pebble.FormatNewest,
	}
	for _, f := range tune {
		f(opts)
	}
	db, err := pebble.Open("db", opts)
	if err != nil {
		tb.Fatal(err)
	}
	return &testDB{fs: fs, db: db}
}

func (d *testDB) close(tb testing.TB) {
	tb.Helper()
	if err := d.db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// reopen closes the database and opens it again from the same files.
func (d *testDB) reopen(tb testing.TB) {
	tb.Helper()
	d.close(tb)
	*d = *openTestDB(tb, d.fs)
}

func openTestStore(tb testing.TB) (*testDB, *Store) {
	tb.Helper()
	d := openTestDB(tb, nil)
	s, err := Open(d.db)
	if err != nil {
		tb.Fatal(err)
	}
	return d, s
}

// mustCommit applies fn in one batch and commits it with the next applied
// index.
func mustCommit(tb testing.TB, s *Store, fn func(b *Batch)) {
	tb.Helper()
	b := s.NewBatch()
	defer b.Close()
	fn(b)
	if err := b.Commit(s.AppliedIndex() + 1); err != nil {
		tb.Fatal(err)
	}
}

func mustPut(tb testing.TB, b *Batch, key, value string) *pb.PutResponse {
	tb.Helper()
	resp, err := b.Put(&pb.PutRequest{Key: []byte(key), Value: []byte(value)})
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

func mustRange(tb testing.TB, v *ReadView, r *pb.RangeRequest) *pb.RangeResponse {
	tb.Helper()
	resp, err := v.Range(r)
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}
