package raftlog

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// setHardState adds hs to b.
func setHardState(b *pebble.Batch, hs *raftpb.HardState) error {
	v, err := proto.Marshal(hs)
	if err != nil {
		return fmt.Errorf("raftlog: marshal hard state: %w", err)
	}
	if err := b.Set(hardStateKey, v, nil); err != nil {
		return fmt.Errorf("raftlog: write hard state: %w", err)
	}
	return nil
}

// setSnapshot adds the snapshot metadata of st to b.
func (l *Log) setSnapshot(b *pebble.Batch, st *state) error {
	v, err := snapshotValue(&raftpb.SnapshotMetadata{
		Index:     proto.Uint64(st.snapIndex),
		Term:      proto.Uint64(st.snapTerm),
		ConfState: st.confState,
	}, st.snapCum)
	if err != nil {
		return err
	}
	if err := b.Set(snapshotKey, v, nil); err != nil {
		return fmt.Errorf("raftlog: write snapshot metadata: %w", err)
	}
	return nil
}

// commit commits b. On failure the log is marked broken: the published
// state is still true of pebble (the write's intermediate state is a part of
// both the old and the new log), but memory may no longer say what pebble
// will hold after a restart.
func (l *Log) commit(b *pebble.Batch, sync bool) error {
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if err := b.Commit(opts); err != nil {
		l.broken = fmt.Errorf("%w: %w", ErrBroken, err)
		return l.broken
	}
	return nil
}
