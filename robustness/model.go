package robustness

import (
	"fmt"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The keyspace the workload uses: a few keys, so that clients collide on
// them, and a few lease IDs, chosen by the clients so that the model knows
// them (etcd takes a LeaseGrantRequest's ID as it is).
const (
	numKeys   = 6
	numLeases = 3
	keyPrefix = "/r/"
)

// keyName is the key of index i.
func keyName(i int) string { return fmt.Sprintf("%sk%d", keyPrefix, i) }

// keyIndex is the index of a key the workload uses, or -1.
func keyIndex(key string) int {
	var i int
	if _, err := fmt.Sscanf(key, keyPrefix+"k%d", &i); err != nil || i < 0 || i >= numKeys || keyName(i) != key {
		return -1
	}
	return i
}

// leaseID is the ID of lease l (1 to numLeases; 0 is no lease).
func leaseID(l int) int64 { return int64(100 + l) }

// leaseOf is the lease l of an ID from a response, or -1 for an ID the
// workload never grants.
func leaseOf(id int64) int {
	if id == 0 {
		return 0
	}
	if l := int(id - 100); l >= 1 && l <= numLeases {
		return l
	}
	return -1
}

// opKind is what an operation does.
type opKind int

const (
	opPut opKind = iota
	opGet        // linearizable
	opDelete
	opCAS // txn: if compare then put else get
	opGrant
	opRevoke
)

func (k opKind) String() string {
	return [...]string{"put", "get", "delete", "cas", "grant", "revoke"}[k]
}

// input is an operation as the client issued it.
type input struct {
	Kind  opKind
	Key   int    // put, get, delete, cas
	Value string // put, cas: unique in the run
	// Lease is the lease of a put (0: none), grant or revoke, 1 to
	// numLeases.
	Lease int
	// CAS compares the key's mod revision with CmpModRev, or, if
	// CmpByValue, its value with CmpValue.
	CmpByValue bool
	CmpModRev  int64
	CmpValue   string
}

// Errors an operation may answer that the model predicts.
const (
	errLeaseNotFound = "lease not found"
	errLeaseExists   = "lease exists"
)

// output is what the client learnt.
type output struct {
	// Unknown: the request failed or timed out; it may or may not have
	// taken effect (once, at some moment after its call). Nothing else
	// in the output counts.
	Unknown bool
	// Err is one of the errors above, a definite outcome.
	Err string
	// Rev is the response header's revision (not checked for leases:
	// etcd fills it with whatever revision the member has applied).
	Rev int64
	// KV is what a get, or a cas that failed, read.
	KV kv
	// Succeeded is a cas's outcome; Deleted a delete's count.
	Succeeded bool
	Deleted   int64
	// RevKnown: an operation with an unknown outcome whose effect was
	// found in the final event history at Rev (see resolve). The model
	// then requires it to take effect at Rev.
	RevKnown bool
}

// kv is one key's record; the zero value is an absent key.
type kv struct {
	Value     string
	ModRev    int64
	CreateRev int64
	Version   int64
	Lease     int // 0: none; see leaseID
}

func (x kv) exists() bool { return x.ModRev != 0 }

func (x kv) String() string {
	if !x.exists() {
		return "absent"
	}
	s := fmt.Sprintf("%q@%d(c%d,v%d)", x.Value, x.ModRev, x.CreateRev, x.Version)
	if x.Lease != 0 {
		s += fmt.Sprintf(",lease %d", leaseID(x.Lease))
	}
	return s
}

// state is the whole keyspace: a value, so that steps copy it and == is
// porcupine's equality.
type state struct {
	Rev    int64
	Keys   [numKeys]kv
	Leases [numLeases + 1]bool // by lease; [0] unused
}

func initState() state {
	// A new cluster is at revision 1 (etcd's first write is at 2).
	return state{Rev: 1}
}

// step applies in to s and reports whether out is what it answers. For an
// unknown outcome it applies the operation and accepts any output.
func step(s state, in input, out output) (bool, state) {
	switch in.Kind {
	case opGet:
		if out.Unknown {
			return true, s
		}
		return out.Rev == s.Rev && sameKV(out.KV, s.Keys[in.Key]), s

	case opPut:
		if in.Lease != 0 && !s.Leases[in.Lease] {
			if out.Unknown && !out.RevKnown {
				return true, s
			}
			return out.Err == errLeaseNotFound, s
		}
		next := put(s, in.Key, in.Value, in.Lease)
		return accept(out, next.Rev, out.Err == "" && out.Rev == next.Rev), next

	case opDelete:
		next := s
		var deleted int64
		if s.Keys[in.Key].exists() {
			next.Rev++
			next.Keys[in.Key] = kv{}
			deleted = 1
		}
		if out.RevKnown {
			return deleted == 1 && out.Rev == next.Rev, next
		}
		return out.Unknown || out.Err == "" && out.Rev == next.Rev && out.Deleted == deleted, next

	case opCAS:
		cur := s.Keys[in.Key]
		var ok bool
		if in.CmpByValue {
			// etcd: a value compare with an absent key is false.
			ok = cur.exists() && cur.Value == in.CmpValue
		} else {
			ok = cur.ModRev == in.CmpModRev
		}
		if !ok {
			if out.RevKnown {
				return false, s // it wrote, so the compare held
			}
			return out.Unknown || out.Err == "" && !out.Succeeded && out.Rev == s.Rev && sameKV(out.KV, cur), s
		}
		next := put(s, in.Key, in.Value, 0)
		return accept(out, next.Rev, out.Err == "" && out.Succeeded && out.Rev == next.Rev), next

	case opGrant:
		if s.Leases[in.Lease] {
			return out.Unknown || out.Err == errLeaseExists, s
		}
		next := s
		next.Leases[in.Lease] = true
		return out.Unknown || out.Err == "", next

	case opRevoke:
		if !s.Leases[in.Lease] {
			return out.Unknown || out.Err == errLeaseNotFound, s
		}
		next := s
		next.Leases[in.Lease] = false
		deleted := false
		for i, x := range next.Keys {
			if x.exists() && x.Lease == in.Lease {
				next.Keys[i] = kv{}
				deleted = true
			}
		}
		if deleted {
			next.Rev++ // every key of the lease goes in one revision
		}
		return out.Unknown || out.Err == "", next
	}
	return false, s
}

// accept judges a write's output: an unknown one is accepted, unless its
// revision was found (RevKnown), which must then be rev; a definite one
// must be ok.
func accept(out output, rev int64, ok bool) bool {
	switch {
	case out.RevKnown:
		return out.Rev == rev
	case out.Unknown:
		return true
	}
	return ok
}

// put writes value to key i at the next revision, attached to lease
// (0: none).
func put(s state, i int, value string, lease int) state {
	s.Rev++
	cur := s.Keys[i]
	next := kv{Value: value, ModRev: s.Rev, CreateRev: cur.CreateRev, Version: cur.Version + 1, Lease: lease}
	if !cur.exists() {
		next.CreateRev, next.Version = s.Rev, 1
	}
	s.Keys[i] = next
	return s
}

// sameKV compares what a read returned (its lease mapped back by
// leaseOf) with the model's record.
func sameKV(got, want kv) bool {
	if !want.exists() {
		return !got.exists()
	}
	return got == want
}

// kvModel is the porcupine model of the workload's keyspace.
var kvModel = porcupine.Model{
	Init: func() any { return initState() },
	Step: func(s, in, out any) (bool, any) {
		return step(s.(state), in.(input), out.(output))
	},
	DescribeOperation: func(in, out any) string { return describe(in.(input), out.(output)) },
	DescribeState:     func(s any) string { return describeState(s.(state)) },
}

func describe(in input, out output) string {
	var b strings.Builder
	switch in.Kind {
	case opPut:
		fmt.Fprintf(&b, "put(%s, %q", keyName(in.Key), in.Value)
		if in.Lease != 0 {
			fmt.Fprintf(&b, ", lease %d", leaseID(in.Lease))
		}
		b.WriteString(")")
	case opGet, opDelete:
		fmt.Fprintf(&b, "%s(%s)", in.Kind, keyName(in.Key))
	case opCAS:
		if in.CmpByValue {
			fmt.Fprintf(&b, "cas(%s value=%q -> %q)", keyName(in.Key), in.CmpValue, in.Value)
		} else {
			fmt.Fprintf(&b, "cas(%s mod=%d -> %q)", keyName(in.Key), in.CmpModRev, in.Value)
		}
	case opGrant, opRevoke:
		fmt.Fprintf(&b, "%s(%d)", in.Kind, leaseID(in.Lease))
	}
	b.WriteString(" -> ")
	switch {
	case out.RevKnown:
		fmt.Fprintf(&b, "unknown, found at rev %d", out.Rev)
	case out.Unknown:
		b.WriteString("unknown")
	case out.Err != "":
		b.WriteString(out.Err)
	case in.Kind == opGet:
		fmt.Fprintf(&b, "%s rev %d", out.KV, out.Rev)
	case in.Kind == opCAS && !out.Succeeded:
		fmt.Fprintf(&b, "failed, read %s rev %d", out.KV, out.Rev)
	case in.Kind == opDelete:
		fmt.Fprintf(&b, "deleted %d rev %d", out.Deleted, out.Rev)
	case in.Kind == opGrant || in.Kind == opRevoke:
		b.WriteString("ok")
	default:
		fmt.Fprintf(&b, "ok rev %d", out.Rev)
	}
	return b.String()
}

func describeState(s state) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rev %d", s.Rev)
	for i, x := range s.Keys {
		if x.exists() {
			fmt.Fprintf(&b, ", k%d=%s", i, x)
		}
	}
	for i, live := range s.Leases {
		if i > 0 && live {
			fmt.Fprintf(&b, ", lease %d", leaseID(i))
		}
	}
	return b.String()
}
