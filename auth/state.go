package auth

import (
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/authpb"
	"google.golang.org/protobuf/proto"
)

// Reader reads auth records: *mvcc.Batch and *mvcc.ReadView.
type Reader interface {
	Auth(name string) ([]byte, error)
	AuthPrefix(prefix string, fn func(name string, value []byte) error) error
}

// Writer changes auth records: *mvcc.Batch.
type Writer interface {
	Reader
	PutAuth(name string, value []byte)
	DeleteAuth(name string)
}

// Names of the auth records.
const (
	// recStatus holds the enabled flag (one byte, 1 when auth is on) and
	// the auth revision (big-endian uint64): one record, so that the check
	// of every request reads one key.
	recStatus = "status"
	recUser   = "user/" // + name: authpb.User
	recRole   = "role/" // + name: authpb.Role
)

// RootUser and RootRole are etcd's names: root holds every permission, and
// auth can be enabled only once the root user has the root role.
const (
	RootUser = "root"
	RootRole = "root"
)

// Status is what the front door needs of the state on every request.
type Status struct {
	Enabled  bool
	Revision uint64
}

// ReadStatus reads the enabled flag and the auth revision.
func ReadStatus(r Reader) (Status, error) {
	b, err := r.Auth(recStatus)
	if err != nil {
		return Status{}, err
	}
	if len(b) != 9 {
		// A fresh store is at revision 1, as etcd's (NewAuthStore commits one).
		return Status{Revision: 1}, nil
	}
	return Status{Enabled: b[0] == 1, Revision: binary.BigEndian.Uint64(b[1:])}, nil
}

func writeStatus(w Writer, st Status) {
	b := make([]byte, 1, 9)
	if st.Enabled {
		b[0] = 1
	}
	w.PutAuth(recStatus, binary.BigEndian.AppendUint64(b, st.Revision))
}

func writeEnabled(w Writer, st Status, on bool) {
	st.Enabled = on
	writeStatus(w, st)
}

// bumpRevision raises the auth revision by one (etcd's commitRevision).
// st must be the status as Apply read it: each request changes it at most
// once.
func bumpRevision(w Writer, st Status) {
	st.Revision++
	writeStatus(w, st)
}

// GetUser returns the named user, or nil if there is none.
func GetUser(r Reader, name string) (*authpb.User, error) {
	b, err := r.Auth(recUser + name)
	if err != nil || b == nil {
		return nil, err
	}
	u := &authpb.User{}
	if err := proto.Unmarshal(b, u); err != nil {
		return nil, fmt.Errorf("auth: decode user: %w", err)
	}
	return u, nil
}

// GetRole returns the named role, or nil if there is none.
func GetRole(r Reader, name string) (*authpb.Role, error) {
	b, err := r.Auth(recRole + name)
	if err != nil || b == nil {
		return nil, err
	}
	role := &authpb.Role{}
	if err := proto.Unmarshal(b, role); err != nil {
		return nil, fmt.Errorf("auth: decode role: %w", err)
	}
	return role, nil
}

// Users returns every user, in name order.
func Users(r Reader) ([]*authpb.User, error) {
	var out []*authpb.User
	err := r.AuthPrefix(recUser, func(_ string, v []byte) error {
		u := &authpb.User{}
		if err := proto.Unmarshal(v, u); err != nil {
			return fmt.Errorf("auth: decode user: %w", err)
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

// RoleNames returns the names of every role, in order.
func RoleNames(r Reader) ([]string, error) {
	var out []string
	err := r.AuthPrefix(recRole, func(name string, _ []byte) error {
		out = append(out, name[len(recRole):])
		return nil
	})
	return out, err
}

func putUser(w Writer, u *authpb.User) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(u)
	if err != nil {
		return err
	}
	w.PutAuth(recUser+string(u.Name), b)
	return nil
}

func putRole(w Writer, r *authpb.Role) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return err
	}
	w.PutAuth(recRole+string(r.Name), b)
	return nil
}

// HasRootRole reports whether u holds the root role (u.Roles is sorted).
func HasRootRole(u *authpb.User) bool {
	_, found := slices.BinarySearch(u.GetRoles(), RootRole)
	return found
}
