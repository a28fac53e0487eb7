package cairntest

import (
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/actors/transport/loopback"
)

// Cluster is an in-process cluster: members in one process, each in its own
// actor system, connected by a loopback network (see package loopback).
type Cluster struct {
	t       testing.TB
	Net     *loopback.Network
	Members []*Node
	opts    []Option
	token   string
}

// StartCluster starts a cluster of size members named m1, m2, ..., and
// waits until every member is ready. Members are stopped when the test ends.
func StartCluster(t testing.TB, size int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Net: loopback.New(), opts: opts, token: fmt.Sprintf("test-%d", time.Now().UnixNano())}
	var initial []cairn.InitialMember
	for i := 1; i <= size; i++ {
		name := fmt.Sprintf("m%d", i)
		initial = append(initial, cairn.InitialMember{Name: name, PeerURLs: []string{peerURL(name)}})
	}
	for _, m := range initial {
		n := c.newNode(m.Name, func(cfg *cairn.Config) {
			cfg.InitialCluster = initial
			cfg.InitialClusterState = cairn.ClusterStateNew
		})
		n.start()
		t.Cleanup(n.Stop)
		c.Members = append(c.Members, n)
	}
	for _, n := range c.Members {
		n.waitReady()
	}
	return c
}

// AddMember starts a member that joins the running cluster as name; it must
// have been added already (MemberAdd with PeerURL(name)). It does not wait
// for the member to be ready.
func (c *Cluster) AddMember(name string) *Node {
	c.t.Helper()
	var initial []cairn.InitialMember
	for _, m := range c.Members {
		initial = append(initial, cairn.InitialMember{Name: m.Name(), PeerURLs: []string{peerURL(m.Name())}})
	}
	initial = append(initial, cairn.InitialMember{Name: name, PeerURLs: []string{peerURL(name)}})
	n := c.newNode(name, func(cfg *cairn.Config) {
		cfg.InitialCluster = initial
		cfg.InitialClusterState = cairn.ClusterStateExisting
	})
	n.start()
	c.t.Cleanup(n.Stop)
	c.Members = append(c.Members, n)
	return n
}

func (c *Cluster) newNode(name string, extra Option) *Node {
	cfg := cairn.Config{
		Name:                name,
		DataDir:             c.t.TempDir(),
		AdvertisePeerURLs:   []string{peerURL(name)},
		InitialClusterToken: c.token,
		Logger:              Logger(c.t),
	}
	for _, o := range c.opts {
		o(&cfg)
	}
	extra(&cfg)
	return &Node{t: c.t, cfg: cfg, net: c.Net, addr: peerAddress(name)}
}

// PeerURL returns the peer URL of the member named name in a test cluster.
func PeerURL(name string) string { return peerURL(name) }

func peerURL(name string) string     { return "http://" + peerAddress(name) }
func peerAddress(name string) string { return name + ":2380" }

// Leader waits until the running members agree on a leader and returns it.
func (c *Cluster) Leader() *Node {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n := c.agreedLeader(); n != nil {
			return n
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no agreed leader after 30s")
		}
		c.waitLeaderChange(deadline)
	}
}

// agreedLeader returns the leader if every running member sees the same
// one, in the same term.
func (c *Cluster) agreedLeader() *Node {
	var lead, term uint64
	var leader *Node
	for _, n := range c.Running() {
		st := n.Status()
		if st.Leader == 0 || (lead != 0 && (st.Leader != lead || st.Term != term)) {
			return nil
		}
		lead, term = st.Leader, st.Term
		if n.ID() == lead {
			leader = n
		}
	}
	return leader
}

// waitLeaderChange waits until any running member's view of the leader
// changes, or a short while passes (a term may change without a new
// leader).
func (c *Cluster) waitLeaderChange(deadline time.Time) {
	cases := make(chan struct{}, len(c.Members))
	stop := make(chan struct{})
	defer close(stop)
	for _, n := range c.Running() {
		ch := n.Board().LeaderChanged()
		go func() {
			select {
			case <-ch:
				cases <- struct{}{}
			case <-stop:
			}
		}()
	}
	select {
	case <-cases:
	case <-time.After(50 * time.Millisecond):
	case <-time.After(time.Until(deadline)):
	}
}

// Running returns the members that are running.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Members {
		if n.Node != nil {
			out = append(out, n)
		}
	}
	return out
}

// Followers returns the running members other than the leader.
func (c *Cluster) Followers() []*Node {
	lead := c.Leader()
	var out []*Node
	for _, n := range c.Running() {
		if n != lead {
			out = append(out, n)
		}
	}
	return out
}

// Client returns a client of every running member's endpoint.
func (c *Cluster) Client() *clientv3.Client {
	var eps []string
	for _, n := range c.Running() {
		eps = append(eps, n.Endpoint)
	}
	return NewClient(c.t, eps...)
}
