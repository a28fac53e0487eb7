package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MemberSpec is everything a system needs to run one member. A member keeps
// its spec, and so its data dir and ports, across restarts.
type MemberSpec struct {
	Name      string
	DataDir   string
	ClientURL string // http://127.0.0.1:port
	PeerURL   string // http://127.0.0.1:port
	// InitialCluster is etcd's name=peerURL,... list of the whole cluster.
	InitialCluster string
	// Args are a workload's extra flags for this member, after the
	// benchmark's own and -cairn-args or -etcd-args.
	Args []string
	// PprofAddr is host:port for a profiling endpoint of its own, when the
	// system needs one (Cairn under -cpuprofile).
	PprofAddr string
	// MetricsURL (http://127.0.0.1:port) serves /metrics: Cairn serves it
	// only on --listen-metrics-urls, so both systems get one there.
	MetricsURL string
}

// A System is a server implementation under test.
type System interface {
	// Name is the system's name in the table: "cairn" or "etcd".
	Name() string
	// Command returns the command that runs member m.
	Command(m MemberSpec) *exec.Cmd
	// PprofURL returns the base URL of m's /debug/pprof/ endpoints, or ""
	// when m has none (profiling is off).
	PprofURL(m MemberSpec) string
	// SnapshotMarker is what a member logs (at info) once for each
	// snapshot it receives from the leader.
	SnapshotMarker() string
}

// etcdQuotaBytes is etcd's backend quota in the benchmark: its default 2 GiB
// holds 1M keys of 100 B, but a workload must never fail on the quota.
const etcdQuotaBytes = 8 << 30

// cairnSystem runs cmd/node; when profiling, one built with the pprof
// overlay (profile.go).
type cairnSystem struct {
	bin     string // cmd/node binary
	profile bool
	args    []string // -cairn-args
}

// memberFlags are the flags that place member m in its cluster, under the
// names etcd and Cairn share. --initial-cluster-state is read only on a
// member's first start, by both.
func memberFlags(m MemberSpec) []string {
	return []string{
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.InitialCluster,
		"--initial-cluster-state", "new",
		"--listen-metrics-urls", m.MetricsURL,
		"--log-level", "info",
	}
}

func (cairnSystem) Name() string { return "cairn" }

func (cairnSystem) SnapshotMarker() string { return "snapshot received" } // actors/snapshot

func (s cairnSystem) Command(m MemberSpec) *exec.Cmd {
	args := append(append(memberFlags(m), s.args...), m.Args...)
	cmd := exec.Command(s.bin, args...)
	if s.profile {
		cmd.Env = append(cmd.Environ(), profileAddrEnv+"="+m.PprofAddr)
	}
	return cmd
}

func (s cairnSystem) PprofURL(m MemberSpec) string {
	if !s.profile {
		return ""
	}
	return "http://" + m.PprofAddr + "/debug/pprof"
}

// etcdSystem runs the real etcd.
type etcdSystem struct {
	bin     string
	profile bool
	args    []string // -etcd-args
}

func (etcdSystem) Name() string { return "etcd" }

func (etcdSystem) SnapshotMarker() string { return "received and saved database snapshot" } // rafthttp

func (s etcdSystem) Command(m MemberSpec) *exec.Cmd {
	args := append(memberFlags(m), "--quota-backend-bytes", fmt.Sprint(etcdQuotaBytes))
	if s.profile {
		args = append(args, "--enable-pprof")
	}
	args = append(append(args, s.args...), m.Args...)
	return exec.Command(s.bin, args...)
}

func (s etcdSystem) PprofURL(m MemberSpec) string {
	if !s.profile {
		return ""
	}
	return m.ClientURL + "/debug/pprof" // etcd serves pprof on its client URL
}

// moduleRoot returns the root of the Cairn module the current directory is
// in, where the cmd/node sources and tools/bin/etcd are.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the Cairn module: run from its checkout, or give -cairn-bin and -etcd-bin")
	}
	return filepath.Dir(gomod), nil
}

// buildCairn builds cmd/node into dir, with any extra go build flags, and
// returns the binary's path.
func buildCairn(ctx context.Context, root, dir string, flags ...string) (string, error) {
	bin := filepath.Join(dir, "cairn-node")
	args := append(append([]string{"build", "-o", bin}, flags...), "./cmd/node")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/node: %w\n%s", err, out)
	}
	return bin, nil
}
