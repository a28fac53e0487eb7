package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrForeignDataDir is the error of Open on a data directory another
// program made: etcd's.
var ErrForeignDataDir = errors.New("storage: not a Cairn data directory")

// refuseForeign refuses a data directory that holds etcd's data (member/,
// with its wal/ or snap/) and none of Cairn's databases. Opened, it would
// be served as an empty store at revision 1 beside the data the user
// pointed Cairn at, and the first writes would seem to have lost it.
// Other entries (lost+found at the root of a volume) are left alone.
func refuseForeign(fs vfs.FS, dataDir string) error {
	exists := func(name string) bool {
		_, err := fs.Stat(filepath.Join(dataDir, name))
		return err == nil
	}
	if exists(stateDir) || exists(logDir) {
		return nil
	}
	for _, etcd := range []string{filepath.Join("member", "wal"), filepath.Join("member", "snap")} {
		if exists(etcd) {
			return fmt.Errorf("%w: %s holds etcd's data (%s), which Cairn does not read: "+
				"point --data-dir at an empty directory or at a Cairn member's, and move etcd's keys with a client "+
				"(etcd's snapshot format cannot be imported yet)", ErrForeignDataDir, dataDir, filepath.Join(dataDir, etcd)+string(os.PathSeparator))
		}
	}
	return nil
}
