// Package auth is etcd's authentication and role-based access control as a
// deterministic part of Cairn's state machine, plus the member-local pieces
// around it (password hashes, simple tokens).
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
//     raises the auth revision by one (as etcd's commitRevision). A token
//     remembers the revision it was issued at; a request whose revision is
//     below the state's fails with ErrAuthOldRevision, and etcd's clients
//     then authenticate again.
//  3. A proposal from a client carries a RequestHeader with the user and the
//     token's revision (empty user without a token); Check, in apply, decides
//     its permission against the state as of its own place in the log.
//     Proposals of the member itself (lease expiry, member attributes) carry
//     no header and are not checked. Reads are checked by the front door
//     against the view they are served from (CheckRange, CheckTxn).
//  4. Passwords and tokens are never logged or traced, and no error text
//     carries one.
package auth
