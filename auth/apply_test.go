package auth

import (
	"sort"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/storage/mvcc"
)

// memStore is a Writer in memory.
type memStore map[string][]byte

func (m memStore) Auth(name string) ([]byte, error) { return m[name], nil }
func (m memStore) PutAuth(name string, v []byte)    { m[name] = append([]byte(nil), v...) }
func (m memStore) DeleteAuth(name string)           { delete(m, name) }
func (m memStore) AuthPrefix(prefix string, fn func(string, []byte) error) error {
	var names []string
	for n := range m {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if err := fn(n, m[n]); err != nil {
			return err
		}
	}
	return nil
}

func TestApplyFollowsEtcdsRules(t *testing.T) {
	m := memStore{}
	hash, err := Hash("pw", 4)
	if err != nil {
		t.Fatal(err)
	}
	step := func(r *pb.InternalRaftRequest, want error) Status {
		t.Helper()
		before, _ := ReadStatus(m)
		if err := Apply(m, r); err != want {
			t.Fatalf("apply %v: got %v, want %v", r, err, want)
		}
		after, _ := ReadStatus(m)
		if want != nil && after != before {
			t.Fatalf("a refused request changed the status: %+v to %+v", before, after)
		}
		return after
	}
	step(&pb.InternalRaftRequest{AuthEnable: &pb.AuthEnableRequest{}}, ErrRootUserNotExist)
	st := step(&pb.InternalRaftRequest{AuthUserAdd: &pb.AuthUserAddRequest{Name: "root", HashedPassword: hash}}, nil)
	if st.Revision != 2 {
		t.Fatalf("revision %d after one change, want 2 (a fresh store is at 1, as etcd's)", st.Revision)
	}
	step(&pb.InternalRaftRequest{AuthUserAdd: &pb.AuthUserAddRequest{Name: "x", Password: "plain"}}, ErrNoPasswordUser)
	step(&pb.InternalRaftRequest{AuthEnable: &pb.AuthEnableRequest{}}, ErrRootRoleNotExist)
	// Root may get the root role before it exists, as in etcd.
	step(&pb.InternalRaftRequest{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: "root", Role: "root"}}, nil)
	st = step(&pb.InternalRaftRequest{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: "root", Role: "root"}}, nil)
	if st.Revision != 3 {
		t.Fatalf("a repeated grant raised the revision to %d", st.Revision)
	}
	st = step(&pb.InternalRaftRequest{AuthEnable: &pb.AuthEnableRequest{}}, nil)
	if !st.Enabled || st.Revision != 3 {
		t.Fatalf("after enable: %+v", st)
	}
	step(&pb.InternalRaftRequest{AuthUserDelete: &pb.AuthUserDeleteRequest{Name: "root"}}, ErrInvalidAuthMgmt)
	step(&pb.InternalRaftRequest{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: "r"}}, nil)
	step(&pb.InternalRaftRequest{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: "r"}}, ErrRoleAlreadyExist)
	step(&pb.InternalRaftRequest{AuthRoleGrantPermission: &pb.AuthRoleGrantPermissionRequest{Name: "r",
		Perm: &authpb.Permission{Key: []byte("b"), RangeEnd: []byte("a")}}}, ErrInvalidAuthMgmt)
	step(&pb.InternalRaftRequest{AuthRoleGrantPermission: &pb.AuthRoleGrantPermissionRequest{Name: "r",
		Perm: &authpb.Permission{Key: []byte("k"), PermType: authpb.Permission_READ}}}, nil)
	step(&pb.InternalRaftRequest{AuthRoleGrantPermission: &pb.AuthRoleGrantPermissionRequest{Name: "r",
		Perm: &authpb.Permission{Key: []byte("k"), PermType: authpb.Permission_WRITE}}}, nil)
	role, _ := GetRole(m, "r")
	if len(role.KeyPermission) != 1 || role.KeyPermission[0].PermType != authpb.Permission_WRITE {
		t.Fatalf("a grant on the same key did not update it: %v", role.KeyPermission)
	}
	step(&pb.InternalRaftRequest{AuthUserAdd: &pb.AuthUserAddRequest{Name: "u", HashedPassword: hash}}, nil)
	step(&pb.InternalRaftRequest{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: "u", Role: "r"}}, nil)
	step(&pb.InternalRaftRequest{AuthRoleDelete: &pb.AuthRoleDeleteRequest{Role: "r"}}, nil)
	if u, _ := GetUser(m, "u"); len(u.Roles) != 0 {
		t.Fatalf("a deleted role is still granted: %v", u.Roles)
	}
	step(&pb.InternalRaftRequest{AuthUserRevokeRole: &pb.AuthUserRevokeRoleRequest{Name: "u", Role: "r"}}, ErrRoleNotGranted)
	step(&pb.InternalRaftRequest{AuthRoleRevokePermission: &pb.AuthRoleRevokePermissionRequest{Role: "r"}}, ErrRoleNotFound)
	u, _ := GetUser(m, "root")
	if err := CheckPassword(u.Password, "pw"); err != nil {
		t.Fatalf("stored hash does not check: %v", err)
	}
	if strings.Contains(string(u.Password), "pw") || CheckPassword(u.Password, "px") == nil {
		t.Fatal("the stored password is not a bcrypt hash")
	}
	st = step(&pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}}, nil)
	if st.Enabled {
		t.Fatal("still enabled")
	}
}

// The store keeps the status record in memory by its name (mvcc's
// AuthStatusRecord): the two names must be one.
func TestStatusRecordIsTheOneTheStoreCaches(t *testing.T) {
	if recStatus != mvcc.AuthStatusRecord {
		t.Fatalf("auth's status record %q, mvcc caches %q", recStatus, mvcc.AuthStatusRecord)
	}
}
