package storage

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

var identityKey = []byte{LocalPrefix, 'i', 'd'}

// LoadIdentity returns the identity the member recorded when it first
// started, and false if it never did.
func (e *Engine) LoadIdentity() (*cairnpb.Identity, bool, error) {
	v, closer, err := e.Log.Get(identityKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: read identity: %w", err)
	}
	defer closer.Close()
	id := &cairnpb.Identity{}
	if err := proto.Unmarshal(v, id); err != nil {
		return nil, false, fmt.Errorf("storage: decode identity: %w", err)
	}
	return id, true, nil
}

// SaveIdentity records the member's identity, synced.
func (e *Engine) SaveIdentity(id *cairnpb.Identity) error {
	b, err := proto.Marshal(id)
	if err != nil {
		return err
	}
	if err := e.Log.Set(identityKey, b, pebble.Sync); err != nil {
		return fmt.Errorf("storage: write identity: %w", err)
	}
	return nil
}

// DiskUsage returns the bytes the engine's files use on disk.
func (e *Engine) DiskUsage() int64 {
	return int64(e.DB.Metrics().DiskSpaceUsage() + e.Log.Metrics().DiskSpaceUsage())
}
