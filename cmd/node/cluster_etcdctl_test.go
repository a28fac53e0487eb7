package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/cairntest"
)

// TestClusterEtcdctl runs etcdctl against the three endpoints of a cluster
// as a user would, and reads its output as a user would: endpoint status
// --cluster, member list, member add (then starts the member with what
// member add printed), move-leader to the new member, member remove.
func TestClusterEtcdctl(t *testing.T) {
	t.Parallel()
	etcdctl := cairntest.Tool(t, "etcdctl")
	c := cairntest.StartProcessCluster(t, 3, clusterArgs...)
	leader := c.Leader(10 * time.Second)
	endpoints := strings.Join(c.Endpoints(), ",")
	ctl := func(args ...string) string {
		t.Helper()
		return runCtl(t, etcdctl, endpoints, args...)
	}
	clusterID := status(t, leader).Header.ClusterId

	// endpoint status --cluster: every member, found through the member
	// list, one leader.
	checkEndpointStatus(t, c, ctl("endpoint", "status", "--cluster", "-w", "json"), leader)
	lines := strings.Split(strings.TrimSpace(ctl("endpoint", "status", "--cluster")), "\n")
	if len(lines) != 3 {
		t.Fatalf("endpoint status --cluster printed %d lines, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	leaders := 0
	for _, l := range lines {
		// endpoint, ID, version, storage version, db size, in use, % not
		// in use, quota, is leader, is learner, raft term, ...
		f := strings.Split(l, ", ")
		if len(f) < 10 {
			t.Fatalf("endpoint status line %q", l)
		}
		if f[8] == "true" {
			leaders++
			if f[1] != fmt.Sprintf("%x", leader.ID) {
				t.Errorf("endpoint status: %s leads, want %s (%x)", f[1], leader.Name, leader.ID)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("endpoint status --cluster shows %d leaders:\n%s", leaders, strings.Join(lines, "\n"))
	}

	// member list: names, peer URLs (the proxies) and client URLs.
	checkMemberList(t, c.Members, ctl("member", "list", "-w", "json"))
	for _, m := range c.Members {
		want := fmt.Sprintf("%x, started, %s, %s, http://%s, false", m.ID, m.Name, m.PeerURL, m.Endpoint)
		if out := ctl("member", "list"); !strings.Contains(out, want+"\n") {
			t.Errorf("member list lacks %q:\n%s", want, out)
		}
	}

	// member add prints what the new member needs; start it with that.
	m4 := c.PrepareMember("m4")
	out := ctl("member", "add", "m4", "--peer-urls", m4.PeerURL)
	var addedID, addedTo uint64
	if _, err := fmt.Sscanf(out, "Member %x added to cluster %x", &addedID, &addedTo); err != nil || addedTo != clusterID {
		t.Fatalf("member add printed (cluster %x):\n%s", clusterID, out)
	}
	env := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "ETCD_") {
			env[k] = strings.Trim(v, `"`)
		}
	}
	var wantInitial []string
	for _, m := range append(slices.Clone(c.Members), m4) {
		wantInitial = append(wantInitial, m.Name+"="+m.PeerURL)
	}
	gotInitial := strings.Split(env["ETCD_INITIAL_CLUSTER"], ",")
	slices.Sort(wantInitial)
	slices.Sort(gotInitial)
	if env["ETCD_NAME"] != "m4" || !slices.Equal(gotInitial, wantInitial) ||
		env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] != m4.PeerURL || env["ETCD_INITIAL_CLUSTER_STATE"] != "existing" {
		t.Fatalf("member add printed:\n%s\nwant ETCD_INITIAL_CLUSTER %v", out, wantInitial)
	}
	if want := fmt.Sprintf("%x, unstarted, , %s, , false\n", addedID, m4.PeerURL); !strings.Contains(ctl("member", "list"), want) {
		t.Errorf("member list lacks %q", want)
	}
	c.StartMember(m4, env["ETCD_INITIAL_CLUSTER"]) // waits until it serves
	if m4.ID != addedID {
		t.Fatalf("m4 started as %x, member add added %x", m4.ID, addedID)
	}
	checkMemberList(t, c.Members, ctl("member", "list", "-w", "json"))
	ctx := cairntest.Ctx(t)
	if _, err := m4.Client().Put(ctx, "via-m4", "1"); err != nil {
		t.Fatalf("put through the new member: %v", err)
	}
	if get, err := c.Members[0].Client().Get(ctx, "via-m4"); err != nil || len(get.Kvs) != 1 {
		t.Fatalf("read of the new member's write on m1: %v, %v", get, err)
	}

	// move-leader to the new member.
	out = ctl("move-leader", fmt.Sprintf("%x", m4.ID))
	if want := fmt.Sprintf("Leadership transferred from %x to %x\n", leader.ID, m4.ID); out != want {
		t.Errorf("move-leader printed %q, want %q", out, want)
	}
	if got := c.Leader(10 * electionTimeout); got != m4 {
		t.Fatalf("%s leads after move-leader, want m4", got.Name)
	}

	// member remove one of the first three, now a follower.
	gone := leader
	out = ctl("member", "remove", fmt.Sprintf("%x", gone.ID))
	if want := fmt.Sprintf("Member %16x removed from cluster %16x\n", gone.ID, clusterID); out != want {
		t.Errorf("member remove printed %q, want %q", out, want)
	}
	c.Forget(gone) // etcd's removed member exits; see TestClusterRemovedMemberStops
	checkMemberList(t, c.Members, ctl("member", "list", "-w", "json"))
	checkEndpointStatus(t, c, ctl("endpoint", "status", "--cluster", "-w", "json"), m4)
	// The remaining members go on.
	if _, err := cairntest.NewRetryClient(t, c.Endpoints()...).Put(ctx, "after-remove", "1"); err != nil {
		t.Fatalf("put after member remove: %v", err)
	}
}

// runCtl runs etcdctl with --endpoints endpoints and args, and returns its
// standard output; it fails the test if etcdctl fails.
func runCtl(t *testing.T, etcdctl, endpoints string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runCtlErr(etcdctl, endpoints, args...)
	if err != nil {
		t.Fatalf("etcdctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// runCtlErr runs etcdctl and returns its output and how it exited.
func runCtlErr(etcdctl, endpoints string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, etcdctl, append([]string{"--endpoints=" + endpoints}, args...)...)
	cmd.Env = cleanEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = fmt.Errorf("exit %d", exit.ExitCode())
	}
	return out.String(), errOut.String(), err
}

// checkEndpointStatus checks endpoint status --cluster -w json: one entry
// per member of c, each with leader as its leader.
func checkEndpointStatus(t *testing.T, c *cairntest.ProcessCluster, out string, leader *cairntest.ProcessMember) {
	t.Helper()
	var sts []struct {
		Endpoint string
		Status   struct {
			Header struct {
				MemberID uint64 `json:"member_id"`
			}
			Leader   uint64
			RaftTerm uint64
		}
	}
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("endpoint status -w json: %v\n%s", err, out)
	}
	if len(sts) != len(c.Members) {
		t.Fatalf("endpoint status --cluster lists %d endpoints, want %d:\n%s", len(sts), len(c.Members), out)
	}
	for _, st := range sts {
		m := c.Member(st.Status.Header.MemberID)
		switch {
		case m == nil:
			t.Errorf("endpoint status: %s is member %x, not in the cluster", st.Endpoint, st.Status.Header.MemberID)
		case st.Endpoint != "http://"+m.Endpoint:
			t.Errorf("endpoint status: %s at %s, want http://%s", m.Name, st.Endpoint, m.Endpoint)
		case st.Status.Leader != leader.ID:
			t.Errorf("endpoint status: %s sees leader %x, want %s (%x)", m.Name, st.Status.Leader, leader.Name, leader.ID)
		}
	}
}

// checkMemberList checks member list -w json against the members ms.
func checkMemberList(t *testing.T, ms []*cairntest.ProcessMember, out string) {
	t.Helper()
	var ml struct {
		Members []struct {
			ID         uint64
			Name       string
			PeerURLs   []string
			ClientURLs []string
			IsLearner  bool
		}
	}
	if err := json.Unmarshal([]byte(out), &ml); err != nil {
		t.Fatalf("member list -w json: %v\n%s", err, out)
	}
	if len(ml.Members) != len(ms) {
		t.Fatalf("member list has %d members, want %d:\n%s", len(ml.Members), len(ms), out)
	}
	for _, got := range ml.Members {
		i := slices.IndexFunc(ms, func(m *cairntest.ProcessMember) bool { return m.ID == got.ID })
		if i < 0 {
			t.Errorf("member list: unknown member %x (%s)", got.ID, got.Name)
			continue
		}
		m := ms[i]
		if got.Name != m.Name || !slices.Equal(got.PeerURLs, []string{m.PeerURL}) ||
			!slices.Equal(got.ClientURLs, []string{"http://" + m.Endpoint}) || got.IsLearner {
			t.Errorf("member list: %+v, want %s with peer URL %s and client URL http://%s", got, m.Name, m.PeerURL, m.Endpoint)
		}
	}
}
