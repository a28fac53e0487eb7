package cairntest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// ProcessCluster is a cluster of member processes (the cmd/node binary, see
// NodeBinary) on 127.0.0.1, each on free client and peer ports. Members talk
// over actor remoting; each advertises as its peer URL the address of a Proxy
// in the test's process, in front of its real peer listener, so that a test
// can cut a member's inbound peer traffic (ProcessMember.Cut) and heal it.
//
// Members that are cut, stopped or killed stay in Members; Running and
// Connected say which of them count. Every process is killed and every proxy
// closed when the test ends.
type ProcessCluster struct {
	// Token is the cluster's --initial-cluster-token, distinct per cluster.
	Token string
	// Members are the members started, in order (m1, m2, ... and any
	// added with StartMember).
	Members []*ProcessMember

	t      testing.TB
	server string   // "cairn" or "etcd": labels processes
	path   string   // the binary of every member
	args   []string // extra flags of every member
	// peerScheme is the scheme of the members' peer URLs: http, or
	// https when the members' args configure peer TLS.
	peerScheme string
}

// ProcessMember is one member process of a ProcessCluster.
type ProcessMember struct {
	*Server // Endpoint, DataDir, the current process; Kill, Stop, Restart
	Name    string
	// PeerURL is the advertised peer URL: the proxy's address.
	PeerURL string
	// ListenPeerURL is the URL the member listens on for peers, behind
	// the proxy.
	ListenPeerURL string
	// Proxy carries every other member's traffic to this one.
	Proxy *Proxy
	// ID is the member ID, known once the member has served (as
	// reported in its response headers).
	ID uint64

	clientOnce sync.Once
	client     *clientv3.Client // see Client
}

// clusterSeq makes tokens of clusters started in the same nanosecond
// distinct.
var clusterSeq atomic.Int64

// StartProcessCluster starts size members named m1, m2, ... as a new
// cluster, with args (for example --election-timeout=500) passed to every
// member after the flags the cluster sets, and waits until every member
// serves (see WaitServing).
func StartProcessCluster(t testing.TB, size int, args ...string) *ProcessCluster {
	t.Helper()
	return startProcessCluster(t, "cairn", NodeBinary(t), size, args)
}

// StartProcessClusterPeerTLS is StartProcessCluster with https peer URLs:
// args must give the members their peer certificates (--peer-cert-file,
// --peer-key-file, --peer-trusted-ca-file, ...). The proxies carry TLS
// like any TCP stream.
func StartProcessClusterPeerTLS(t testing.TB, size int, args ...string) *ProcessCluster {
	t.Helper()
	return startProcessClusterScheme(t, "cairn", NodeBinary(t), "https", size, args)
}

// StartEtcdCluster starts size members of the real etcd (tools/bin/etcd)
// as StartProcessCluster starts Cairn's, with the same flags (etcd's names)
// and proxies, logging errors only, so that a test can run the same steps
// against both. It skips the test if etcd is not built (see Tool).
//
// Cutting an etcd member's proxy does not isolate it as it isolates a Cairn
// member: etcd's members receive most raft messages over streams they dial
// themselves, so the cut blocks mostly what the member sends.
func StartEtcdCluster(t testing.TB, size int, args ...string) *ProcessCluster {
	t.Helper()
	return startProcessCluster(t, "etcd", Tool(t, "etcd"), size, append([]string{"--log-level=error"}, args...))
}

func startProcessCluster(t testing.TB, server, path string, size int, args []string) *ProcessCluster {
	t.Helper()
	return startProcessClusterScheme(t, server, path, "http", size, args)
}

func startProcessClusterScheme(t testing.TB, server, path, peerScheme string, size int, args []string) *ProcessCluster {
	t.Helper()
	c := &ProcessCluster{
		Token:      fmt.Sprintf("cairntest-%d-%d", time.Now().UnixNano(), clusterSeq.Add(1)),
		t:          t,
		server:     server,
		path:       path,
		args:       args,
		peerScheme: peerScheme,
	}
	var ms []*ProcessMember
	for i := 1; i <= size; i++ {
		ms = append(ms, c.PrepareMember(fmt.Sprintf("m%d", i)))
	}
	initial := initialCluster(ms)
	for _, m := range ms {
		m.args = m.memberArgs(c, initial, "new")
		m.Process = StartProcess(t, m.Server.name+" "+m.Endpoint, m.path, m.args...)
	}
	// Each waits for a leader, so none serves before a quorum has started.
	for _, m := range ms {
		if err := WaitServing(m.Endpoint, m.Process, StartTimeout); err != nil {
			for _, m := range ms {
				m.Kill()
			}
			t.Fatalf("member %s: %v", m.Name, err) // the cleanups show their stderr
		}
		m.learnID(t)
	}
	c.Members = ms
	return c
}

// PrepareMember returns a member named name with its ports and proxy, not
// started: add it to the cluster (MemberAdd with its PeerURL), then start it
// with StartMember.
func (c *ProcessCluster) PrepareMember(name string) *ProcessMember {
	c.t.Helper()
	listenPeer := fmt.Sprintf("127.0.0.1:%d", FreePort(c.t))
	p, err := NewProxy(listenPeer)
	if err != nil {
		c.t.Fatalf("proxy for %s: %v", name, err)
	}
	c.t.Cleanup(func() { p.Close() })
	endpoint := fmt.Sprintf("127.0.0.1:%d", FreePort(c.t))
	return &ProcessMember{
		Server: &Server{
			Endpoint: endpoint,
			DataDir:  c.t.TempDir(),
			t:        c.t,
			name:     c.server + " " + name,
			path:     c.path,
		},
		Name:          name,
		PeerURL:       c.peerScheme + "://" + p.Addr(),
		ListenPeerURL: c.peerScheme + "://" + listenPeer,
		Proxy:         p,
	}
}

// StartMember starts a prepared member with --initial-cluster-state
// existing, joining the cluster that has added it, and waits until it
// serves. initial is its --initial-cluster; empty means the cluster's
// members and this one, by name and peer URL (etcdctl member add prints
// the same as ETCD_INITIAL_CLUSTER).
func (c *ProcessCluster) StartMember(m *ProcessMember, initial string) {
	c.t.Helper()
	if initial == "" {
		initial = initialCluster(append(append([]*ProcessMember{}, c.Members...), m))
	}
	m.args = m.memberArgs(c, initial, "existing")
	m.start()
	m.learnID(c.t)
	c.Members = append(c.Members, m)
}

// Forget drops m from Members (after it was removed from the cluster) and
// kills its process if it still runs.
func (c *ProcessCluster) Forget(m *ProcessMember) {
	if m.Process != nil {
		m.Kill()
	}
	for i, x := range c.Members {
		if x == m {
			c.Members = append(c.Members[:i], c.Members[i+1:]...)
			return
		}
	}
}

// memberArgs are the member's flags: the cluster's, then the test's.
func (m *ProcessMember) memberArgs(c *ProcessCluster, initial, state string) []string {
	return append([]string{
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", "http://" + m.Endpoint,
		"--advertise-client-urls", "http://" + m.Endpoint,
		"--listen-peer-urls", m.ListenPeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", initial,
		"--initial-cluster-token", c.Token,
		"--initial-cluster-state", state,
	}, c.args...)
}

func initialCluster(ms []*ProcessMember) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.Name+"="+m.PeerURL)
	}
	return strings.Join(parts, ",")
}

// learnID records the member's ID from a response header.
func (m *ProcessMember) learnID(t testing.TB) {
	t.Helper()
	st, err := m.Status(Ctx(t))
	if err != nil {
		t.Fatalf("member %s: status: %v", m.Name, err)
	}
	m.ID = st.Header.MemberId
}

// Running reports whether the member's process runs.
func (m *ProcessMember) Running() bool {
	if m.Process == nil {
		return false
	}
	select {
	case <-m.Done():
		return false
	default:
		return true
	}
}

// RestartNoWait starts the member again after it stopped or was killed,
// with the same flags, and returns without waiting until it serves.
func (m *ProcessMember) RestartNoWait() {
	m.t.Helper()
	if m.Running() {
		m.t.Fatalf("%s: RestartNoWait while it is running", m.Name)
	}
	m.Process = StartProcess(m.t, m.Server.name+" "+m.Endpoint, m.path, m.args...)
}

// Cut closes the member's proxy: no other member reaches it, while it still
// reaches them.
func (m *ProcessMember) Cut() { m.Proxy.Cut() }

// Heal opens the member's proxy again.
func (m *ProcessMember) Heal() {
	m.t.Helper()
	if err := m.Proxy.Heal(); err != nil {
		m.t.Fatalf("heal %s: %v", m.Name, err)
	}
}

// Client returns a client of the member's endpoint alone, which reconnects
// quickly after a restart, closed when the test ends.
func (m *ProcessMember) Client() *clientv3.Client {
	m.clientOnce.Do(func() { m.client = NewRetryClient(m.t, m.Endpoint) })
	return m.client
}

// Status asks the member for its status (Maintenance.Status), for at most
// a second.
func (m *ProcessMember) Status(ctx context.Context) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return m.Client().Status(ctx, m.Endpoint)
}

// Running returns the members whose processes run.
func (c *ProcessCluster) Running() []*ProcessMember {
	var out []*ProcessMember
	for _, m := range c.Members {
		if m.Running() {
			out = append(out, m)
		}
	}
	return out
}

// Connected returns the running members whose proxies are not cut.
func (c *ProcessCluster) Connected() []*ProcessMember {
	var out []*ProcessMember
	for _, m := range c.Running() {
		if !m.Proxy.IsCut() {
			out = append(out, m)
		}
	}
	return out
}

// Endpoints returns the client endpoints of every member, running or not.
func (c *ProcessCluster) Endpoints() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.Endpoint)
	}
	return out
}

// Member returns the member with the given ID, or nil.
func (c *ProcessCluster) Member(id uint64) *ProcessMember {
	for _, m := range c.Members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Leader waits until the connected members (see Connected) agree on a
// leader, one of them, in one term, and returns it. It fails the test after
// timeout.
func (c *ProcessCluster) Leader(timeout time.Duration) *ProcessMember {
	c.t.Helper()
	m, err := c.WaitLeader(timeout, c.Connected()...)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// WaitLeader waits until the members ms agree on a leader among them, in
// one term, and returns it, polling their status every 20ms.
func (c *ProcessCluster) WaitLeader(timeout time.Duration, ms ...*ProcessMember) (*ProcessMember, error) {
	if len(ms) == 0 {
		return nil, errors.New("cairntest: no member to ask for a leader")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	var last error
	for {
		leader, err := agreedLeader(ctx, ms)
		if err == nil {
			return leader, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cairntest: no agreed leader after %v: %w", timeout, last)
		case <-poll.C:
		}
	}
}

func agreedLeader(ctx context.Context, ms []*ProcessMember) (*ProcessMember, error) {
	var lead, term uint64
	for _, m := range ms {
		st, err := m.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		if st.Leader == 0 {
			return nil, fmt.Errorf("%s has no leader (term %d)", m.Name, st.RaftTerm)
		}
		if lead != 0 && (st.Leader != lead || st.RaftTerm != term) {
			return nil, fmt.Errorf("%s sees leader %x in term %d, others %x in term %d", m.Name, st.Leader, st.RaftTerm, lead, term)
		}
		lead, term = st.Leader, st.RaftTerm
	}
	for _, m := range ms {
		if m.ID == lead {
			return m, nil
		}
	}
	return nil, fmt.Errorf("the leader %x is not among the members asked", lead)
}

// NewRetryClient returns a client of endpoints that reconnects within
// about 200ms after a member restarts (gRPC's default backoff grows to
// two minutes), closed when the test ends.
func NewRetryClient(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
