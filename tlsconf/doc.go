// Package tlsconf builds the TLS configurations a member serves and dials
// with, from what etcd's TLS flags name: a certificate and key, a CA that
// client certificates must chain to, a CRL, TLS versions and cipher suites,
// a self-signed certificate generated on demand (--auto-tls), and checks of
// a peer certificate's common name or host name.
//
// Files are read again when they change on disk (their size or modification
// time), at the next handshake: certificates rotated by an operator or a tool
// such as cert-manager are picked up without a restart, as etcd does. A file
// that cannot be read or parsed at a handshake fails that handshake, and the
// previous contents are not used: a member never serves with a certificate
// its operator meant to replace, and a broken rotation is seen at once.
//
// Invariants:
//
//  1. A Config that validates never yields a plaintext connection: Server
//     and Client fail rather than fall back.
//  2. Each handshake sees one consistent set of files: the certificate,
//     key, CA and CRL read together, under one lock.
package tlsconf
