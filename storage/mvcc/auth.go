package mvcc

import "github.com/cockroachdb/pebble/v2"

// Auth records hold etcd's auth state (package auth encodes them): like
// meta entries they are opaque names and values, committed atomically with
// the batch and carried by snapshots and backups, but under their own
// prefix, so that ForgetMembership (which drops every meta entry) keeps
// them, as etcdutl's restore keeps etcd's users and roles.

func authKey(dst []byte, name string) []byte { return append(append(dst, prefixAuth), name...) }

// AuthStatusRecord is the auth record every request reads (package auth's
// enabled flag and auth revision). The store keeps its committed value in
// memory, so that neither a read's permission check nor an applied
// request's costs a pebble lookup: with auth off, that lookup was a pebble
// Get per request on every member.
//
// Invariants:
//
//  1. Store.authStatus is the record's value as last committed (nil: none),
//     set by Open, Reload and a Batch.Commit that wrote or deleted it.
//  2. A batch reads the record through itself once it wrote or deleted it,
//     and the committed value before.
//  3. A view reads the committed value, whatever the view's index: like
//     etcd's permission checks, which use the auth store as it is now.
const AuthStatusRecord = "status"

// loadAuthStatus reads the committed status record from rd into the store.
func (s *Store) loadAuthStatus(rd pebble.Reader) error {
	v, err := getAuth(rd, AuthStatusRecord)
	if err != nil {
		return err
	}
	s.authStatus.Store(&v)
	return nil
}

// committedAuthStatus returns a copy of the committed status record, or nil.
func (s *Store) committedAuthStatus() []byte {
	if p := s.authStatus.Load(); p != nil && *p != nil {
		return append([]byte{}, (*p)...)
	}
	return nil
}

// PutAuth stores an auth record, atomically with the batch. It panics if the
// batch is closed; on a failed batch it does nothing, as Commit will fail.
func (b *Batch) PutAuth(name string, value []byte) {
	if b.closed {
		panic(errBatchClosed)
	}
	if b.err == nil {
		if err := b.setKey(authKey(b.kbuf[:0], name), value); err != nil {
			b.err = err
		}
		if name == AuthStatusRecord {
			b.authStatusWritten, b.authStatus = true, append([]byte{}, value...)
		}
	}
}

// DeleteAuth removes an auth record. It panics if the batch is closed.
func (b *Batch) DeleteAuth(name string) {
	if b.closed {
		panic(errBatchClosed)
	}
	if b.err == nil {
		if err := b.deleteKeyRecord(authKey(b.kbuf[:0], name)); err != nil {
			b.err = err
		}
		if name == AuthStatusRecord {
			b.authStatusWritten, b.authStatus = true, nil
		}
	}
}

// Auth reads an auth record through the batch (seeing its own writes): a
// copy of its value, or nil if there is none.
func (b *Batch) Auth(name string) ([]byte, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	if name == AuthStatusRecord && !b.authStatusWritten {
		return b.s.committedAuthStatus(), nil
	}
	return getAuth(b.b, name)
}

// AuthPrefix calls fn for every auth record whose name starts with prefix,
// in name order, through the batch. The slices are valid only during the
// call; an error from fn stops the walk and is returned.
func (b *Batch) AuthPrefix(prefix string, fn func(name string, value []byte) error) error {
	if err := b.usable(); err != nil {
		return err
	}
	return authPrefix(b.b, prefix, fn)
}

// Auth returns a copy of an auth record, or nil if there is none.
func (v *ReadView) Auth(name string) ([]byte, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	if name == AuthStatusRecord {
		return v.s.committedAuthStatus(), nil
	}
	a, err := getAuth(v.snap, name)
	if err = v.valid(err); err != nil {
		return nil, err
	}
	return a, nil
}

// AuthPrefix is Batch.AuthPrefix on the view.
func (v *ReadView) AuthPrefix(prefix string, fn func(name string, value []byte) error) error {
	if err := v.usable(); err != nil {
		return err
	}
	return v.valid(authPrefix(v.snap, prefix, fn))
}

func getAuth(rd pebble.Reader, name string) ([]byte, error) {
	var out []byte
	err := getWith(rd, authKey(nil, name), func(v []byte) error {
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

func authPrefix(rd pebble.Reader, prefix string, fn func(name string, value []byte) error) error {
	return namedPrefix(rd, authKey(nil, ""), prefix, fn)
}
