package cairn

import (
	"crypto/sha1"
	"encoding/binary"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// memberID computes a member's ID from its peer URLs and the cluster token
// exactly as etcd does, so that a member configured like an etcd member gets
// the same ID.
func memberID(peerURLs []string, token string) uint64 {
	urls := make([]string, 0, len(peerURLs))
	for _, u := range peerURLs {
		if p, err := url.Parse(u); err == nil {
			u = p.String()
		}
		urls = append(urls, u)
	}
	sort.Strings(urls)
	b := []byte(strings.Join(urls, "") + token)
	h := sha1.Sum(b)
	return binary.BigEndian.Uint64(h[:8])
}

// clusterID computes a cluster's ID from its initial members' IDs, as etcd
// does.
func clusterID(memberIDs []uint64) uint64 {
	ids := slices.Clone(memberIDs)
	slices.Sort(ids)
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	h := sha1.Sum(b)
	return binary.BigEndian.Uint64(h[:8])
}
