package storage

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// migrate moves the raft log and the identity out of the state machine's
// database, where a data directory written before the two were split keeps
// them, into the log's. It copies them, syncs the log's database, then
// deletes them from the state machine's and flushes it. A crash in between
// leaves them in both; the next Open copies them again, overwriting the
// same keys with the same values, so no step is lost or taken twice.
func (e *Engine) migrate() error {
	lower, upper := []byte{RaftLogPrefix}, []byte{LocalPrefix + 1}
	it, err := e.DB.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	defer it.Close()
	if !it.First() {
		return it.Error() // nothing to move: a data directory of this layout
	}
	e.opts.Logger.Infof("moving the raft log into its own database")
	const batchBytes = 16 << 20
	b := e.Log.NewBatch()
	for ; it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			b.Close()
			return fmt.Errorf("storage: migrate: %w", err)
		}
		if err := b.Set(it.Key(), v, nil); err != nil {
			b.Close()
			return fmt.Errorf("storage: migrate: %w", err)
		}
		if b.Len() >= batchBytes {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("storage: migrate: %w", err)
			}
			b = e.Log.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		b.Close()
		return fmt.Errorf("storage: migrate: %w", err)
	}
	// The last commit is synced, and with it every earlier one.
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	if err := e.DB.DeleteRange(lower, upper, pebble.NoSync); err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	if err := e.DB.Flush(); err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	return nil
}
