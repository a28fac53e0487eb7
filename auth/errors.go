package auth

import "errors"

// The errors of etcd's auth store; the front door maps each to etcd's
// rpctypes error of the same meaning.
var (
	ErrRootUserNotExist     = errors.New("auth: root user does not exist")
	ErrRootRoleNotExist     = errors.New("auth: root user does not have root role")
	ErrUserAlreadyExist     = errors.New("auth: user already exists")
	ErrUserEmpty            = errors.New("auth: user name is empty")
	ErrUserNotFound         = errors.New("auth: user not found")
	ErrRoleAlreadyExist     = errors.New("auth: role already exists")
	ErrRoleNotFound         = errors.New("auth: role not found")
	ErrRoleEmpty            = errors.New("auth: role name is empty")
	ErrPermissionNotGiven   = errors.New("auth: permission not given")
	ErrAuthFailed           = errors.New("auth: authentication failed, invalid user ID or password")
	ErrNoPasswordUser       = errors.New("auth: authentication failed, password was given for no password user")
	ErrPermissionDenied     = errors.New("auth: permission denied")
	ErrRoleNotGranted       = errors.New("auth: role is not granted to the user")
	ErrPermissionNotGranted = errors.New("auth: permission is not granted to the role")
	ErrAuthNotEnabled       = errors.New("auth: authentication is not enabled")
	ErrAuthOldRevision      = errors.New("auth: revision in header is old")
	ErrInvalidAuthToken     = errors.New("auth: invalid auth token")
	ErrInvalidAuthMgmt      = errors.New("auth: invalid auth management")
)

// All lists every error above, in a fixed order: apply reports them to the
// front door by their place in it (ErrorCode).
var All = []error{
	ErrRootUserNotExist, ErrRootRoleNotExist, ErrUserAlreadyExist, ErrUserEmpty,
	ErrUserNotFound, ErrRoleAlreadyExist, ErrRoleNotFound, ErrRoleEmpty,
	ErrPermissionNotGiven, ErrAuthFailed, ErrNoPasswordUser, ErrPermissionDenied,
	ErrRoleNotGranted, ErrPermissionNotGranted, ErrAuthNotEnabled, ErrAuthOldRevision,
	ErrInvalidAuthToken, ErrInvalidAuthMgmt,
}
