package auth

import (
	"testing"

	"go.etcd.io/etcd/api/v3/authpb"
)

func TestCoveredByMergedPermissions(t *testing.T) {
	perms := []*authpb.Permission{
		{Key: []byte("a"), RangeEnd: []byte("c")},   // [a, c)
		{Key: []byte("c"), RangeEnd: []byte("d")},   // touches it: [a, d)
		{Key: []byte("k")},                          // one key
		{Key: []byte("x"), RangeEnd: []byte{0}},     // x to the end
		{Key: []byte("f"), RangeEnd: []byte("fzz")}, // [f, fzz)
	}
	var ivs []interval
	for _, p := range perms {
		ivs = append(ivs, permInterval(p))
	}
	ivs = merge(ivs)
	for _, tc := range []struct {
		key, end string
		want     bool
	}{
		{"a", "", true},
		{"b", "", true},
		{"a", "d", true}, // across the two touching ranges
		{"a", "e", false},
		{"d", "", false},
		{"k", "", true},
		{"k", "l", false}, // a range is more than its first key
		{"k0", "", false},
		{"j", "", false},
		{"x", "\x00", true}, // to the end
		{"y", "\x00", true},
		{"w", "\x00", false},
		{"f", "fzz", true},
		{"f", "g", false},
		{"", "\x00", false},
	} {
		if got := covered(ivs, []byte(tc.key), []byte(tc.end)); got != tc.want {
			t.Errorf("covered(%q, %q) = %v, want %v", tc.key, tc.end, got, tc.want)
		}
	}
}

func TestValidPermissionRange(t *testing.T) {
	for _, tc := range []struct {
		key, end string
		want     bool
	}{
		{"a", "", true}, {"a", "b", true}, {"a", "\x00", true},
		{"b", "a", false}, {"a", "a", false}, {"", "", false},
	} {
		if got := validPermissionRange([]byte(tc.key), []byte(tc.end)); got != tc.want {
			t.Errorf("validPermissionRange(%q, %q) = %v, want %v", tc.key, tc.end, got, tc.want)
		}
	}
}
