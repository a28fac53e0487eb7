package auth

import (
	"bytes"
	"slices"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Info is who sends a request: the user of its token (or of its client
// certificate) and the auth revision the token was issued at. The zero Info
// is a request without credentials.
type Info struct {
	User     string
	Revision uint64
}

// Checker decides permissions for one user against one state of the store.
// It reads the user and their roles once and keeps them, so a txn's many
// ops cost one lookup; it must not outlive the Reader's state.
type Checker struct {
	st    Status
	user  *authpb.User // nil when auth is off
	root  bool
	read  []interval // key ranges the user may read
	write []interval // and write
}

// NewChecker returns the checker of ai's requests against r, or the error
// etcd answers before looking at any key: none when auth is off; the user
// name is empty, the token's revision is old, or the user is gone.
func NewChecker(r Reader, ai Info) (*Checker, error) {
	st, err := ReadStatus(r)
	if err != nil {
		return nil, err
	}
	c := &Checker{st: st}
	if !st.Enabled {
		c.root = true
		return c, nil
	}
	if ai.User == "" {
		return nil, ErrUserEmpty
	}
	// A certificate's user has no revision: it is as fresh as the state.
	if ai.Revision != 0 && ai.Revision < st.Revision {
		return nil, ErrAuthOldRevision
	}
	u, err := GetUser(r, ai.User)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, ErrPermissionDenied
	}
	c.user = u
	if c.root = HasRootRole(u); c.root {
		return c, nil
	}
	for _, name := range u.Roles {
		role, err := GetRole(r, name)
		if err != nil {
			return nil, err
		}
		for _, p := range role.GetKeyPermission() {
			iv := permInterval(p)
			if p.PermType == authpb.Permission_READ || p.PermType == authpb.Permission_READWRITE {
				c.read = append(c.read, iv)
			}
			if p.PermType == authpb.Permission_WRITE || p.PermType == authpb.Permission_READWRITE {
				c.write = append(c.write, iv)
			}
		}
	}
	c.read, c.write = merge(c.read), merge(c.write)
	return c, nil
}

// Admin reports whether the user may manage auth (etcd's IsAdminPermitted).
func (c *Checker) Admin() error {
	if !c.root {
		return ErrPermissionDenied
	}
	return nil
}

// Status is the auth state the checker decides against.
func (c *Checker) Status() Status { return c.st }

// Self reports whether the checker's user is name and holds role (empty:
// any), for etcd's rule that a user may read their own user and roles.
func (c *Checker) Self(name, role string) bool {
	if c.user == nil || (name != "" && string(c.user.Name) != name) {
		return false
	}
	if role == "" {
		return true
	}
	_, found := slices.BinarySearch(c.user.Roles, role)
	return found
}

// Read and Write check a key (end empty) or a range [key, end) ("\x00":
// to the end of the keyspace), as etcd's IsRangePermitted and
// IsPutPermitted / IsDeleteRangePermitted.
func (c *Checker) Read(key, end []byte) error  { return c.check(c.read, key, end) }
func (c *Checker) Write(key, end []byte) error { return c.check(c.write, key, end) }

func (c *Checker) check(ivs []interval, key, end []byte) error {
	if c.root || covered(ivs, key, end) {
		return nil
	}
	return ErrPermissionDenied
}

// Txn checks every compare and every op of both branches, nested txns
// included, as etcd's checkTxnAuth.
func (c *Checker) Txn(r *pb.TxnRequest) error {
	if c.root {
		return nil
	}
	for _, cmp := range r.GetCompare() {
		if err := c.Read(cmp.GetKey(), cmp.GetRangeEnd()); err != nil {
			return err
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range ops {
			if err := c.op(op); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Checker) op(op *pb.RequestOp) error {
	switch {
	case op.GetRequestRange() != nil:
		rr := op.GetRequestRange()
		return c.Read(rr.GetKey(), rr.GetRangeEnd())
	case op.GetRequestPut() != nil:
		p := op.GetRequestPut()
		if err := c.Write(p.GetKey(), nil); err != nil {
			return err
		}
		if p.GetPrevKv() {
			return c.Read(p.GetKey(), nil)
		}
	case op.GetRequestDeleteRange() != nil:
		d := op.GetRequestDeleteRange()
		if err := c.Write(d.GetKey(), d.GetRangeEnd()); err != nil {
			return err
		}
		if d.GetPrevKv() {
			return c.Read(d.GetKey(), d.GetRangeEnd())
		}
	case op.GetRequestTxn() != nil:
		return c.Txn(op.GetRequestTxn())
	}
	return nil
}

// Request checks a proposal of a client (etcd's authApplierV3): Put,
// DeleteRange, Txn and LeaseRevoke by their keys, auth management by the
// root role. leaseKeys lists the keys attached to a lease, for LeaseRevoke
// and for a put that attaches a key to a lease that holds others (etcd
// refuses both unless the user may write every key of the lease).
func (c *Checker) Request(r *pb.InternalRaftRequest, leaseKeys func(id int64) ([][]byte, error)) error {
	if c.root {
		return nil
	}
	switch {
	case r.Put != nil:
		if err := c.Write(r.Put.Key, nil); err != nil {
			return err
		}
		if r.Put.PrevKv {
			if err := c.Read(r.Put.Key, nil); err != nil {
				return err
			}
		}
		if r.Put.Lease != 0 {
			return c.writesLease(r.Put.Lease, leaseKeys)
		}
	case r.DeleteRange != nil:
		d := r.DeleteRange
		if err := c.Write(d.Key, d.RangeEnd); err != nil {
			return err
		}
		if d.PrevKv {
			return c.Read(d.Key, d.RangeEnd)
		}
	case r.Txn != nil:
		return c.Txn(r.Txn)
	case r.LeaseRevoke != nil:
		return c.writesLease(r.LeaseRevoke.ID, leaseKeys)
	case IsAuthRequest(r):
		return c.Admin()
	}
	return nil
}

func (c *Checker) writesLease(id int64, leaseKeys func(int64) ([][]byte, error)) error {
	if leaseKeys == nil {
		return nil
	}
	keys, err := leaseKeys(id)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.Write(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// interval is [start, end) of keys; an empty end is the end of the
// keyspace.
type interval struct{ start, end []byte }

func permInterval(p *authpb.Permission) interval {
	switch {
	case len(p.RangeEnd) == 0:
		// One key: [key, key+"\x00").
		return interval{p.Key, append(append([]byte{}, p.Key...), 0)}
	case len(p.RangeEnd) == 1 && p.RangeEnd[0] == 0:
		return interval{p.Key, nil}
	}
	return interval{p.Key, p.RangeEnd}
}

// endCmp compares two interval ends, empty being above every key.
func endCmp(a, b []byte) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	return bytes.Compare(a, b)
}

// merge sorts intervals and joins those that overlap or touch.
func merge(ivs []interval) []interval {
	slices.SortFunc(ivs, func(a, b interval) int { return bytes.Compare(a.start, b.start) })
	var out []interval
	for _, iv := range ivs {
		if n := len(out); n > 0 && endCmp(out[n-1].end, iv.start) >= 0 {
			if endCmp(iv.end, out[n-1].end) > 0 {
				out[n-1].end = iv.end
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// covered reports whether the merged intervals hold key (end empty) or all
// of [key, end).
func covered(ivs []interval, key, end []byte) bool {
	if len(end) == 1 && end[0] == 0 {
		end = nil // to the end of the keyspace
	} else if len(end) == 0 {
		end = append(append([]byte{}, key...), 0)
	}
	for _, iv := range ivs {
		if bytes.Compare(iv.start, key) <= 0 && endCmp(iv.end, key) > 0 {
			// Merged intervals are disjoint: this one alone must hold it all.
			return endCmp(iv.end, end) >= 0
		}
	}
	return false
}
