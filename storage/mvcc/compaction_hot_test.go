package mvcc

import (
	"fmt"
	"testing"
)

// TestCompactionOfAHotKey checks that compacting a key rewritten many times
// deletes each of its old versions once, not once per newer change: a
// chunk walks the older versions of a key from its newest change only, and
// a later pass stops at what the last one left. Reads and the store's
// invariants are the same as without these shortcuts.
func TestCompactionOfAHotKey(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	rewrite := func(n int) {
		for i := range n {
			mustCommit(t, s, func(b *Batch) {
				mustPut(t, b, "hot", fmt.Sprint("v", i))
				if i%10 == 0 {
					mustPut(t, b, fmt.Sprint("cold/", i), "x")
				}
			})
		}
	}
	// pass compacts to the current revision in chunks of 40 changes and
	// returns the versions rule 1 deleted.
	pass := func() int {
		rev := s.Rev()
		before := snapshotReads(t, s, rev)
		mustCommit(t, s, func(b *Batch) {
			if _, err := b.Compact(rev); err != nil {
				t.Fatal(err)
			}
		})
		deletes := 0
		for {
			p, err := s.compactionProgress()
			if err != nil {
				t.Fatal(err)
			}
			if p.target == 0 {
				if p.done >= rev {
					break
				}
				p = compactionProgress{done: p.done, target: rev, cursorMain: p.done}
			}
			n, err := s.compactChunk(&p, 40)
			if err != nil {
				t.Fatal(err)
			}
			deletes += n
		}
		sameReads(t, before, snapshotReads(t, s, rev))
		checkInvariants(t, s)
		return deletes
	}

	rewrite(300)
	// 299 old versions of hot; the cold keys have one version each.
	if got := pass(); got != 299 {
		t.Errorf("first pass deleted %d versions, want 299", got)
	}
	rewrite(100)
	// 100 old versions of hot (the 99 new ones and the one the first pass
	// left) and the first versions of cold/0 to cold/90, written again.
	if got := pass(); got != 110 {
		t.Errorf("second pass deleted %d versions, want 110", got)
	}
}
