package cairntest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// This file runs members as processes: the cmd/node binary and the real etcd,
// so that tests can compare the two with the same client or kill a member
// mid-write. Packages that use NodeBinary should call Main from their
// TestMain, so that the binary built for them is removed afterwards.

// StartTimeout bounds how long a started server may take to serve.
const StartTimeout = 30 * time.Second

// stopTimeout bounds how long Stop waits after SIGTERM before it kills.
const stopTimeout = 20 * time.Second

// RequireToolsEnv, set to 1, turns a missing tools/bin binary from a skip into
// a failure (make test sets it, so CI cannot skip silently).
const RequireToolsEnv = "CAIRN_REQUIRE_TOOLS"

var build struct {
	once sync.Once
	dir  string // holds the binary; removed by Main
	path string
	err  error
}

// Main runs a package's tests and then removes the binary NodeBinary built.
// Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { cairntest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// NodeBinary returns the path of the cmd/node binary, built once per test
// binary into a temporary directory.
func NodeBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			build.err = err
			return
		}
		if build.dir, err = os.MkdirTemp("", "cairntest-bin-"); err != nil {
			build.err = err
			return
		}
		path := filepath.Join(build.dir, "cairn-node")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/node")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/node: %v\n%s", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// ModuleRoot returns the directory of Cairn's go.mod, found by walking up
// from the working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/cairnkv/cairn\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cairntest: no go.mod of github.com/cairnkv/cairn above the working directory")
		}
		dir = parent
	}
}

// Tool returns the path of a binary that make tools builds into tools/bin
// (etcd, etcdctl). If it is missing the test is skipped, or fails when
// CAIRN_REQUIRE_TOOLS=1.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(ModuleRoot(t), "tools", "bin", name)
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("%s is missing (run make tools): %v", path, err)
		if os.Getenv(RequireToolsEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
//
// It picks at random below the kernel's ephemeral range (32768 and up on
// Linux), where port 0 would pick: the kernel hands those out to every
// outgoing connection, so a port found free there is often taken again by
// the time a child process binds it. Below the range only another test that
// picked the same port by chance can take it.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		port := 10000 + rand.IntN(22000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatalf("no free port found between 10000 and 32000")
	return 0
}

// Process is a child process whose stderr goes to a file, shown in the test
// log if the test fails. It is killed when the test ends if still running.
type Process struct {
	Name string // for messages
	t    testing.TB
	cmd  *exec.Cmd
	log  string // stderr file
	done chan struct{}
	err  error // of Wait, once done is closed
}

// StartProcess starts path with args. name labels its messages and log.
func StartProcess(t testing.TB, name, path string, args ...string) *Process {
	t.Helper()
	log, err := os.CreateTemp(t.TempDir(), "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close() // the child has its own descriptor
	p := &Process{Name: name, t: t, log: log.Name(), done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout = log
	p.cmd.Stderr = log
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s (%s %s) stderr:\n%s", name, filepath.Base(path), strings.Join(args, " "), p.Stderr())
		}
	})
	return p
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Pid returns the process's ID (for example to read its memory from /proc).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Err returns how the process exited (nil for status 0) once Done is
// closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Stderr returns what the process wrote so far.
func (p *Process) Stderr() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. It returns how the process exited: nil for status 0. (etcd
// re-raises SIGTERM, so it reports "signal: terminated".)
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(stopTimeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM: killed", p.Name, stopTimeout)
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Server is a process serving etcd's API: a Cairn member (StartNodeProcess)
// or the real etcd (StartEtcd).
type Server struct {
	*Process // the current run; replaced by Restart
	// Endpoint is the client address, host:port.
	Endpoint string
	// DataDir is the server's data directory.
	DataDir string

	t    testing.TB
	name string
	path string
	args []string
}

// StartNodeProcess starts the cmd/node binary on free client and peer ports
// with --data-dir dataDir (a new temporary directory if empty) and the extra
// args (which may override those flags: the last one wins), and waits until
// it serves.
func StartNodeProcess(t testing.TB, dataDir string, args ...string) *Server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	endpoint := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s := &Server{
		Endpoint: endpoint, DataDir: dataDir, t: t, name: "cairn", path: NodeBinary(t),
		args: append([]string{
			"--data-dir", dataDir,
			"--listen-client-urls", "http://" + endpoint,
			"--advertise-client-urls", "http://" + endpoint,
			// Not the default localhost:2380: members of parallel tests
			// would collide there.
			"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)),
		}, args...),
	}
	s.start()
	return s
}

// EtcdConfig configures the real etcd started by StartEtcd.
type EtcdConfig struct {
	// Name is --name. Default "default".
	Name string
	// AdvertisePeerURL is --initial-advertise-peer-urls and this member's
	// entry in --initial-cluster; with the cluster token it determines the
	// member ID. Default: the listen peer URL, on a free port. A single
	// member never dials it, so it may name a port nobody listens on (for
	// IDs that do not change from run to run).
	AdvertisePeerURL string
	// Args are more flags, for example --max-request-bytes=10000.
	Args []string
}

// StartEtcd starts the real etcd (tools/bin/etcd) as a single member on free
// client and peer ports, with a new temporary data directory, and waits until
// it serves. It skips the test if etcd is not built (see Tool).
func StartEtcd(t testing.TB, cfg EtcdConfig) *Server {
	t.Helper()
	path := Tool(t, "etcd")
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	if cfg.AdvertisePeerURL == "" {
		cfg.AdvertisePeerURL = peer
	}
	dataDir := t.TempDir()
	s := &Server{
		Endpoint: strings.TrimPrefix(client, "http://"), DataDir: dataDir, t: t, name: "etcd", path: path,
		args: append([]string{
			"--name", cfg.Name,
			"--data-dir", dataDir,
			"--listen-client-urls", client,
			"--advertise-client-urls", client,
			"--listen-peer-urls", peer,
			"--initial-advertise-peer-urls", cfg.AdvertisePeerURL,
			"--initial-cluster", cfg.Name + "=" + cfg.AdvertisePeerURL,
			"--log-level=error",
		}, cfg.Args...),
	}
	s.start()
	return s
}

// Restart starts the server again with the same arguments (same port, same
// data directory) after it stopped or was killed, and waits until it serves.
func (s *Server) Restart() {
	s.t.Helper()
	select {
	case <-s.Done():
	default:
		s.t.Fatalf("%s: Restart while it is running", s.Name)
	}
	s.start()
}

func (s *Server) start() {
	s.t.Helper()
	s.Process = StartProcess(s.t, s.name+" "+s.Endpoint, s.path, s.args...)
	if err := WaitServing(s.Endpoint, s.Process, StartTimeout); err != nil {
		s.Kill()
		s.t.Fatalf("%s: %v", s.Name, err) // the cleanup shows its stderr
	}
}

// WaitServing waits until the server at endpoint (host:port) has a leader and
// lists itself as a member with the client URL http://endpoint, as etcd does
// once it serves clients. It fails early if p (which may be nil) exits.
func WaitServing(endpoint string, p *Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var exited <-chan struct{}
	if p != nil {
		exited = p.Done()
	}
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	wait := func() error {
		select {
		case <-exited:
			return fmt.Errorf("exited before serving: %v", p.Err())
		case <-ctx.Done():
			return fmt.Errorf("not serving after %v", timeout)
		case <-poll.C:
			return nil
		}
	}
	// Wait for the port first: a gRPC client that finds nobody listening
	// backs off for a second or more before it tries again.
	for {
		c, err := net.DialTimeout("tcp", endpoint, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if err := wait(); err != nil {
			return err
		}
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	url := "http://" + endpoint
	for {
		err := serving(ctx, c, endpoint, url)
		if err == nil {
			return nil
		}
		if werr := wait(); werr != nil {
			return fmt.Errorf("%w (last: %v)", werr, err)
		}
	}
}

// serving returns nil if the server at endpoint has a leader and lists
// itself as a member with url, and otherwise why not.
func serving(ctx context.Context, c *clientv3.Client, endpoint, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.Status(ctx, endpoint)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if st.Leader == 0 {
		return errors.New("no leader")
	}
	// Serializable: the member's own view, which is what serving means
	// here; whether linearizable reads work is for the tests to check.
	ml, err := c.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return fmt.Errorf("member list: %w", err)
	}
	if !slices.ContainsFunc(ml.Members, func(m *pb.Member) bool {
		return m.Name != "" && slices.Contains(m.ClientURLs, url)
	}) {
		return fmt.Errorf("not yet a member with client URL %s: %v", url, ml.Members)
	}
	return nil
}
