package frontdoor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/cairntest"
)

// Simple tokens through raft: a token issued by one member is good on
// every member, which holds the hash of its secret only.

// withToken returns ctx with token as etcd's client sends it.
func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "token", token)
}

// rawKV returns a KV client of n alone, without etcd's client's retries
// (which retry an invalid token for seconds before they give up).
func rawKV(n *cairntest.Node) (pb.KVClient, func()) {
	cc, err := grpc.NewClient(n.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err) // only for a malformed target
	}
	return pb.NewKVClient(cc), func() { cc.Close() }
}

// getWith reads key at n with token.
func getWith(ctx context.Context, n *cairntest.Node, token, key string) error {
	kv, done := rawKV(n)
	defer done()
	_, err := kv.Range(withToken(ctx, token), &pb.RangeRequest{Key: []byte(key)})
	return err
}

// putWith writes key at n with token.
func putWith(ctx context.Context, n *cairntest.Node, token, key string) error {
	kv, done := rawKV(n)
	defer done()
	_, err := kv.Put(withToken(ctx, token), &pb.PutRequest{Key: []byte(key), Value: []byte("v")})
	return err
}

// authenticate returns a simple token of user from n, pinned to n.
func authenticate(t *testing.T, ctx context.Context, n *cairntest.Node, user, password string) string {
	t.Helper()
	tok := must[*clientv3.AuthenticateResponse](t, "authenticate "+user)(n.Client.Authenticate(ctx, user, password)).Token
	if _, ok := auth.ParseToken(tok); !ok {
		t.Fatalf("token %q is not of etcd's form", tok)
	}
	return tok
}

// setUpAlice enables auth and adds alice, who may read app/ and nothing
// else.
func setUpAlice(t *testing.T, ctx context.Context, n *cairntest.Node) *clientv3.Client {
	t.Helper()
	enableAuth(t, ctx, n.Client)
	root := userClient(t, "root", "rootpw", n.Endpoint)
	must[*clientv3.AuthRoleAddResponse](t, "role add")(root.RoleAdd(ctx, "app-reader"))
	must[*clientv3.AuthRoleGrantPermissionResponse](t, "grant")(root.RoleGrantPermission(ctx, "app-reader",
		"app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermRead)))
	must[*clientv3.AuthUserAddResponse](t, "user add")(root.UserAdd(ctx, "alice", "alicepw"))
	must[*clientv3.AuthUserGrantRoleResponse](t, "grant role")(root.UserGrantRole(ctx, "alice", "app-reader"))
	return root
}

func TestAuthSimpleTokenGoodOnEveryMember(t *testing.T) {
	cl := cairntest.StartCluster(t, 3, fastElections, cheapHashes)
	ctx := cairntest.Ctx(t)
	nodes := cl.Running()
	root := setUpAlice(t, ctx, nodes[0])

	// Issued by each member in turn, used at every member at once.
	for _, issuer := range nodes {
		alice := authenticate(t, ctx, issuer, "alice", "alicepw")
		rootTok := authenticate(t, ctx, issuer, "root", "rootpw")
		for _, n := range nodes {
			if err := getWith(ctx, n, alice, "app/a"); err != nil {
				t.Fatalf("alice's token from %s, read at %s: %v", issuer.Name(), n.Name(), err)
			}
			wantAuthErr(t, "alice reads outside her permission at "+n.Name(), getWith(ctx, n, alice, "other"), rpctypes.ErrGRPCPermissionDenied)
			wantAuthErr(t, "alice writes at "+n.Name(), putWith(ctx, n, alice, "app/a"), rpctypes.ErrGRPCPermissionDenied)
			if err := putWith(ctx, n, rootTok, "other"); err != nil {
				t.Fatalf("root's token from %s, write at %s: %v", issuer.Name(), n.Name(), err)
			}
		}
	}

	// Not a token of this cluster, nor of any: etcd's error on every
	// member, at once (an index no member applied costs a read index, not
	// a wait until the client gives up).
	alice := authenticate(t, ctx, nodes[0], "alice", "alicepw")
	secret, index, _ := strings.Cut(alice, ".")
	forged := []string{"forged.1", secret + ".1", "abcdefghijklmnop." + index, "abcdefghijklmnop.999999999", alice + "0"}
	for _, n := range nodes {
		for _, tok := range forged {
			wantAuthErr(t, "forged token "+tok+" at "+n.Name(), getWith(ctx, n, tok, "app/a"), rpctypes.ErrGRPCInvalidAuthToken)
		}
	}

	// As in etcd, a change of roles keeps the token good, with the new
	// permissions, on every member.
	must[*clientv3.AuthRoleGrantPermissionResponse](t, "grant write")(root.RoleGrantPermission(ctx, "app-reader",
		"app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermReadWrite)))
	for _, n := range nodes {
		if err := putWith(ctx, n, alice, "app/a"); err != nil {
			t.Fatalf("alice writes at %s after the grant: %v", n.Name(), err)
		}
	}

	// A restarted member holds no token: etcd's "invalid auth token"; the
	// other members still hold it, and etcd's client, pinned to the
	// restarted member, authenticates again by itself on that answer.
	restarted := nodes[1]
	aliceAt1 := userClient(t, "alice", "alicepw", restarted.Endpoint)
	must[*clientv3.GetResponse](t, "alice's client before the restart")(aliceAt1.Get(ctx, "app/a"))
	restarted.Restart()
	wantAuthErr(t, "token at the restarted member", getWith(ctx, restarted, alice, "app/a"), rpctypes.ErrGRPCInvalidAuthToken)
	for _, n := range []*cairntest.Node{nodes[0], nodes[2]} {
		if err := getWith(ctx, n, alice, "app/a"); err != nil {
			t.Fatalf("alice's token at %s after %s restarted: %v", n.Name(), restarted.Name(), err)
		}
	}
	// The restarted member listens on a new port: the client keeps its
	// token, which it presents there.
	aliceAt1.SetEndpoints(restarted.Endpoint)
	must[*clientv3.GetResponse](t, "alice's client after the restart")(aliceAt1.Get(ctx, "app/a"))
	_, err := aliceAt1.Get(ctx, "other")
	wantAuthErr(t, "alice's client outside her permission", err, rpctypes.ErrGRPCPermissionDenied)
}

// TestAuthSimpleTokenDroppedOnEveryMember: what drops tokens in etcd drops
// them on every member: a password change and a deletion (the user's),
// disabling auth (all).
func TestAuthSimpleTokenDroppedOnEveryMember(t *testing.T) {
	cl := cairntest.StartCluster(t, 3, fastElections, cheapHashes)
	ctx := cairntest.Ctx(t)
	nodes := cl.Running()
	root := setUpAlice(t, ctx, nodes[0])
	must[*clientv3.AuthUserAddResponse](t, "user add")(root.UserAdd(ctx, "bob", "bobpw"))
	must[*clientv3.AuthUserGrantRoleResponse](t, "grant role")(root.UserGrantRole(ctx, "bob", "app-reader"))
	goodEverywhere := func(what, tok string) {
		t.Helper()
		for _, n := range nodes {
			if err := getWith(ctx, n, tok, "app/a"); err != nil {
				t.Fatalf("%s at %s: %v", what, n.Name(), err)
			}
		}
	}
	goneEverywhere := func(what, tok string) {
		t.Helper()
		for _, n := range nodes {
			wantAuthErr(t, what+" at "+n.Name(), getWith(ctx, n, tok, "app/a"), rpctypes.ErrGRPCInvalidAuthToken)
		}
	}

	alice := authenticate(t, ctx, nodes[1], "alice", "alicepw")
	bob := authenticate(t, ctx, nodes[2], "bob", "bobpw")
	goodEverywhere("alice's token", alice)
	goodEverywhere("bob's token", bob)
	must[*clientv3.AuthUserChangePasswordResponse](t, "passwd")(root.UserChangePassword(ctx, "alice", "newpw"))
	goneEverywhere("alice's token after her password changed", alice)
	goodEverywhere("bob's token after alice's password changed", bob)
	must[*clientv3.AuthUserDeleteResponse](t, "user delete")(root.UserDelete(ctx, "bob"))
	goneEverywhere("bob's token after his deletion", bob)

	// Disabling drops every token: enabled again, none is good. (With auth
	// off a token means nothing, as in etcd.)
	alice = authenticate(t, ctx, nodes[0], "alice", "newpw")
	goodEverywhere("alice's new token", alice)
	must[*clientv3.AuthDisableResponse](t, "disable")(root.AuthDisable(ctx))
	for _, n := range nodes {
		if err := getWith(ctx, n, alice, "other"); err != nil {
			t.Fatalf("a token with auth off at %s: %v", n.Name(), err)
		}
		if err := getWith(ctx, n, "forged.1", "other"); err != nil {
			t.Fatalf("a forged token with auth off at %s: %v", n.Name(), err)
		}
	}
	must[*clientv3.AuthEnableResponse](t, "enable")(nodes[0].Client.AuthEnable(ctx))
	goneEverywhere("a token from before auth was disabled", alice)

}

// TestAuthSimpleTokenExpiresOnEveryMember: used on every member, then
// unused for longer than the TTL, a token is gone on every member.
func TestAuthSimpleTokenExpiresOnEveryMember(t *testing.T) {
	const ttl = 2 * time.Second
	cl := cairntest.StartCluster(t, 3, fastElections, cheapHashes, func(c *cairn.Config) { c.AuthTokenTTL = ttl })
	ctx := cairntest.Ctx(t)
	nodes := cl.Running()
	setUpAlice(t, ctx, nodes[0])
	alice := authenticate(t, ctx, nodes[2], "alice", "alicepw")
	for _, n := range nodes {
		if err := getWith(ctx, n, alice, "app/a"); err != nil {
			t.Fatalf("alice's token at %s: %v", n.Name(), err)
		}
	}
	// Nothing but time can show a TTL run out.
	time.Sleep(ttl + ttl/2)
	for _, n := range nodes {
		wantAuthErr(t, "alice's token past its TTL at "+n.Name(), getWith(ctx, n, alice, "app/a"), rpctypes.ErrGRPCInvalidAuthToken)
	}
}

// TestAuthSimpleTokensBounded: every member holds at most MaxAuthTokens;
// one more drops the least recently used on every member.
func TestAuthSimpleTokensBounded(t *testing.T) {
	const bound = 4
	cl := cairntest.StartCluster(t, 3, fastElections, cheapHashes, func(c *cairn.Config) { c.MaxAuthTokens = bound })
	ctx := cairntest.Ctx(t)
	nodes := cl.Running()
	setUpAlice(t, ctx, nodes[0])
	var toks []string
	for i := range 3 * bound {
		toks = append(toks, authenticate(t, ctx, nodes[i%len(nodes)], "alice", "alicepw"))
	}
	for _, n := range nodes {
		// The newest first: a lookup renews, and must not save an old one.
		for i := len(toks) - 1; i >= 0; i-- {
			err := getWith(ctx, n, toks[i], "app/a")
			if i >= len(toks)-bound {
				if err != nil {
					t.Fatalf("token %d of %d at %s: %v", i, len(toks), n.Name(), err)
				}
				continue
			}
			wantAuthErr(t, "evicted token at "+n.Name(), err, rpctypes.ErrGRPCInvalidAuthToken)
		}
	}
}

// TestAuthSimpleTokenOnlyHashedInRaftLog: the raft log and the state
// machine of every member hold the hash of a token's secret, never the
// token (nor its secret, nor the password).
func TestAuthSimpleTokenOnlyHashedInRaftLog(t *testing.T) {
	dirs := map[string]string{"m1": t.TempDir(), "m2": t.TempDir(), "m3": t.TempDir()}
	cl := cairntest.StartCluster(t, 3, fastElections, cheapHashes, func(c *cairn.Config) { c.DataDir = dirs[c.Name] })
	ctx := cairntest.Ctx(t)
	nodes := cl.Running()
	const alicePw = "pw-alice-0123456789"
	enableAuth(t, ctx, nodes[0].Client)
	root := userClient(t, "root", "rootpw", nodes[0].Endpoint)
	must[*clientv3.AuthUserAddResponse](t, "user add")(root.UserAdd(ctx, "alice", alicePw))
	tok := authenticate(t, ctx, nodes[1], "alice", alicePw)
	secret, _, _ := strings.Cut(tok, ".")
	hash := auth.HashSecret(secret)
	for _, n := range nodes {
		if err := putWith(ctx, n, tok, "k"); err != nil && rpctypes.Error(err) != rpctypes.ErrPermissionDenied {
			t.Fatalf("token at %s: %v", n.Name(), err)
		}
	}
	for _, n := range nodes {
		n.Stop()
	}
	for name, dir := range dirs {
		if !scanDataDir(t, dir, hash[:], []string{tok, secret, alicePw}) {
			t.Errorf("the data directory of %s does not hold the token's hash: the scan proves nothing", name)
		}
	}
}
