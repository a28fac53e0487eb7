package mvcc

import (
	"bytes"
	"cmp"
	"math"
	"testing"
)

// checkVersionOrder checks, for two user keys and revisions, that version
// keys sort by user key, then by revision newest first, that they decode
// back, and that the seek helpers land where the cursors rely on.
func checkVersionOrder(t *testing.T, a, b []byte, amain, asub, bmain, bsub int64) {
	t.Helper()
	ka := versionKey(nil, a, amain, asub)
	kb := versionKey(nil, b, bmain, bsub)
	want := bytes.Compare(a, b)
	if want == 0 {
		// Same key: newest (largest revision) first.
		switch {
		case amain != bmain:
			want = -cmp.Compare(amain, bmain)
		default:
			want = -cmp.Compare(asub, bsub)
		}
	}
	if got := bytes.Compare(ka, kb); got != want {
		t.Fatalf("order of %q@%d.%d (%x) and %q@%d.%d (%x): got %d, want %d", a, amain, asub, ka, b, bmain, bsub, kb, got, want)
	}
	for _, c := range []struct {
		key       []byte
		enc       []byte
		main, sub int64
	}{{a, ka, amain, asub}, {b, kb, bmain, bsub}} {
		prefix, main, sub, err := splitVersionKey(c.enc)
		if err != nil {
			t.Fatal(err)
		}
		if main != c.main || sub != c.sub {
			t.Fatalf("revision of %x: got %d.%d, want %d.%d", c.enc, main, sub, c.main, c.sub)
		}
		key, err := appendUnescaped(nil, prefix[1:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(key, c.key) {
			t.Fatalf("key of %x: got %q, want %q", c.enc, key, c.key)
		}
	}
	// Every version of a sorts below the next-key bound of a, and every
	// version of a larger key at or above it.
	next := nextKeyVersions(nil, versionPrefix(nil, a))
	if bytes.Compare(ka, next) >= 0 {
		t.Fatalf("version %x of %q not below its next-key bound %x", ka, a, next)
	}
	if bytes.Compare(a, b) < 0 && bytes.Compare(kb, next) < 0 {
		t.Fatalf("version %x of %q below the next-key bound %x of %q", kb, b, next, a)
	}
	// The versions of keys below b sort below versionPrefix(b), which is
	// the upper bound of a span ending at b.
	if bytes.Compare(a, b) < 0 && bytes.Compare(ka, versionPrefix(nil, b)) >= 0 {
		t.Fatalf("version of %q not below the prefix of %q", a, b)
	}
	// A seek at a revision lands at or before the newest version at or
	// below it.
	seek := seekAtRev(nil, versionPrefix(nil, a), amain)
	if bytes.Compare(seek, ka) > 0 {
		t.Fatalf("seek at %d (%x) beyond version %x", amain, seek, ka)
	}
	if amain > 0 {
		seek = seekAtRev(nil, versionPrefix(nil, a), amain-1)
		if bytes.Compare(seek, ka) <= 0 {
			t.Fatalf("seek at %d (%x) not beyond version %x at %d", amain-1, seek, ka, amain)
		}
	}
}

func TestVersionKeyOrder(t *testing.T) {
	keys := [][]byte{
		{}, {0}, {0, 0}, {0, 1}, {0, 0xFF}, {1}, {0xFF}, {0xFF, 0},
		[]byte("a"), []byte("a\x00"), []byte("a\x00\x00"), []byte("a\x00\x01"),
		[]byte("a\x00b"), []byte("a\x01"), []byte("a\xff"), []byte("ab"), []byte("b"),
	}
	revs := [][2]int64{{1, 0}, {1, 1}, {2, 0}, {255, 7}, {256, 0}, {math.MaxInt64, math.MaxInt64}}
	for _, a := range keys {
		for _, b := range keys {
			for _, ra := range revs {
				for _, rb := range revs {
					checkVersionOrder(t, a, b, ra[0], ra[1], rb[0], rb[1])
				}
			}
		}
	}
}

func FuzzVersionKeyOrder(f *testing.F) {
	f.Add([]byte("a"), []byte("a\x00"), int64(3), int64(0), int64(2), int64(1))
	f.Add([]byte("\x00"), []byte(""), int64(1), int64(0), int64(1), int64(0))
	f.Add([]byte("a\x00\xff"), []byte("a\x00\x01"), int64(9), int64(2), int64(9), int64(3))
	f.Fuzz(func(t *testing.T, a, b []byte, amain, asub, bmain, bsub int64) {
		if amain < 0 || asub < 0 || bmain < 0 || bsub < 0 {
			t.Skip("revisions are not negative")
		}
		checkVersionOrder(t, a, b, amain, asub, bmain, bsub)
	})
}

func TestUnescapeRejectsGarbage(t *testing.T) {
	for _, bad := range [][]byte{nil, {0}, {1, 2}, {'a', 0, 2, 0, 1}, {0, 0, 1}} {
		if _, err := appendUnescaped(nil, bad); err == nil {
			t.Errorf("appendUnescaped(%x) succeeded", bad)
		}
	}
	if _, _, _, err := splitVersionKey([]byte{prefixVersion, 1, 2}); err == nil {
		t.Error("splitVersionKey of a short key succeeded")
	}
}

func TestLeaseKeyOrder(t *testing.T) {
	ids := []int64{math.MinInt64, -5, -1, 0, 1, 7, math.MaxInt64}
	for i := 1; i < len(ids); i++ {
		a, b := leaseKey(nil, ids[i-1]), leaseKey(nil, ids[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("lease %d (%x) not below lease %d (%x)", ids[i-1], a, ids[i], b)
		}
		if got := leaseIDFrom(b[1:]); got != ids[i] {
			t.Errorf("lease ID round trip: got %d, want %d", got, ids[i])
		}
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	m := meta{create: 3, mod: 1 << 40, modSub: 5, version: 1 << 33, lease: -9}
	var got meta
	if err := decodeLatest(appendLatest(nil, &m), &got); err != nil || got != m {
		t.Fatalf("latest round trip: %+v, %v", got, err)
	}
	got = meta{}
	val, tomb, err := decodeVersion(appendVersion(nil, &m, []byte("value")), &got)
	if err != nil || tomb || string(val) != "value" || got.create != m.create || got.version != m.version || got.lease != m.lease {
		t.Fatalf("version round trip: %+v %q %v %v", got, val, tomb, err)
	}
	if _, tomb, err := decodeVersion(tombstoneRecord, &got); err != nil || !tomb {
		t.Fatalf("tombstone: %v %v", tomb, err)
	}
	for _, bad := range [][]byte{nil, {0x80}, {0, 0x80}} {
		if err := decodeLatest(bad, &got); err == nil {
			t.Errorf("decodeLatest(%x) succeeded", bad)
		}
	}
	if _, _, err := decodeVersion([]byte{0, 0x80}, &got); err == nil {
		t.Error("decodeVersion of a truncated record succeeded")
	}
}
