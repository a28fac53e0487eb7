package cairn

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// Restore creates a member's data directory, dataDir, from a backup (what
// Maintenance.Snapshot streams, etcdctl snapshot save writes): its keys,
// revisions, history and leases, without the old cluster's members. Every
// member of the new cluster is restored from the same backup and then
// started as a new cluster (InitialClusterState new), as with etcdutl
// snapshot restore. dataDir must not exist or be empty; a restore that fails
// leaves it as it found it. It returns the revision of the restored keyspace.
func Restore(backup io.Reader, dataDir string, logger *slog.Logger) (rev int64, err error) {
	entries, err := os.ReadDir(dataDir)
	created := errors.Is(err, os.ErrNotExist)
	switch {
	case created:
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return 0, fmt.Errorf("cairn: restore: %w", err)
		}
	case err != nil:
		return 0, fmt.Errorf("cairn: restore: %w", err)
	case len(entries) > 0:
		return 0, fmt.Errorf("cairn: restore: data dir %s is not empty", dataDir)
	}
	defer func() {
		// As it was found: gone, or empty.
		switch {
		case err != nil && created:
			os.RemoveAll(dataDir)
		case err != nil:
			entries, _ := os.ReadDir(dataDir)
			for _, e := range entries {
				os.RemoveAll(filepath.Join(dataDir, e.Name()))
			}
		}
	}()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	engine, err := storage.Open(dataDir, storage.Options{Logger: logger})
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := engine.Close(); err == nil {
			err = cerr
		}
	}()
	if err := engine.RestoreBackup(backup, filepath.Join(dataDir, "restore.tmp")); err != nil {
		return 0, fmt.Errorf("cairn: restore: %w", err)
	}
	store, err := mvcc.Open(engine.DB)
	if err != nil {
		return 0, fmt.Errorf("cairn: restore: %w", err)
	}
	if err := store.ForgetMembership(); err != nil {
		return 0, fmt.Errorf("cairn: restore: %w", err)
	}
	// The restore is synced before it counts: a crash after Restore
	// returns does not leave a member with half of it.
	if err := engine.DB.Flush(); err != nil {
		return 0, fmt.Errorf("cairn: restore: %w", err)
	}
	return store.Rev(), nil
}
