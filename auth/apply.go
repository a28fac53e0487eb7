package auth

import (
	"bytes"
	"encoding/base64"
	"slices"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// IsAuthRequest reports whether r is one of the auth requests Apply applies.
func IsAuthRequest(r *pb.InternalRaftRequest) bool {
	return r.AuthEnable != nil || r.AuthDisable != nil || r.AuthUserAdd != nil ||
		r.AuthUserDelete != nil || r.AuthUserChangePassword != nil || r.AuthUserGrantRole != nil ||
		r.AuthUserRevokeRole != nil || r.AuthRoleAdd != nil || r.AuthRoleDelete != nil ||
		r.AuthRoleGrantPermission != nil || r.AuthRoleRevokePermission != nil
}

// Apply applies one auth request (IsAuthRequest) to w, as etcd's auth store
// does. An error from the list in errors.go is the client's and changed
// nothing; any other is the store's.
func Apply(w Writer, r *pb.InternalRaftRequest) error {
	st, err := ReadStatus(w)
	if err != nil {
		return err
	}
	switch {
	case r.AuthEnable != nil:
		return enable(w, st)
	case r.AuthDisable != nil:
		if st.Enabled {
			st.Enabled = false
			bumpRevision(w, st)
		}
		return nil
	case r.AuthUserAdd != nil:
		return userAdd(w, st, r.AuthUserAdd)
	case r.AuthUserDelete != nil:
		return userDelete(w, st, r.AuthUserDelete.Name)
	case r.AuthUserChangePassword != nil:
		return changePassword(w, st, r.AuthUserChangePassword)
	case r.AuthUserGrantRole != nil:
		return grantRole(w, st, r.AuthUserGrantRole.User, r.AuthUserGrantRole.Role)
	case r.AuthUserRevokeRole != nil:
		return revokeRole(w, st, r.AuthUserRevokeRole.Name, r.AuthUserRevokeRole.Role)
	case r.AuthRoleAdd != nil:
		return roleAdd(w, st, r.AuthRoleAdd.Name)
	case r.AuthRoleDelete != nil:
		return roleDelete(w, st, r.AuthRoleDelete.Role)
	case r.AuthRoleGrantPermission != nil:
		return grantPermission(w, st, r.AuthRoleGrantPermission)
	case r.AuthRoleRevokePermission != nil:
		return revokePermission(w, st, r.AuthRoleRevokePermission)
	}
	return nil
}

func enable(w Writer, st Status) error {
	if st.Enabled {
		return nil // as etcd: ignored
	}
	u, err := GetUser(w, RootUser)
	switch {
	case err != nil:
		return err
	case u == nil:
		return ErrRootUserNotExist
	case !HasRootRole(u):
		return ErrRootRoleNotExist
	}
	// As etcd: enabling keeps the revision, so tokens issued before stay
	// good (there are none: Authenticate needs auth on).
	writeEnabled(w, st, true)
	return nil
}

// hashOf decodes the bcrypt hash the receiving member put in a request
// (etcd's HashedPassword, base64). A request with a plain password only
// (an etcd older than 3.5 would send one) is refused: hashing here would
// make apply depend on bcrypt's random salt.
func hashOf(plain, hashed string) ([]byte, error) {
	if hashed == "" && plain != "" {
		return nil, ErrNoPasswordUser
	}
	h, err := base64.StdEncoding.DecodeString(hashed)
	if err != nil {
		return nil, ErrNoPasswordUser
	}
	return h, nil
}

func userAdd(w Writer, st Status, r *pb.AuthUserAddRequest) error {
	if r.Name == "" {
		return ErrUserEmpty
	}
	old, err := GetUser(w, r.Name)
	if err != nil {
		return err
	}
	if old != nil {
		return ErrUserAlreadyExist
	}
	opts := r.Options
	if opts == nil {
		opts = &authpb.UserAddOptions{}
	}
	u := &authpb.User{Name: []byte(r.Name), Options: opts}
	if !opts.NoPassword {
		if u.Password, err = hashOf(r.Password, r.HashedPassword); err != nil {
			return err
		}
	}
	if err := putUser(w, u); err != nil {
		return err
	}
	bumpRevision(w, st)
	return nil
}

func userDelete(w Writer, st Status, name string) error {
	if st.Enabled && name == RootUser {
		return ErrInvalidAuthMgmt
	}
	u, err := GetUser(w, name)
	if err != nil {
		return err
	}
	if u == nil {
		return ErrUserNotFound
	}
	w.DeleteAuth(recUser + name)
	bumpRevision(w, st)
	return nil
}

func changePassword(w Writer, st Status, r *pb.AuthUserChangePasswordRequest) error {
	u, err := GetUser(w, r.Name)
	if err != nil {
		return err
	}
	if u == nil {
		return ErrUserNotFound
	}
	if u.Options == nil || !u.Options.NoPassword {
		if u.Password, err = hashOf(r.Password, r.HashedPassword); err != nil {
			return err
		}
	} else {
		u.Password = nil
	}
	if err := putUser(w, u); err != nil {
		return err
	}
	bumpRevision(w, st)
	return nil
}

func grantRole(w Writer, st Status, user, role string) error {
	u, err := GetUser(w, user)
	if err != nil {
		return err
	}
	if u == nil {
		return ErrUserNotFound
	}
	if role != RootRole {
		// As etcd: root may be granted before the root role exists.
		r, err := GetRole(w, role)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrRoleNotFound
		}
	}
	i, found := slices.BinarySearch(u.Roles, role)
	if found {
		return nil // as etcd: ignored, no new revision
	}
	u.Roles = slices.Insert(u.Roles, i, role)
	if err := putUser(w, u); err != nil {
		return err
	}
	bumpRevision(w, st)
	return nil
}

func revokeRole(w Writer, st Status, user, role string) error {
	if st.Enabled && user == RootUser && role == RootRole {
		return ErrInvalidAuthMgmt
	}
	u, err := GetUser(w, user)
	if err != nil {
		return err
	}
	if u == nil {
		return ErrUserNotFound
	}
	i, found := slices.BinarySearch(u.Roles, role)
	if !found {
		return ErrRoleNotGranted
	}
	u.Roles = slices.Delete(u.Roles, i, i+1)
	if err := putUser(w, u); err != nil {
		return err
	}
	bumpRevision(w, st)
	return nil
}

func roleAdd(w Writer, st Status, name string) error {
	if name == "" {
		return ErrRoleEmpty
	}
	old, err := GetRole(w, name)
	if err != nil {
		return err
	}
	if old != nil {
		return ErrRoleAlreadyExist
	}
	if err := putRole(w, &authpb.Role{Name: []byte(name)}); err != nil {
		return err
	}
	bumpRevision(w, st)
	return nil
}

func roleDelete(w Writer, st Status, name string) error {
	if st.Enabled && name == RootRole {
		return ErrInvalidAuthMgmt
	}
	old, err := GetRole(w, name)
	if err != nil {
		return err
	}
	if old == nil {
		return ErrRoleNotFound
	}
	w.DeleteAuth(recRole + name)
	users, err := Users(w)
	if err != nil {
		return err
	}
	for _, u := range users {
		if i, found := slices.BinarySearch(u.Roles, name); found {
			u.Roles = slices.Delete(u.Roles, i, i+1)
			if err := putUser(w, u); err != nil {
				return err
			}
		}
	}
	bumpRevision(w, st)
	return nil
}

func grantPermission(w Writer, st Status, r *pb.AuthRoleGrantPermissionRequest) error {
	if r.Perm == nil {
		return ErrPermissionNotGiven
	}
	if !validPermissionRange(r.Perm.Key, r.Perm.RangeEnd) {
		return ErrInvalidAuthMgmt
	}
	role, err := GetRole(w, r.Name)
	if err != nil {
		return err
	}
	if role == nil {
		return ErrRoleNotFound
	}
	perms := role.KeyPermission
	i, _ := slices.BinarySearchFunc(perms, r.Perm.Key, func(p *authpb.Permission, k []byte) int {
		return bytes.Compare(p.Key, k)
	})
	// etcd finds the first permission on the same key and updates it only
	// if its range end matches too.
	if i < len(perms) && bytes.Equal(perms[i].Key, r.Perm.Key) && bytes.Equal(perms[i].RangeEnd, r.Perm.RangeEnd) {
		perms[i].PermType = r.Perm.PermType
	} else {
		p := &authpb.Permission{Key: r.Perm.Key, RangeEnd: r.Perm.RangeEnd, PermType: r.Perm.PermType}
		perms = append(perms, p)
		slices.SortStableFunc(perms, func(a, b *authpb.Permission) int { return bytes.Compare(a.Key, b.Key) })
	}
	role.KeyPermission = perms
	if err := putRole(w, role); err != nil {
		return err
	}
	bumpRevision(w, st)
	return nil
}

// validPermissionRange is etcd's isValidPermissionRange: a key, a range
// with its end above its start, or a key to the end of the keyspace.
func validPermissionRange(key, end []byte) bool {
	if len(key) == 0 {
		return false
	}
	if len(end) == 0 || (len(end) == 1 && end[0] == 0) {
		return true
	}
	return bytes.Compare(key, end) < 0
}

func revokePermission(w Writer, st Status, r *pb.AuthRoleRevokePermissionRequest) error {
	role, err := GetRole(w, r.Role)
	if err != nil {
		return err
	}
	if role == nil {
		return ErrRoleNotFound
	}
	n := len(role.KeyPermission)
	role.KeyPermission = slices.DeleteFunc(role.KeyPermission, func(p *authpb.Permission) bool {
		return bytes.Equal(p.Key, r.Key) && bytes.Equal(p.RangeEnd, r.RangeEnd)
	})
	if len(role.KeyPermission) == n {
		return ErrPermissionNotGranted
	}
	if err := putRole(w, role); err != nil {
		return err
	}
	bumpRevision(w, st)
	return nil
}

// CheckAssign decides, in apply, whether a simple token may be assigned to
// user, whose password the proposing member checked at auth revision rev
// (etcd's authStore.Authenticate, with the revision check etcd's server
// makes after it): auth must be on, the user must exist with a password,
// and the auth state must not have changed since the check, or the
// password checked may be one that changed since. Every member decides
// alike; a refusal assigns nothing anywhere.
func CheckAssign(r Reader, user string, rev uint64) error {
	st, err := ReadStatus(r)
	if err != nil {
		return err
	}
	if !st.Enabled {
		return ErrAuthNotEnabled
	}
	u, err := GetUser(r, user)
	switch {
	case err != nil:
		return err
	case u == nil, u.GetOptions().GetNoPassword():
		return ErrAuthFailed
	case st.Revision != rev:
		return ErrAuthOldRevision
	}
	return nil
}
