package mvcc

import (
	"bytes"
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestBatchWithSize checks that a batch sized for the puts it will hold
// (their keys and values, plus twice the key and 128 bytes per put and 256
// bytes for the entry: what the apply actor asks for) never grows,
// including the commit's state record: pebble's batch doubles its buffer
// when it grows.
func TestBatchWithSize(t *testing.T) {
	db := openTestDB(t, nil)
	defer db.close(t)
	s, err := Open(db.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ n, puts int }{
		{1, 2}, {0, 1}, {100, 3}, {4 << 10, 2}, {1 << 20, 1},
		{10, 5000}, // many small puts: the overhead per put dominates
	} {
		n := c.n
		t.Run(fmt.Sprint(n, "x", c.puts), func(t *testing.T) {
			var puts []*pb.PutRequest
			size := 256
			for i := range c.puts {
				p := &pb.PutRequest{Key: fmt.Appendf(nil, "key/%d/%d", n, i), Value: bytes.Repeat([]byte{'v'}, n)}
				puts = append(puts, p)
				size += 3*len(p.Key) + len(p.Value) + 128
			}
			b := s.NewBatchWithSize(size)
			defer b.Close()
			for _, p := range puts {
				if _, err := b.Put(p); err != nil {
					t.Fatal(err)
				}
			}
			// What Commit adds: the state record.
			st := stateRecord{rev: b.rev, applied: s.AppliedIndex() + 1}
			if err := b.setKey(metaKey(b.kbuf[:0], metaSystem, metaState), st.append(b.vbuf[:0])); err != nil {
				t.Fatal(err)
			}
			// pebble's pool keeps buffers of up to 1 MiB: a batch may start
			// with one, but must not have grown or been given another.
			if got := cap(b.b.Repr()); got < size || got > max(size, 1<<20) {
				t.Fatalf("%d puts of %d bytes: the batch's buffer has %d bytes, not the %d it was opened with", len(puts), n, got, size)
			}
		})
	}
}
