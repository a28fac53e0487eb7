package auth

import (
	"testing"
	"time"
)

func TestTokensRenewExpireAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	tk := NewTokens(10*time.Second, 3, clock)

	issue := func(ai Info) string {
		tok, _ := tk.Issue(ai)
		return tok
	}
	a := issue(Info{User: "a", Revision: 5})
	if ai, ok := tk.Lookup(a); !ok || ai.User != "a" || ai.Revision != 5 {
		t.Fatalf("lookup of a new token: %+v %v", ai, ok)
	}
	if _, ok := tk.Lookup("nope.1"); ok {
		t.Fatal("a token never issued was found")
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
	b, c, d := issue(Info{User: "b"}), issue(Info{User: "c"}), issue(Info{User: "d"})
	tk.Lookup(b)
	e := issue(Info{User: "e"})
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
