// Package auth is etcd's authentication and role-based access control as a
// deterministic part of Cairn's state machine, plus the member-local pieces
// around it (password hashes, the simple tokens a member holds).
//
// The state (users, roles, the enabled flag and the auth revision) lives in
// the state machine's auth records (mvcc.Batch.PutAuth), changed only by the
// apply actor through Apply, with the auth requests of etcd's
// InternalRaftRequest (AuthEnable, AuthUserAdd, ...). Every member applies
// the same requests to the same state, so every member holds the same users
// and roles, and snapshots and backups carry them.
//
// Invariants:
//
//  1. Apply is deterministic: it never hashes a password (the member that
//     receives a request hashes it before proposing, Hash) and never reads
//     the clock; a request it refuses changes nothing on every member alike.
//  2. Every change of users, roles or the enabled flag, except enabling,
//     raises the auth revision by one (as etcd's commitRevision). A request
//     carries an auth revision: a JWT's, the one it was issued at; a simple
//     token's, the member's current one when the request arrives (as
//     etcd's). A request whose revision is below the state's when it is
//     checked fails with ErrAuthOldRevision, and etcd's clients then
//     authenticate again.
//  3. A proposal from a client carries a RequestHeader with the user and the
//     token's revision (empty user without a token); Check, in apply, decides
//     its permission against the state as of its own place in the log.
//     Proposals of the member itself (lease expiry, member attributes) carry
//     no header and are not checked. Reads are checked by the front door
//     against the view they are served from (CheckRange, CheckTxn).
//  4. Passwords and tokens are never logged or traced, and no error text
//     carries one.
//  5. Simple tokens are assigned through raft, as etcd assigns them, so a
//     token is good on every member: the member that receives an
//     Authenticate checks the password and proposes the SHA-256 of the
//     token's secret (cairnpb.AssignToken, no password); every member
//     decides alike whether to assign it (CheckAssign) and holds the hash in
//     memory (Tokens). Neither the raft log nor the state machine holds a
//     token. What drops tokens (a user's deletion or password change,
//     disabling auth) drops them on every member in the same place in the
//     log (Tokens.Applied); the TTL and the bound are each member's, as in
//     etcd. A restarted member holds none: etcd's clients authenticate
//     again on its "invalid auth token".
package auth
