package auth

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Tokens holds the simple tokens of the cluster as this member applied
// them (etcd's --auth-token simple). A token is etcd's: 16 random letters
// (its secret), a dot, and the raft index of the entry that assigned it.
// The member that receives an Authenticate checks the password, chooses
// the secret (NewSecret) and proposes its SHA-256 (HashSecret, in
// cairnpb.AssignToken); every member applies the entry with Assign. So a
// token is good on every member, while neither the raft log nor the state
// machine ever holds one: the hash is all they see, and a member holds
// hashes only in memory. After a restart a member holds none, and answers
// etcd's "invalid auth token", on which etcd's client authenticates again.
//
// As in etcd, a token stays good for a TTL after its last use on this
// member (each member times the uses it sees), a user's tokens are dropped
// when the user is deleted or its password changes, and every token when
// auth is disabled (Applied); a token does not remember an auth revision:
// its requests carry the member's current one (etcd's tokenSimple.info).
//
// At most max tokens are held: assigning one more drops the least recently
// used, on every member alike by this rule (which one is each member's own
// choice, as the TTL is), so memory does not follow the number of clients
// that authenticate. Safe for concurrent use: the apply actor changes it,
// the front door reads it.
type Tokens struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu     sync.Mutex
	byHash map[[sha256.Size]byte]*list.Element
	lru    list.List // of *tokenEntry, most recently used first
}

type tokenEntry struct {
	hash    [sha256.Size]byte
	user    string
	index   uint64 // of the entry that assigned it: the token's number
	expires time.Time
}

// DefaultTokenTTL is etcd's --auth-token-ttl default; DefaultMaxTokens
// bounds the tokens a member holds (about 200 bytes each: 13 MiB).
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
	return &Tokens{ttl: ttl, max: max, now: now, byHash: make(map[[sha256.Size]byte]*list.Element)}
}

// secretLen is the length of a token's secret, etcd's defaultSimpleTokenLength.
const secretLen = 16

// NewSecret returns the secret of a new token: 16 random letters, as
// etcd's genTokenPrefix (about 91 random bits).
func NewSecret() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	// Rejection sampling keeps the letters uniform: 52 does not divide 256.
	b := make([]byte, 0, secretLen)
	var buf [32]byte
	for len(b) < secretLen {
		_, _ = rand.Read(buf[:]) // never fails (crypto/rand)
		for _, c := range buf {
			if c < 52*4 && len(b) < secretLen {
				b = append(b, letters[c%52])
			}
		}
	}
	return string(b)
}

// HashSecret is what the raft log and the members hold of a token: the
// SHA-256 of its secret.
func HashSecret(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// TokenOf returns the token a client is given for secret, assigned by the
// entry at index: etcd's form, secret "." index.
func TokenOf(secret string, index uint64) string {
	return secret + "." + strconv.FormatUint(index, 10)
}

// ParseToken returns the index of a token of TokenOf's form, false for
// anything else.
func ParseToken(token string) (index uint64, ok bool) {
	secret, num, found := strings.Cut(token, ".")
	if !found || len(secret) != secretLen {
		return 0, false
	}
	index, err := strconv.ParseUint(num, 10, 64)
	return index, err == nil
}

// Assign holds the token whose secret hashes to hash, for user, assigned
// by the entry at index; the apply actor calls it. Assigning a hash held
// already (an entry applied again after a restart of the apply actor)
// replaces it.
func (t *Tokens) Assign(hash [sha256.Size]byte, user string, index uint64) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if el, ok := t.byHash[hash]; ok {
		t.drop(el)
	}
	t.expire(now)
	for len(t.byHash) >= t.max {
		t.drop(t.lru.Back())
	}
	t.byHash[hash] = t.lru.PushFront(&tokenEntry{hash: hash, user: user, index: index, expires: now.Add(t.ttl)})
}

// Lookup returns the user of token and renews its TTL, or false for a
// token this member does not hold (never assigned, assigned at an index
// this member has not applied yet, expired, dropped or evicted).
func (t *Tokens) Lookup(token string) (string, bool) {
	index, ok := ParseToken(token)
	if !ok {
		return "", false
	}
	secret, _, _ := strings.Cut(token, ".")
	hash := HashSecret(secret)
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.byHash[hash]
	if !ok {
		return "", false
	}
	e := el.Value.(*tokenEntry)
	now := t.now()
	if !now.Before(e.expires) {
		t.drop(el)
		return "", false
	}
	if e.index != index {
		return "", false
	}
	e.expires = now.Add(t.ttl)
	t.lru.MoveToFront(el)
	t.expire(now)
	return e.user, true
}

// Applied changes the tokens after Apply applied r without error, as
// etcd's auth store changes its token provider: disabling auth drops every
// token, deleting a user or changing its password drops the user's.
// Applying the same entries in the same order, every member drops alike.
func (t *Tokens) Applied(r *pb.InternalRaftRequest) {
	switch {
	case t == nil:
	case r.AuthDisable != nil:
		t.Clear()
	case r.AuthUserDelete != nil:
		t.dropUser(r.AuthUserDelete.Name)
	case r.AuthUserChangePassword != nil:
		t.dropUser(r.AuthUserChangePassword.Name)
	}
}

// Clear drops every token: auth was disabled, or the state machine was
// replaced by a snapshot (which may have skipped entries that dropped some).
func (t *Tokens) Clear() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.byHash)
	t.lru.Init()
}

func (t *Tokens) dropUser(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for el := t.lru.Front(); el != nil; {
		next := el.Next()
		if el.Value.(*tokenEntry).user == user {
			t.drop(el)
		}
		el = next
	}
}

// Len returns the number of tokens held.
func (t *Tokens) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byHash)
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
	delete(t.byHash, el.Value.(*tokenEntry).hash)
	t.lru.Remove(el)
}
