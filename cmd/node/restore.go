package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/cairnkv/cairn"
)

// restore is `node restore --data-dir DIR FILE`: it creates a member's data
// directory from a backup that etcdctl snapshot save wrote, as etcdutl
// snapshot restore does for etcd, and exits. The member is then started
// with the new cluster's flags and --initial-cluster-state new.
func restore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "Data directory to create for the member (must not exist, or be empty).")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: node restore --data-dir DIR FILE\n\n"+
			"Creates a member's data directory from FILE, a backup written by `etcdctl snapshot save` against Cairn:\n"+
			"its keys, revisions, history and leases, without the old cluster's members. Restore every member of the\n"+
			"new cluster from the same file, then start each with --initial-cluster-state new.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dataDir == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "node restore:", err)
		return 1
	}
	defer f.Close()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rev, err := cairn.Restore(f, *dataDir, logger)
	if err != nil {
		fmt.Fprintln(stderr, "node restore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s into %s at revision %d\n", fs.Arg(0), *dataDir, rev)
	return 0
}
