package auth

import (
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// assign assigns a new token as every member's apply does, and returns the
// token its client is given.
func assign(tk *Tokens, user string, index uint64) string {
	secret := NewSecret()
	tk.Assign(HashSecret(secret), user, index)
	return TokenOf(secret, index)
}

func TestTokensRenewExpireAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	tk := NewTokens(10*time.Second, 3, clock)

	a := assign(tk, "a", 5)
	if user, ok := tk.Lookup(a); !ok || user != "a" {
		t.Fatalf("lookup of a new token: %q %v", user, ok)
	}
	for _, bad := range []string{"nope.1", "", strings.Split(a, ".")[0], strings.Split(a, ".")[0] + ".6", a + "0", "x" + a[1:]} {
		if _, ok := tk.Lookup(bad); ok {
			t.Fatalf("token %q was found: only %q is held", bad, a)
		}
	}
	// Each use renews the TTL.
	now = now.Add(8 * time.Second)
	if _, ok := tk.Lookup(a); !ok {
		t.Fatal("token expired before its TTL")
	}
	now = now.Add(8 * time.Second)
	if _, ok := tk.Lookup(a); !ok {
		t.Fatal("a used token was not renewed")
	}
	now = now.Add(10 * time.Second)
	if _, ok := tk.Lookup(a); ok {
		t.Fatal("token outlived its TTL")
	}
	if tk.Len() != 0 {
		t.Fatalf("%d tokens held after expiry", tk.Len())
	}

	// At most 3: a fourth drops the least recently used.
	b, c, d := assign(tk, "b", 10), assign(tk, "c", 11), assign(tk, "d", 12)
	tk.Lookup(b)
	e := assign(tk, "e", 13)
	if tk.Len() != 3 {
		t.Fatalf("%d tokens held, bound 3", tk.Len())
	}
	if _, ok := tk.Lookup(c); ok {
		t.Fatal("the least recently used token was kept")
	}
	for _, tok := range []string{b, d, e} {
		if _, ok := tk.Lookup(tok); !ok {
			t.Fatalf("token %s dropped", tok)
		}
	}
}

func TestTokensDroppedAsEtcdDrops(t *testing.T) {
	tk := NewTokens(time.Minute, 0, nil)
	alice1, alice2, bob := assign(tk, "alice", 1), assign(tk, "alice", 2), assign(tk, "bob", 3)
	held := func(tok string) bool { _, ok := tk.Lookup(tok); return ok }

	// Changes that keep the tokens: another user's role, a role's grant.
	tk.Applied(&pb.InternalRaftRequest{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: "alice", Role: "r"}})
	tk.Applied(&pb.InternalRaftRequest{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: "r"}})
	if !held(alice1) || !held(alice2) || !held(bob) {
		t.Fatal("a change of roles dropped tokens; etcd keeps them")
	}
	tk.Applied(&pb.InternalRaftRequest{AuthUserChangePassword: &pb.AuthUserChangePasswordRequest{Name: "alice"}})
	if held(alice1) || held(alice2) || !held(bob) {
		t.Fatal("a password change must drop that user's tokens only")
	}
	tk.Applied(&pb.InternalRaftRequest{AuthUserDelete: &pb.AuthUserDeleteRequest{Name: "bob"}})
	if held(bob) {
		t.Fatal("a deleted user's token is held")
	}
	carol := assign(tk, "carol", 4)
	tk.Applied(&pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}})
	if held(carol) || tk.Len() != 0 {
		t.Fatalf("disabling auth kept %d tokens", tk.Len())
	}
	var none *Tokens // apply without simple tokens (JWT)
	none.Assign(HashSecret("x"), "x", 1)
	none.Applied(&pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}})
	none.Clear()
}

func TestTokenForm(t *testing.T) {
	s := NewSecret()
	if len(s) != 16 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		t.Fatalf("secret %q is not 16 letters", s)
	}
	if NewSecret() == s {
		t.Fatal("two secrets alike")
	}
	tok := TokenOf(s, 42)
	if i, ok := ParseToken(tok); !ok || i != 42 || tok != s+".42" {
		t.Fatalf("token %q parses as %d %v", tok, i, ok)
	}
}
