package frontdoor_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/cairntest"
)

// cheapHashes makes bcrypt fast for tests (its least cost).
func cheapHashes(c *cairn.Config) { c.BcryptCost = 4 }

// userClient returns an etcd client that authenticates as user.
func userClient(t *testing.T, user, password string, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		Username: user, Password: password,
	})
	if err != nil {
		t.Fatalf("client as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wantAuthErr fails unless err is etcd's want.
func wantAuthErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if err == nil || rpctypes.Error(err).Error() != rpctypes.Error(want).Error() {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// enableAuth creates root, as etcdctl's flow does, and enables auth.
func enableAuth(t *testing.T, ctx context.Context, c *clientv3.Client) {
	t.Helper()
	_, err := c.AuthEnable(ctx)
	wantAuthErr(t, "enable without root", err, rpctypes.ErrGRPCRootUserNotExist)
	must[*clientv3.AuthUserAddResponse](t, "user add root")(c.UserAdd(ctx, "root", "rootpw"))
	_, err = c.AuthEnable(ctx)
	wantAuthErr(t, "enable without root role", err, rpctypes.ErrGRPCRootRoleNotExist)
	must[*clientv3.AuthRoleAddResponse](t, "role add root")(c.RoleAdd(ctx, "root"))
	must[*clientv3.AuthUserGrantRoleResponse](t, "grant root")(c.UserGrantRole(ctx, "root", "root"))
	must[*clientv3.AuthEnableResponse](t, "enable")(c.AuthEnable(ctx))
}

func TestAuthUsersRolesAndPermissionsAcrossMembers(t *testing.T) {
	cl := cairntest.StartCluster(t, 3, fastElections, cheapHashes)
	ctx := cairntest.Ctx(t)
	nodes := cl.Running()
	anon := cairntest.NewClient(t, nodes[0].Endpoint)

	must[*clientv3.PutResponse](t, "put before auth")(anon.Put(ctx, "app/a", "1"))
	enableAuth(t, ctx, anon)

	// Without credentials, as etcd: the user name is empty.
	_, err := anon.Get(ctx, "app/a")
	wantAuthErr(t, "get without user", err, rpctypes.ErrGRPCUserEmpty)
	_, err = anon.Put(ctx, "app/a", "2")
	wantAuthErr(t, "put without user", err, rpctypes.ErrGRPCUserEmpty)

	// Root, through another member: the state is replicated.
	root := userClient(t, "root", "rootpw", nodes[1].Endpoint)
	st := must[*clientv3.AuthStatusResponse](t, "status")(root.AuthStatus(ctx))
	if !st.Enabled || st.AuthRevision == 0 {
		t.Fatalf("auth status %+v, want enabled with a revision", st)
	}
	must[*clientv3.AuthRoleAddResponse](t, "role add")(root.RoleAdd(ctx, "app-reader"))
	must[*clientv3.AuthRoleGrantPermissionResponse](t, "grant")(root.RoleGrantPermission(ctx, "app-reader",
		"app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermRead)))
	must[*clientv3.AuthRoleGrantPermissionResponse](t, "grant")(root.RoleGrantPermission(ctx, "app-reader",
		"app/own", "", clientv3.PermissionType(clientv3.PermReadWrite)))
	must[*clientv3.AuthUserAddResponse](t, "user add")(root.UserAdd(ctx, "alice", "alicepw"))
	must[*clientv3.AuthUserGrantRoleResponse](t, "grant role")(root.UserGrantRole(ctx, "alice", "app-reader"))
	_, err = root.UserAdd(ctx, "alice", "x")
	wantAuthErr(t, "user add twice", err, rpctypes.ErrGRPCUserAlreadyExist)
	_, err = root.RoleAdd(ctx, "app-reader")
	wantAuthErr(t, "role add twice", err, rpctypes.ErrGRPCRoleAlreadyExist)
	_, err = root.UserGet(ctx, "bob")
	wantAuthErr(t, "get missing user", err, rpctypes.ErrGRPCUserNotFound)
	_, err = root.UserGrantRole(ctx, "alice", "nope")
	wantAuthErr(t, "grant missing role", err, rpctypes.ErrGRPCRoleNotFound)
	_, err = root.UserRevokeRole(ctx, "root", "root")
	wantAuthErr(t, "root revokes root", err, rpctypes.ErrGRPCInvalidAuthMgmt)
	u := must[*clientv3.AuthUserGetResponse](t, "user get")(root.UserGet(ctx, "alice"))
	if len(u.Roles) != 1 || u.Roles[0] != "app-reader" {
		t.Fatalf("alice's roles %v", u.Roles)
	}
	users := must[*clientv3.AuthUserListResponse](t, "user list")(root.UserList(ctx))
	if len(users.Users) != 2 || users.Users[0] != "alice" || users.Users[1] != "root" {
		t.Fatalf("users %v", users.Users)
	}
	r := must[*clientv3.AuthRoleGetResponse](t, "role get")(root.RoleGet(ctx, "app-reader"))
	if len(r.Perm) != 2 || string(r.Perm[0].Key) != "app/" || string(r.Perm[1].Key) != "app/own" {
		t.Fatalf("perms %v", r.Perm)
	}

	_, err = clientv3.New(clientv3.Config{Endpoints: []string{nodes[2].Endpoint}, Username: "alice",
		Password: "wrong", DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	wantAuthErr(t, "wrong password", err, rpctypes.ErrGRPCAuthFailed)

	alice := userClient(t, "alice", "alicepw", nodes[2].Endpoint)
	if g := must[*clientv3.GetResponse](t, "alice reads")(alice.Get(ctx, "app/", clientv3.WithPrefix())); len(g.Kvs) != 1 {
		t.Fatalf("alice got %v", g.Kvs)
	}
	must[*clientv3.PutResponse](t, "alice writes her key")(alice.Put(ctx, "app/own", "x"))
	_, err = alice.Put(ctx, "app/a", "2")
	wantAuthErr(t, "alice writes", err, rpctypes.ErrGRPCPermissionDenied)
	_, err = alice.Get(ctx, "other")
	wantAuthErr(t, "alice reads outside", err, rpctypes.ErrGRPCPermissionDenied)
	_, err = alice.Get(ctx, "", clientv3.WithFromKey())
	wantAuthErr(t, "alice reads everything", err, rpctypes.ErrGRPCPermissionDenied)
	_, err = alice.Delete(ctx, "app/", clientv3.WithPrefix())
	wantAuthErr(t, "alice deletes", err, rpctypes.ErrGRPCPermissionDenied)
	// A txn is checked in its compares and both branches.
	_, err = alice.Txn(ctx).If(clientv3.Compare(clientv3.Value("other"), "=", "x")).
		Then(clientv3.OpGet("app/a")).Commit()
	wantAuthErr(t, "txn compares outside", err, rpctypes.ErrGRPCPermissionDenied)
	_, err = alice.Txn(ctx).If(clientv3.Compare(clientv3.Value("app/a"), "=", "x")).
		Then(clientv3.OpGet("app/a")).Else(clientv3.OpPut("app/a", "y")).Commit()
	wantAuthErr(t, "txn writes in else", err, rpctypes.ErrGRPCPermissionDenied)
	must[*clientv3.TxnResponse](t, "txn in permission")(alice.Txn(ctx).If(clientv3.Compare(clientv3.Value("app/a"), "=", "1")).
		Then(clientv3.OpPut("app/own", "y")).Else(clientv3.OpGet("app/a")).Commit())
	_, err = alice.UserList(ctx)
	wantAuthErr(t, "alice lists users", err, rpctypes.ErrGRPCPermissionDenied)
	must[*clientv3.AuthUserGetResponse](t, "alice gets herself")(alice.UserGet(ctx, "alice"))
	_, err = alice.RoleAdd(ctx, "mine")
	wantAuthErr(t, "alice adds a role", err, rpctypes.ErrGRPCPermissionDenied)

	// A lease that holds a key she may not write: she may not revoke it,
	// see its keys or list the leases.
	lease := must[*clientv3.LeaseGrantResponse](t, "alice grants")(alice.Grant(ctx, 60))
	must[*clientv3.PutResponse](t, "alice attaches")(alice.Put(ctx, "app/own", "z", clientv3.WithLease(lease.ID)))
	must[*clientv3.LeaseTimeToLiveResponse](t, "alice's lease keys")(alice.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys()))
	must[*clientv3.LeaseLeasesResponse](t, "alice lists")(alice.Leases(ctx))
	must[*clientv3.PutResponse](t, "root attaches")(root.Put(ctx, "other", "o", clientv3.WithLease(lease.ID)))
	_, err = alice.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys())
	wantAuthErr(t, "alice's lease keys", err, rpctypes.ErrGRPCPermissionDenied)
	_, err = alice.Leases(ctx)
	wantAuthErr(t, "alice lists", err, rpctypes.ErrGRPCPermissionDenied)
	_, err = alice.Revoke(ctx, lease.ID)
	wantAuthErr(t, "alice revokes", err, rpctypes.ErrGRPCPermissionDenied)
	must[*clientv3.LeaseRevokeResponse](t, "root revokes")(root.Revoke(ctx, lease.ID))

	// Maintenance is root's; the status any user's, as in etcd.
	_, err = alice.Compact(ctx, 1)
	wantAuthErr(t, "alice compacts", err, rpctypes.ErrGRPCPermissionDenied)
	_, err = alice.Defragment(ctx, nodes[2].Endpoint)
	wantAuthErr(t, "alice defragments", err, rpctypes.ErrGRPCPermissionDenied)
	must[*clientv3.StatusResponse](t, "alice asks the status")(alice.Status(ctx, nodes[2].Endpoint))
	_, err = anon.Status(ctx, nodes[0].Endpoint)
	wantAuthErr(t, "status without user", err, rpctypes.ErrGRPCUserEmpty)
	must[*clientv3.DefragmentResponse](t, "root defragments")(root.Defragment(ctx, nodes[1].Endpoint))

	// A watch she may not read is created and canceled at once.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wr := <-alice.Watch(wctx, "other")
	if !wr.Canceled || wr.Err() == nil {
		t.Fatalf("watch outside permission: %+v", wr)
	}
	// The client keeps etcd's reason, the text of etcd's gRPC error.
	if !strings.Contains(wr.Err().Error(), rpctypes.ErrGRPCPermissionDenied.Error()) {
		t.Fatalf("watch outside permission canceled with %v", wr.Err())
	}

	// Revoking the role takes effect at once.
	must[*clientv3.AuthUserRevokeRoleResponse](t, "revoke")(root.UserRevokeRole(ctx, "alice", "app-reader"))
	_, err = alice.Get(ctx, "app/a")
	wantAuthErr(t, "alice reads after revoke", err, rpctypes.ErrGRPCPermissionDenied)

	must[*clientv3.AuthDisableResponse](t, "disable")(root.AuthDisable(ctx))
	must[*clientv3.GetResponse](t, "get after disable")(anon.Get(ctx, "app/a"))
}

func TestAuthTokens(t *testing.T) {
	n := cairntest.Start(t, cheapHashes)
	ctx := cairntest.Ctx(t)
	anon := n.Client
	_, err := anon.Authenticate(ctx, "root", "rootpw")
	wantAuthErr(t, "authenticate with auth off", err, rpctypes.ErrGRPCAuthNotEnabled)
	enableAuth(t, ctx, anon)

	resp := must[*clientv3.AuthenticateResponse](t, "authenticate")(anon.Authenticate(ctx, "root", "rootpw"))
	kv := pb.NewKVClient(anon.ActiveConnection())
	as := func(token string) context.Context { return metadata.AppendToOutgoingContext(ctx, "token", token) }
	if _, err := kv.Range(as(resp.Token), &pb.RangeRequest{Key: []byte("a")}); err != nil {
		t.Fatalf("range with token: %v", err)
	}
	_, err = kv.Range(as("forged.1"), &pb.RangeRequest{Key: []byte("a")})
	wantAuthErr(t, "forged token", err, rpctypes.ErrGRPCInvalidAuthToken)

	// As etcd's, a simple token does not go stale with the auth revision:
	// its requests carry the member's current one (etcd 3.7.3 answers both
	// requests below).
	root := userClient(t, "root", "rootpw", n.Endpoint)
	must[*clientv3.AuthRoleAddResponse](t, "role add")(root.RoleAdd(ctx, "r"))
	if _, err := kv.Range(as(resp.Token), &pb.RangeRequest{Key: []byte("a")}); err != nil {
		t.Fatalf("range with a token from before a role add: %v", err)
	}
	if _, err := kv.Put(as(resp.Token), &pb.PutRequest{Key: []byte("a")}); err != nil {
		t.Fatalf("put with a token from before a role add: %v", err)
	}
	must[*clientv3.PutResponse](t, "root puts")(root.Put(ctx, "a", "1"))

	// Users and the enabled flag survive a restart (they are in pebble);
	// tokens do not (they are in memory only): etcd's "invalid auth
	// token", on which etcd's client authenticates again by itself.
	n.Restart()
	_, err = pb.NewKVClient(n.Client.ActiveConnection()).Range(as(resp.Token), &pb.RangeRequest{Key: []byte("a")})
	wantAuthErr(t, "token after restart", err, rpctypes.ErrGRPCInvalidAuthToken)
	root = userClient(t, "root", "rootpw", n.Endpoint)
	must[*clientv3.GetResponse](t, "root reads after restart")(root.Get(ctx, "a"))
	_, err = n.Client.Get(ctx, "a")
	wantAuthErr(t, "anonymous after restart", err, rpctypes.ErrGRPCUserEmpty)
}

// TestAuthJWTGoodOnEveryMember: a JWT issued by one member is verified by
// the others, which hold nothing of it.
func TestAuthJWTGoodOnEveryMember(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	jwtTokens := func(c *cairn.Config) {
		j, err := auth.ParseJWT("priv-key=" + keyFile + ",sign-method=ES256")
		if err != nil {
			t.Fatal(err)
		}
		c.AuthTokens = j
	}
	cl := cairntest.StartCluster(t, 3, fastElections, cheapHashes, jwtTokens)
	ctx := cairntest.Ctx(t)
	nodes := cl.Running()
	enableAuth(t, ctx, cairntest.NewClient(t, nodes[0].Endpoint))

	tok := must[*clientv3.AuthenticateResponse](t, "authenticate")(cairntest.NewClient(t, nodes[0].Endpoint).Authenticate(ctx, "root", "rootpw")).Token
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	md := metadata.AppendToOutgoingContext(ctx, "token", tok)
	for _, n := range nodes {
		kv := pb.NewKVClient(cairntest.NewClient(t, n.Endpoint).ActiveConnection())
		if _, err := kv.Put(md, &pb.PutRequest{Key: []byte("k"), Value: []byte(n.Name())}); err != nil {
			t.Fatalf("put on %s with a JWT issued by %s: %v", n.Name(), nodes[0].Name(), err)
		}
	}
	kv := pb.NewKVClient(cairntest.NewClient(t, nodes[1].Endpoint).ActiveConnection())
	_, err = kv.Range(metadata.AppendToOutgoingContext(ctx, "token", tok+"x"), &pb.RangeRequest{Key: []byte("k")})
	wantAuthErr(t, "tampered JWT", err, rpctypes.ErrGRPCInvalidAuthToken)
}

// lockedBuffer is a log sink safe for the member's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAuthSecretsStayOutOfLogsAndDisk: passwords are hashed before they are
// proposed, so neither the raft log nor the state machine on disk holds
// one, and no log line (at debug level) shows a password or a token.
func TestAuthSecretsStayOutOfLogsAndDisk(t *testing.T) {
	logs := &lockedBuffer{}
	dir := t.TempDir()
	n := cairntest.Start(t, cheapHashes, func(c *cairn.Config) {
		c.DataDir = dir
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.SlowRequest = time.Nanosecond // every request logged with its steps
	})
	ctx := cairntest.Ctx(t)
	const rootPw, alicePw, newPw = "pw-root-0123456789", "pw-alice-0123456789", "pw-new-0123456789"
	c := n.Client
	must[*clientv3.AuthUserAddResponse](t, "user add")(c.UserAdd(ctx, "root", rootPw))
	must[*clientv3.AuthRoleAddResponse](t, "role add")(c.RoleAdd(ctx, "root"))
	must[*clientv3.AuthUserGrantRoleResponse](t, "grant")(c.UserGrantRole(ctx, "root", "root"))
	must[*clientv3.AuthUserAddResponse](t, "user add")(c.UserAdd(ctx, "alice", alicePw))
	must[*clientv3.AuthEnableResponse](t, "enable")(c.AuthEnable(ctx))
	root := userClient(t, "root", rootPw, n.Endpoint)
	must[*clientv3.AuthUserChangePasswordResponse](t, "passwd")(root.UserChangePassword(ctx, "alice", newPw))
	tok := must[*clientv3.AuthenticateResponse](t, "authenticate")(c.Authenticate(ctx, "alice", newPw)).Token
	_, err := c.Authenticate(ctx, "alice", alicePw)
	wantAuthErr(t, "old password", err, rpctypes.ErrGRPCAuthFailed)
	// A value written alike: the scan below must find it, or it proves
	// nothing.
	const control = "control-value-0123456789"
	must[*clientv3.PutResponse](t, "put")(root.Put(ctx, "k", control))
	n.Stop()

	secrets := []string{rootPw, alicePw, newPw, tok}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("a log line shows a secret %q", s)
		}
	}
	if !strings.Contains(logs.String(), "Auth/UserAdd") {
		t.Fatal("the requests were not logged: the check above proves nothing")
	}
	if !scanDataDir(t, dir, []byte(control), secrets) {
		t.Fatal("the data directory does not show a value written: the scan proves nothing")
	}
}

// scanDataDir reports an error for every file under dir that holds one of
// secrets, and whether some file holds control (without which finding no
// secret proves nothing).
func scanDataDir(t *testing.T, dir string, control []byte, secrets []string) (found bool) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = found || bytes.Contains(b, control)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret %q", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
