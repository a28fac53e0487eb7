package storage

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCrashKeepsSyncedLogAndFlushedState checks the engine's durability
// contract after a crash that loses every unsynced byte: a synced write to
// the log survives, and so does what the state machine flushed; what it did
// not flush is gone (it has no write-ahead log: the raft log replays it).
// Without syncing the directories it creates, Open lost everything,
// including the data directory itself.
func TestCrashKeepsSyncedLogAndFlushedState(t *testing.T) {
	fs := vfs.NewCrashableMem()
	e, err := Open("/data/member", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	set := func(db *pebble.DB, k, v string, opts *pebble.WriteOptions) {
		t.Helper()
		if err := db.Set([]byte(k), []byte(v), opts); err != nil {
			t.Fatal(err)
		}
	}
	set(e.Log, "\x01log", "synced", pebble.Sync)
	set(e.DB, "\x10flushed", "v", pebble.NoSync)
	if err := e.DB.Flush(); err != nil {
		t.Fatal(err)
	}
	set(e.DB, "\x10unflushed", "v", pebble.NoSync)
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := Open("/data/member", Options{FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct {
		db   *pebble.DB
		key  string
		want bool
	}{
		{r.Log, "\x01log", true},
		{r.DB, "\x10flushed", true},
		{r.DB, "\x10unflushed", false},
	} {
		_, closer, err := c.db.Get([]byte(c.key))
		if err == nil {
			closer.Close()
		}
		if got := err == nil; got != c.want || (err != nil && !errors.Is(err, pebble.ErrNotFound)) {
			t.Errorf("%q after the crash: present %v (%v), want %v", c.key, got, err, c.want)
		}
	}
}

// TestMigrateMovesLogOutOfStateMachine opens a data directory of the layout
// where the raft log and identity shared the state machine's database, and
// checks that they move to the log's database and leave the state
// machine's.
func TestMigrateMovesLogOutOfStateMachine(t *testing.T) {
	dir := t.TempDir()
	old, err := pebble.Open(dir+"/"+stateDir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"\x01entry": "e", "\x02id": "i", "\x10key": "k"} {
		if err := old.Set([]byte(k), []byte(v), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	has := func(db *pebble.DB, k string) bool {
		_, closer, err := db.Get([]byte(k))
		if err != nil {
			return false
		}
		closer.Close()
		return true
	}
	for _, k := range []string{"\x01entry", "\x02id"} {
		if !has(e.Log, k) || has(e.DB, k) {
			t.Errorf("%q: in the log's database %v, in the state machine's %v; want only the log's", k, has(e.Log, k), has(e.DB, k))
		}
	}
	if !has(e.DB, "\x10key") || has(e.Log, "\x10key") {
		t.Errorf("state machine key moved")
	}
}
