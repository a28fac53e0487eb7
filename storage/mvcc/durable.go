package mvcc

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// DurableView reads the state machine as it is on disk: what pebble has
// flushed, without its memtables. The state machine's database has no
// write-ahead log (storage.Engine), so this is exactly the state a restart
// after a crash starts from, and the raft log must keep every entry after
// its applied index.
type DurableView struct {
	it *pebble.Iterator
	st stateRecord
}

// ReadDurable opens a DurableView. One view reads one version of the
// database: its applied index and meta entries agree with each other even
// if a flush ends meanwhile. The caller must close it.
func (s *Store) ReadDurable() (*DurableView, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{OnlyReadGuaranteedDurable: true})
	if err != nil {
		return nil, fmt.Errorf("mvcc: read durable state: %w", err)
	}
	v := &DurableView{it: it, st: emptyState}
	b, err := v.get(metaKey(nil, metaSystem, metaState))
	if err == nil && b != nil {
		v.st, err = decodeState(b)
	}
	if err != nil {
		it.Close()
		return nil, fmt.Errorf("mvcc: read durable state: %w", err)
	}
	return v, nil
}

// AppliedIndex returns the raft index of the last entry the durable state
// includes (0 if none).
func (v *DurableView) AppliedIndex() uint64 { return v.st.applied }

// Meta returns a copy of the durable value of a meta entry (Batch.PutMeta),
// or nil if there is none.
func (v *DurableView) Meta(name string) ([]byte, error) {
	return v.get(metaKey(nil, metaUser, name))
}

// get returns a copy of k's value, or nil if k is absent.
func (v *DurableView) get(k []byte) ([]byte, error) {
	if !v.it.SeekGE(k) || !bytes.Equal(v.it.Key(), k) {
		return nil, v.it.Error()
	}
	val, err := v.it.ValueAndErr()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(val), nil
}

// Close releases the view.
func (v *DurableView) Close() error { return v.it.Close() }
