package main

import (
	"context"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/cairnkv/cairn/cairntest"
)

// TestClientCertificateCommonNameIsTheUser: with --client-cert-auth and
// auth on, a request without a token is made as the user its verified
// client certificate names, as in etcd.
func TestClientCertificateCommonNameIsTheUser(t *testing.T) {
	t.Parallel()
	ca := cairntest.NewCA(t, "clients")
	srv := ca.Issue("server", "127.0.0.1", "localhost")
	rootCert, aliceCert, bobCert := ca.Issue("root"), ca.Issue("alice"), ca.Issue("bob")
	m := startTLSMember(t, ca, srv, rootCert, "--trusted-ca-file", ca.CertFile, "--client-cert-auth",
		"--bcrypt-cost", "4")
	ctx := cairntest.Ctx(t)
	root := tlsClient(t, m.Endpoint, ca, &rootCert)
	for _, step := range []func() error{
		func() error { _, err := root.UserAdd(ctx, "root", "pw"); return err },
		func() error { _, err := root.RoleAdd(ctx, "root"); return err },
		func() error { _, err := root.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := root.UserAdd(ctx, "alice", "pw"); return err },
		func() error { _, err := root.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := root.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put as root by certificate: %v", err)
	}
	if _, err := root.UserList(ctx); err != nil {
		t.Fatalf("user list as root by certificate: %v", err)
	}
	for name, cert := range map[string]*cairntest.Issued{"alice (no role)": &aliceCert, "bob (no user)": &bobCert} {
		c := tlsClient(t, m.Endpoint, ca, cert)
		_, err := c.Get(context.Background(), "k")
		if err == nil || rpctypes.ErrorDesc(err) != rpctypes.ErrorDesc(rpctypes.ErrGRPCPermissionDenied) {
			t.Errorf("get as %s: %v, want permission denied", name, err)
		}
	}
}
