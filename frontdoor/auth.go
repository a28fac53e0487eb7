package frontdoor

import (
	"context"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// authServer is etcd's Auth service. Changes go through raft (apply decides
// who may make them, package auth); questions are linearizable reads of the
// auth records, checked here against the view they are answered from.
// Passwords are hashed here, on the member that receives them, and never
// reach the raft log, a log line or a span in the clear.
type authServer struct {
	pb.UnimplementedAuthServer
	s *Server
}

// change proposes an auth change and returns the header of its answer.
func (a *authServer) change(ctx context.Context, r *pb.InternalRaftRequest) (*pb.ResponseHeader, error) {
	if _, err := a.s.proposeAs(ctx, r); err != nil {
		return nil, grpcError(err)
	}
	return a.s.header(0), nil
}

// ask answers an auth question from a linearizable view, for a sender
// allowed by allowed (nil: only root, as etcd's IsAdminPermitted).
func (a *authServer) ask(ctx context.Context, allowed func(*auth.Checker) bool, fn func(v *mvcc.ReadView) error) (*pb.ResponseHeader, error) {
	ai, err := a.s.authInfo(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	var rev int64
	err = a.s.read(ctx, false, func(v *mvcc.ReadView) error {
		err := authorize(v, ai, func(c *auth.Checker) error {
			if err := c.Admin(); err != nil && (allowed == nil || !allowed(c)) {
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		rev = v.Rev()
		return fn(v)
	})
	if err != nil {
		return nil, grpcError(err)
	}
	return a.s.header(rev), nil
}

func (a *authServer) AuthEnable(ctx context.Context, _ *pb.AuthEnableRequest) (*pb.AuthEnableResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthEnable: &pb.AuthEnableRequest{}})
	if err != nil {
		return nil, err
	}
	return &pb.AuthEnableResponse{Header: h}, nil
}

func (a *authServer) AuthDisable(ctx context.Context, _ *pb.AuthDisableRequest) (*pb.AuthDisableResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}})
	if err != nil {
		return nil, err
	}
	return &pb.AuthDisableResponse{Header: h}, nil
}

// AuthStatus answers anyone, as etcd does.
func (a *authServer) AuthStatus(ctx context.Context, _ *pb.AuthStatusRequest) (*pb.AuthStatusResponse, error) {
	var st auth.Status
	err := a.s.read(ctx, false, func(v *mvcc.ReadView) (err error) {
		st, err = auth.ReadStatus(v)
		return err
	})
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.AuthStatusResponse{Header: a.s.header(0), Enabled: st.Enabled, AuthRevision: st.Revision}, nil
}

// Authenticate checks the password against a linearizable view, as etcd
// does on the member that receives the request. A JWT is then signed here,
// good on every member with the key. A simple token is proposed, as etcd
// proposes it, but as the hash of its secret (cairnpb.AssignToken; no
// password, no token): every member holds it once it applies the entry,
// whose index numbers the token. If the auth state changed between the
// check and the entry (a password may have changed), apply refuses it and
// the password is checked again, as etcd's server retries.
func (a *authServer) Authenticate(ctx context.Context, r *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	for {
		st, err := a.checkPassword(ctx, r)
		if err != nil {
			return nil, grpcError(err)
		}
		if a.s.simple == nil {
			tok, err := a.s.tokens.Issue(auth.Info{User: r.GetName(), Revision: st.Revision})
			if err != nil {
				return nil, grpcError(err)
			}
			return &pb.AuthenticateResponse{Header: a.s.header(0), Token: tok}, nil
		}
		secret := auth.NewSecret()
		hash := auth.HashSecret(secret)
		res, err := a.s.proposeProposal(ctx, &cairnpb.Proposal{AssignToken: &cairnpb.AssignToken{
			User: r.GetName(), Hash: hash[:], AuthRevision: st.Revision,
		}})
		if err != nil && grpcError(err) == rpctypes.ErrGRPCAuthOldRevision {
			a.s.cfg.Logger.Info("revision when password checked became stale; retrying", "user-name", r.GetName())
			continue
		}
		if err != nil {
			return nil, grpcError(err)
		}
		return &pb.AuthenticateResponse{Header: a.s.header(0), Token: auth.TokenOf(secret, res.GetIndex())}, nil
	}
}

// checkPassword checks r's password against a linearizable view and
// returns the auth state it was checked against.
func (a *authServer) checkPassword(ctx context.Context, r *pb.AuthenticateRequest) (auth.Status, error) {
	var (
		st   auth.Status
		hash []byte
	)
	err := a.s.read(ctx, false, func(v *mvcc.ReadView) error {
		var err error
		if st, err = auth.ReadStatus(v); err != nil {
			return err
		}
		if !st.Enabled {
			return auth.ErrAuthNotEnabled
		}
		u, err := auth.GetUser(v, r.GetName())
		switch {
		case err != nil:
			return err
		case u == nil, u.GetOptions().GetNoPassword():
			return auth.ErrAuthFailed
		}
		hash = u.GetPassword()
		return nil
	})
	if err != nil {
		return st, err
	}
	// bcrypt's tens of milliseconds outside the shared view.
	if err := auth.CheckPassword(hash, r.GetPassword()); err != nil {
		a.s.cfg.Logger.Info("authentication failed", "user-name", r.GetName())
		return st, err
	}
	return st, nil
}

func (a *authServer) UserAdd(ctx context.Context, r *pb.AuthUserAddRequest) (*pb.AuthUserAddResponse, error) {
	req := &pb.AuthUserAddRequest{Name: r.GetName(), Options: r.GetOptions()}
	if !r.GetOptions().GetNoPassword() {
		hash, err := auth.Hash(r.GetPassword(), a.s.cfg.BcryptCost)
		if err != nil {
			return nil, grpcError(err)
		}
		req.HashedPassword = hash
	}
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthUserAdd: req})
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserAddResponse{Header: h}, nil
}

func (a *authServer) UserGet(ctx context.Context, r *pb.AuthUserGetRequest) (*pb.AuthUserGetResponse, error) {
	resp := &pb.AuthUserGetResponse{}
	self := func(c *auth.Checker) bool { return c.Self(r.GetName(), "") }
	h, err := a.ask(ctx, self, func(v *mvcc.ReadView) error {
		u, err := auth.GetUser(v, r.GetName())
		if err != nil {
			return err
		}
		if u == nil {
			return auth.ErrUserNotFound
		}
		resp.Roles = u.GetRoles()
		return nil
	})
	if err != nil {
		return nil, err
	}
	resp.Header = h
	return resp, nil
}

func (a *authServer) UserList(ctx context.Context, _ *pb.AuthUserListRequest) (*pb.AuthUserListResponse, error) {
	resp := &pb.AuthUserListResponse{Users: []string{}}
	h, err := a.ask(ctx, nil, func(v *mvcc.ReadView) error {
		users, err := auth.Users(v)
		for _, u := range users {
			resp.Users = append(resp.Users, string(u.GetName()))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	resp.Header = h
	return resp, nil
}

func (a *authServer) UserDelete(ctx context.Context, r *pb.AuthUserDeleteRequest) (*pb.AuthUserDeleteResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthUserDelete: &pb.AuthUserDeleteRequest{Name: r.GetName()}})
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserDeleteResponse{Header: h}, nil
}

func (a *authServer) UserChangePassword(ctx context.Context, r *pb.AuthUserChangePasswordRequest) (*pb.AuthUserChangePasswordResponse, error) {
	hash, err := auth.Hash(r.GetPassword(), a.s.cfg.BcryptCost)
	if err != nil {
		return nil, grpcError(err)
	}
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthUserChangePassword: &pb.AuthUserChangePasswordRequest{
		Name: r.GetName(), HashedPassword: hash,
	}})
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserChangePasswordResponse{Header: h}, nil
}

func (a *authServer) UserGrantRole(ctx context.Context, r *pb.AuthUserGrantRoleRequest) (*pb.AuthUserGrantRoleResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthUserGrantRole: r})
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserGrantRoleResponse{Header: h}, nil
}

func (a *authServer) UserRevokeRole(ctx context.Context, r *pb.AuthUserRevokeRoleRequest) (*pb.AuthUserRevokeRoleResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthUserRevokeRole: r})
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserRevokeRoleResponse{Header: h}, nil
}

func (a *authServer) RoleAdd(ctx context.Context, r *pb.AuthRoleAddRequest) (*pb.AuthRoleAddResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthRoleAdd: r})
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleAddResponse{Header: h}, nil
}

// rootPerm is what etcd shows as the root role's permission: read and
// write on every key.
var rootPerm = &authpb.Permission{PermType: authpb.Permission_READWRITE, Key: []byte{}, RangeEnd: []byte{0}}

func (a *authServer) RoleGet(ctx context.Context, r *pb.AuthRoleGetRequest) (*pb.AuthRoleGetResponse, error) {
	resp := &pb.AuthRoleGetResponse{}
	held := func(c *auth.Checker) bool { return c.Self("", r.GetRole()) }
	h, err := a.ask(ctx, held, func(v *mvcc.ReadView) error {
		role, err := auth.GetRole(v, r.GetRole())
		switch {
		case err != nil:
			return err
		case role == nil:
			return auth.ErrRoleNotFound
		case string(role.GetName()) == auth.RootRole:
			resp.Perm = []*authpb.Permission{rootPerm}
		default:
			resp.Perm = role.GetKeyPermission()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	resp.Header = h
	return resp, nil
}

func (a *authServer) RoleList(ctx context.Context, _ *pb.AuthRoleListRequest) (*pb.AuthRoleListResponse, error) {
	resp := &pb.AuthRoleListResponse{Roles: []string{}}
	h, err := a.ask(ctx, nil, func(v *mvcc.ReadView) (err error) {
		names, err := auth.RoleNames(v)
		resp.Roles = append(resp.Roles, names...)
		return err
	})
	if err != nil {
		return nil, err
	}
	resp.Header = h
	return resp, nil
}

func (a *authServer) RoleDelete(ctx context.Context, r *pb.AuthRoleDeleteRequest) (*pb.AuthRoleDeleteResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthRoleDelete: r})
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleDeleteResponse{Header: h}, nil
}

func (a *authServer) RoleGrantPermission(ctx context.Context, r *pb.AuthRoleGrantPermissionRequest) (*pb.AuthRoleGrantPermissionResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthRoleGrantPermission: r})
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleGrantPermissionResponse{Header: h}, nil
}

func (a *authServer) RoleRevokePermission(ctx context.Context, r *pb.AuthRoleRevokePermissionRequest) (*pb.AuthRoleRevokePermissionResponse, error) {
	h, err := a.change(ctx, &pb.InternalRaftRequest{AuthRoleRevokePermission: r})
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleRevokePermissionResponse{Header: h}, nil
}
