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
	db, s := openTestStore(t)
	defer db.close(t)
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
			opened := cap(b.b.Repr()) // at least size; more if it is the store's kept batch
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
			// pebble's pool keeps buffers of up to 1 MiB, and the store the
			// last batch's: a batch may start with one, but must not have
			// grown or been given another.
			if got := cap(b.b.Repr()); got < size || got != opened {
				t.Fatalf("%d puts of %d bytes: the batch's buffer has %d bytes, not the %d it was opened with", len(puts), n, got, size)
			}
		})
	}
}

// TestBatchKeepsBuffer checks that a batch of a 1 MiB put passes its buffer
// on to the next batch (pebble would drop it), that the next batch starts
// empty, and that what both committed reads back.
func TestBatchKeepsBuffer(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	put := func(key string, n int) *Batch {
		b := s.NewBatchWithSize(n + 1024)
		if _, err := b.Put(&pb.PutRequest{Key: []byte(key), Value: bytes.Repeat([]byte(key[:1]), n)}); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b1 := put("a", 1<<20)
	buf := b1.b.Repr()[:1]
	if err := b1.Commit(1); err != nil {
		t.Fatal(err)
	}
	b2 := s.NewBatchWithSize(1 << 20)
	if got := &b2.b.Repr()[:1][0]; got != &buf[0] {
		t.Error("the second batch did not get the first one's buffer")
	}
	if n := b2.b.Count(); n != 0 || len(b2.b.Repr()) != 12 {
		t.Fatalf("the kept batch holds %d records (%d bytes)", n, len(b2.b.Repr()))
	}
	if _, err := b2.Put(&pb.PutRequest{Key: []byte("b"), Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := b2.Commit(2); err != nil {
		t.Fatal(err)
	}
	// An uncommitted batch is kept too, and what it held is gone.
	b3 := put("c", 3<<20)
	b3.Close()
	b4 := put("d", 10)
	if err := b4.Commit(3); err != nil {
		t.Fatal(err)
	}
	// A buffer over keptBatchBytes is not kept.
	b5 := put("e", keptBatchBytes+1)
	if err := b5.Commit(4); err != nil {
		t.Fatal(err)
	}
	if s.kept != nil && cap(s.kept.Repr()) > keptBatchBytes {
		t.Errorf("a batch of %d bytes was kept", cap(s.kept.Repr()))
	}
	v := s.Read()
	defer v.Close()
	for key, n := range map[string]int{"a": 1 << 20, "b": 1, "d": 10, "e": keptBatchBytes + 1} {
		r, err := v.Range(&pb.RangeRequest{Key: []byte(key)})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Kvs) != 1 || !bytes.Equal(r.Kvs[0].Value, bytes.Repeat([]byte(key), n)) {
			t.Errorf("key %s: got %d kvs", key, len(r.Kvs))
		}
	}
	if r, err := v.Range(&pb.RangeRequest{Key: []byte("c")}); err != nil || len(r.Kvs) != 0 {
		t.Errorf("the closed batch's key c: %v, %v", r, err)
	}
	if got := s.Rev(); got != 5 {
		t.Errorf("revision %d, want 5", got)
	}
}
