package mvcc

import (
	"bytes"
	"cmp"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// applyCompares reports whether every compare holds at rd's newest state
// (etcd's applyCompares).
func applyCompares(rd pebble.Reader, cmps []*pb.Compare) (bool, error) {
	for _, c := range cmps {
		ok, err := applyCompare(rd, c)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// applyCompare evaluates one compare as etcd does: every key in the compare's
// range must satisfy it. Over no keys, a VALUE compare is false (a missing
// value cannot be told from an empty one) and the other targets compare the
// zero value (version, create and mod revision 0, lease 0).
func applyCompare(rd pebble.Reader, c *pb.Compare) (bool, error) {
	if c == nil {
		return true, nil
	}
	sp, ok := requestSpan(c.Key, c.RangeEnd)
	if !ok {
		return compareEmpty(c), nil
	}
	cur, err := newLatestCursor(rd, sp, false)
	if err != nil {
		return false, err
	}
	defer func() { _ = cur.close() }()
	seen := false
	for {
		ok, err := cur.next()
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		seen = true
		var value []byte
		if c.Target == pb.Compare_VALUE {
			if value, err = cur.value(); err != nil {
				return false, err
			}
		}
		if !compareKV(c, cur.meta(), value) {
			return false, nil
		}
	}
	if !seen {
		return compareEmpty(c), nil
	}
	return true, nil
}

func compareEmpty(c *pb.Compare) bool {
	if c.Target == pb.Compare_VALUE {
		return false
	}
	return compareKV(c, &meta{}, nil)
}

// compareKV compares one key's state with c's target value. A target union
// that does not match the target compares against zero, and an unknown
// result holds, as in etcd.
func compareKV(c *pb.Compare, m *meta, value []byte) bool {
	var result int
	switch c.Target {
	case pb.Compare_VALUE:
		result = bytes.Compare(value, c.GetValue())
	case pb.Compare_CREATE:
		result = cmp.Compare(m.create, c.GetCreateRevision())
	case pb.Compare_MOD:
		result = cmp.Compare(m.mod, c.GetModRevision())
	case pb.Compare_VERSION:
		result = cmp.Compare(m.version, c.GetVersion())
	case pb.Compare_LEASE:
		result = cmp.Compare(m.lease, c.GetLease())
	}
	switch c.Result {
	case pb.Compare_EQUAL:
		return result == 0
	case pb.Compare_NOT_EQUAL:
		return result != 0
	case pb.Compare_GREATER:
		return result > 0
	case pb.Compare_LESS:
		return result < 0
	}
	return true
}
