package auth

import (
	"container/list"
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// Tokens holds the simple tokens this member issued (etcd's --auth-token
// simple): random strings mapped to a user and the auth revision at
// Authenticate, each valid for a TTL that every use renews, as etcd's
// simpleTokenKeeper. They live in this member's memory only, so a token is
// good on the member that issued it (etcd replicates simple tokens through
// raft); etcd's client authenticates again on ErrInvalidAuthToken.
//
// At most max tokens are held: issuing one more drops the least recently
// used, so memory does not follow the number of clients that authenticate.
// Safe for concurrent use.
type Tokens struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	byTok map[string]*list.Element
	lru   list.List // of *tokenEntry, most recently used first
}

type tokenEntry struct {
	token   string
	info    Info
	expires time.Time
}

// DefaultTokenTTL is etcd's --auth-token-ttl default; DefaultMaxTokens
// bounds the tokens a member holds (about 100 bytes each).
const (
	DefaultTokenTTL  = 300 * time.Second
	DefaultMaxTokens = 1 << 16
)

// NewTokens returns an empty token store; zero or negative arguments take
// the defaults; now, if not nil, is the clock (tests).
func NewTokens(ttl time.Duration, max int, now func() time.Time) *Tokens {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if max <= 0 {
		max = DefaultMaxTokens
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{ttl: ttl, max: max, now: now, byTok: make(map[string]*list.Element)}
}

// Issue returns a new token for info; it never fails.
func (t *Tokens) Issue(info Info) (string, error) {
	// etcd's format: 16 random letters, a dot, a number.
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tok := fmt.Sprintf("%s.%d", b, len(t.byTok)+1)
	t.expire(t.now())
	for len(t.byTok) >= t.max {
		t.drop(t.lru.Back())
	}
	t.byTok[tok] = t.lru.PushFront(&tokenEntry{token: tok, info: info, expires: t.now().Add(t.ttl)})
	return tok, nil
}

// Lookup returns the token's info and renews its TTL, or false for a token
// this member did not issue or that expired.
func (t *Tokens) Lookup(tok string) (Info, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.byTok[tok]
	if !ok {
		return Info{}, false
	}
	e := el.Value.(*tokenEntry)
	now := t.now()
	if !now.Before(e.expires) {
		t.drop(el)
		return Info{}, false
	}
	e.expires = now.Add(t.ttl)
	t.lru.MoveToFront(el)
	t.expire(now)
	return e.info, true
}

// Len returns the number of tokens held.
func (t *Tokens) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byTok)
}

// expire drops expired tokens from the least recently used end: each use
// drops what expired since, so the store holds no dead token for long
// without a timer of its own.
func (t *Tokens) expire(now time.Time) {
	for el := t.lru.Back(); el != nil && !now.Before(el.Value.(*tokenEntry).expires); el = t.lru.Back() {
		t.drop(el)
	}
}

func (t *Tokens) drop(el *list.Element) {
	delete(t.byTok, el.Value.(*tokenEntry).token)
	t.lru.Remove(el)
}
