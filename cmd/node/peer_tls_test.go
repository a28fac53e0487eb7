package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// TestPeerTLSClusterSurvivesLeaderKill runs three members on peer mutual
// TLS (each certificate's common name checked), kills the leader while
// clients write, and checks what TestClusterKillLeader checks. Then a
// process without a peer certificate sends a member a raft message of a
// higher term and a removal: neither arrives, and the member serves on at
// the same term.
func TestPeerTLSClusterSurvivesLeaderKill(t *testing.T) {
	t.Parallel()
	ca := cairntest.NewCA(t, "peers")
	peer := ca.Issue("cairn-member", "127.0.0.1")
	c := cairntest.StartProcessClusterPeerTLS(t, 3, append(clusterArgs,
		"--peer-cert-file", peer.CertFile, "--peer-key-file", peer.KeyFile,
		"--peer-trusted-ca-file", ca.CertFile, "--peer-client-cert-auth",
		"--peer-cert-allowed-cn", "cairn-member")...)
	w := startWriters(t, c, 3, 100)
	w.waitAcks(100, nil)

	old := c.Leader(10 * time.Second)
	old.Kill()
	var survivors []*cairntest.ProcessMember
	for _, m := range c.Members {
		if m != old {
			survivors = append(survivors, m)
		}
	}
	if _, err := c.WaitLeader(10*electionTimeout, survivors...); err != nil {
		t.Fatalf("after killing the leader %s: %v", old.Name, err)
	}
	w.waitAcks(100, survivors)
	old.Restart()
	w.waitAcks(10, []*cairntest.ProcessMember{old})
	checkConverged(t, c, w.stop())

	target := c.Leader(10 * time.Second)
	before := status(t, target)
	attack(t, peerAddress(t, target.ListenPeerURL), before.Header.ClusterId, before.Header.MemberId, before.RaftTerm)
	select {
	case <-target.Done():
		t.Fatalf("%s stopped after the uncertified process's messages: %v", target.Name, target.Err())
	default:
	}
	after := status(t, target)
	if after.RaftTerm != before.RaftTerm {
		t.Errorf("term moved from %d to %d after the uncertified process's messages", before.RaftTerm, after.RaftTerm)
	}
}

// TestPlaintextPeerPortTakesForgedRemoval is the control of the test above:
// on a plaintext peer port the same removal, from a process that only
// knows the cluster ID every client sees, stops the member. Peer TLS is
// what closes that hole.
func TestPlaintextPeerPortTakesForgedRemoval(t *testing.T) {
	t.Parallel()
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", cairntest.FreePort(t))
	s := cairntest.StartNodeProcess(t, "", "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL)
	c := cairntest.NewRetryClient(t, s.Endpoint)
	st, err := c.Status(context.Background(), s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	attack(t, peerAddress(t, peerURL), st.Header.ClusterId, st.Header.MemberId, st.RaftTerm)
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the member still runs after a forged removal on its plaintext peer port")
	}
}

// attack sends, from an actor system of its own without a certificate, a
// heartbeat of a higher term to the raft actor at addr and a removal to its
// member's supervisor, and returns once remoting has delivered them or
// given up on the connection.
//
// The actor system runs in a process of its own, this test binary run again
// for TestAttackProcess: protoactor's remote.Start sets gRPC's global logger
// (grpclog.SetLoggerV2), a data race with every gRPC client of this process
// that logs meanwhile (those of the parallel tests among them).
func attack(t *testing.T, addr string, clusterID, memberID, term uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAttackProcess$", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d,%d", attackEnv, addr, clusterID, memberID, term))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "attack sent") {
		t.Fatalf("attacking process: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "attack on") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// attackEnv carries attack's arguments to TestAttackProcess.
const attackEnv = "CAIRN_TEST_ATTACK"

// TestAttackProcess is attack's process; it does nothing unless attack
// runs it.
func TestAttackProcess(t *testing.T) {
	arg := os.Getenv(attackEnv)
	if arg == "" {
		t.Skip("run by attack in a process of its own")
	}
	var (
		addr                      string
		clusterID, memberID, term uint64
	)
	parts := strings.Split(arg, ",")
	if len(parts) != 4 {
		t.Fatalf("%s=%q", attackEnv, arg)
	}
	addr = parts[0]
	if _, err := fmt.Sscan(strings.Join(parts[1:], " "), &clusterID, &memberID, &term); err != nil {
		t.Fatalf("%s=%q: %v", attackEnv, arg, err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	port := cairntest.FreePort(t)
	r := remote.NewRemote(system, remote.Configure("127.0.0.1", port))
	r.Start()
	defer r.Shutdown(false)

	ended := make(chan string, 4)
	sub := system.EventStream.Subscribe(func(e any) {
		if ev, ok := e.(*remote.EndpointTerminatedEvent); ok && ev.Address == addr {
			select {
			case ended <- "connection refused":
			default:
			}
		}
	})
	defer system.EventStream.Unsubscribe(sub)

	system.Root.Send(actor.NewPID(addr, "cairn/raft"), &cairnpb.RaftBatch{
		ClusterId: clusterID, To: memberID, From: 0xbad,
		Messages: []*raftpb.Message{{Type: raftpb.MessageType_MsgHeartbeat.Enum(), To: proto.Uint64(memberID), From: proto.Uint64(0xbad), Term: proto.Uint64(term + 10)}},
	})
	system.Root.Send(actor.NewPID(addr, "cairn"), &cairnpb.YouAreRemoved{ClusterId: clusterID})
	// A request answered tells that the connection carried the messages
	// before it: ask the supervisor something it does not know, and take
	// the dead letter answer (or the refused connection).
	f := system.Root.RequestFuture(actor.NewPID(addr, "no-such-actor"), &cairnpb.YouAreRemoved{}, 20*time.Second)
	done := make(chan struct{})
	go func() {
		_, _ = f.Result()
		close(done)
	}()
	select {
	case <-done:
	case why := <-ended:
		t.Logf("attack on %s: %s", addr, why)
	}
	t.Log("attack sent")
}

func peerAddress(t *testing.T, peerURL string) string {
	t.Helper()
	_, rest, ok := strings.Cut(peerURL, "://")
	if !ok {
		t.Fatalf("peer URL %q", peerURL)
	}
	return rest
}
