package mvcc

import (
	"testing"
)

// TestAuthStatusRecordIsCommittedState checks the in-memory status record
// against what pebble holds, through each way it changes: a batch's own
// write (seen by the batch, not by views until the commit), a commit, an
// aborted batch, a delete, and a reopen of the store.
func TestAuthStatusRecordIsCommittedState(t *testing.T) {
	d, s := openTestStore(t)
	get := func(r interface{ Auth(string) ([]byte, error) }) string {
		t.Helper()
		v, err := r.Auth(AuthStatusRecord)
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	view := func() string {
		t.Helper()
		v := s.Read()
		defer v.Close()
		return get(v)
	}
	if got := view(); got != "" {
		t.Fatalf("a fresh store's status record: %q", got)
	}

	b := s.NewBatch()
	b.PutAuth(AuthStatusRecord, []byte("on"))
	if got := get(b); got != "on" {
		t.Errorf("the batch that wrote it reads %q", got)
	}
	if got := view(); got != "" {
		t.Errorf("a view reads %q before the commit", got)
	}
	if err := b.Commit(s.AppliedIndex() + 1); err != nil {
		t.Fatal(err)
	}
	if got := view(); got != "on" {
		t.Errorf("a view reads %q after the commit", got)
	}

	aborted := s.NewBatch()
	aborted.PutAuth(AuthStatusRecord, []byte("never"))
	aborted.Close()
	if got := view(); got != "on" {
		t.Errorf("after an aborted batch, a view reads %q", got)
	}

	mustCommit(t, s, func(b *Batch) {
		if got := get(b); got != "on" {
			t.Errorf("a new batch reads %q", got)
		}
		b.DeleteAuth(AuthStatusRecord)
		if got := get(b); got != "" {
			t.Errorf("the batch that deleted it reads %q", got)
		}
	})
	if got := view(); got != "" {
		t.Errorf("after the delete, a view reads %q", got)
	}
	mustCommit(t, s, func(b *Batch) { b.PutAuth(AuthStatusRecord, []byte("again")) })

	// The value in memory is pebble's: a store opened on the same files
	// reads it from there.
	d.reopen(t)
	s2, err := Open(d.db)
	if err != nil {
		t.Fatal(err)
	}
	v := s2.Read()
	defer v.Close()
	if got := get(v); got != "again" {
		t.Errorf("after a reopen: %q", got)
	}
	if got, err := getAuth(d.db, AuthStatusRecord); err != nil || string(got) != "again" {
		t.Errorf("pebble holds %q, %v", got, err)
	}
}
