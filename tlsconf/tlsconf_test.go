package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/tlsconf"
)

// handshake serves one connection with server's configuration on
// 127.0.0.1 and dials it with client's, and returns the serial number of
// the certificate the client saw, or the first error of either side.
func handshake(t *testing.T, server, client *tls.Config) (string, error) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		served <- c.(*tls.Conn).Handshake()
	}()
	client = client.Clone()
	client.ServerName = "127.0.0.1"
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", l.Addr().String(), client)
	var serial string
	if err == nil {
		// TLS 1.3 reports a refused client certificate only on the first
		// read; the server's side says it at once.
		serial = c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		c.Close()
	}
	if serr := <-served; serr != nil {
		return "", serr
	}
	return serial, err
}

func source(t *testing.T, info tlsconf.Info) *tlsconf.Source {
	t.Helper()
	s, err := tlsconf.New(info)
	if err != nil {
		t.Fatalf("tlsconf.New: %v", err)
	}
	return s
}

func TestMutualTLS(t *testing.T) {
	ca, other := cairntest.NewCA(t, "cluster"), cairntest.NewCA(t, "other")
	srv := ca.Issue("server", "127.0.0.1")
	cli := ca.Issue("m2", "127.0.0.1")
	stranger := other.Issue("m2", "127.0.0.1")
	server := source(t, tlsconf.Info{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true})

	client := source(t, tlsconf.Info{CertFile: cli.CertFile, KeyFile: cli.KeyFile, TrustedCAFile: ca.CertFile})
	serial, err := handshake(t, server.ServerConfig(), client.ClientConfig())
	if err != nil || serial != srv.Serial.String() {
		t.Fatalf("a client of the same CA: serial %s, %v; want %s", serial, err, srv.Serial)
	}

	strange := source(t, tlsconf.Info{CertFile: stranger.CertFile, KeyFile: stranger.KeyFile, TrustedCAFile: ca.CertFile})
	if _, err := handshake(t, server.ServerConfig(), strange.ClientConfig()); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	if _, err := handshake(t, server.ServerConfig(), &tls.Config{RootCAs: ca.Pool()}); err == nil {
		t.Error("a client without a certificate was accepted")
	}
	// And the client refuses a server its CA did not sign.
	wrongServer := source(t, tlsconf.Info{CertFile: stranger.CertFile, KeyFile: stranger.KeyFile})
	if _, err := handshake(t, wrongServer.ServerConfig(), client.ClientConfig()); err == nil {
		t.Error("the client accepted a server certificate of another CA")
	}
}

func TestRevokedAndDisallowedCertificatesAreRefused(t *testing.T) {
	ca := cairntest.NewCA(t, "cluster")
	srv := ca.Issue("server", "127.0.0.1")
	good, revoked := ca.Issue("m2", "127.0.0.1"), ca.Issue("m3", "127.0.0.1")
	crl := ca.WriteCRL(revoked.Serial)
	server := source(t, tlsconf.Info{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TrustedCAFile: ca.CertFile, CRLFile: crl})
	dial := func(i cairntest.Issued) error {
		c := source(t, tlsconf.Info{CertFile: i.CertFile, KeyFile: i.KeyFile, TrustedCAFile: ca.CertFile})
		_, err := handshake(t, server.ServerConfig(), c.ClientConfig())
		return err
	}
	if err := dial(good); err != nil {
		t.Fatalf("a certificate not revoked: %v", err)
	}
	if err := dial(revoked); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("a revoked certificate: %v, want refused as revoked", err)
	}

	byCN := source(t, tlsconf.Info{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TrustedCAFile: ca.CertFile, AllowedCN: "m3"})
	c := source(t, tlsconf.Info{CertFile: good.CertFile, KeyFile: good.KeyFile, TrustedCAFile: ca.CertFile})
	if _, err := handshake(t, byCN.ServerConfig(), c.ClientConfig()); err == nil || !strings.Contains(err.Error(), "common name") {
		t.Errorf("common name m2 where m3 is allowed: %v, want refused", err)
	}
	byHost := source(t, tlsconf.Info{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TrustedCAFile: ca.CertFile, AllowedHostname: "peer.example"})
	if _, err := handshake(t, byHost.ServerConfig(), c.ClientConfig()); err == nil || !strings.Contains(err.Error(), "host name") {
		t.Errorf("a certificate for 127.0.0.1 where peer.example is allowed: %v, want refused", err)
	}
}

func TestRotatedCertificatesArePickedUp(t *testing.T) {
	ca := cairntest.NewCA(t, "cluster")
	first, second := ca.Issue("server", "127.0.0.1"), ca.Issue("server", "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	install := func(i cairntest.Issued) {
		copyFile(t, i.CertFile, certFile)
		copyFile(t, i.KeyFile, keyFile)
	}
	install(first)
	server := source(t, tlsconf.Info{CertFile: certFile, KeyFile: keyFile})
	client := &tls.Config{RootCAs: ca.Pool()}
	if serial, err := handshake(t, server.ServerConfig(), client); err != nil || serial != first.Serial.String() {
		t.Fatalf("before rotation: serial %s, %v; want %s", serial, err, first.Serial)
	}
	install(second)
	// A rewritten file of the same size may keep its modification time
	// within the filesystem's granularity: move the time on.
	later := time.Now().Add(time.Second)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if serial, err := handshake(t, server.ServerConfig(), client); err != nil || serial != second.Serial.String() {
		t.Fatalf("after rotation: serial %s, %v; want %s", serial, err, second.Serial)
	}
	// A broken rotation fails handshakes instead of serving the old one.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, server.ServerConfig(), client); err == nil {
		t.Error("a handshake succeeded with an unreadable certificate file")
	}
}

func TestAutoTLSKeepsItsCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fixtures", "peer")
	info := tlsconf.Info{AutoTLS: true, AutoDir: dir, AutoHosts: []string{"127.0.0.1", "localhost"}}
	a := source(t, info)
	serial, err := handshake(t, a.ServerConfig(), a.ClientConfig())
	if err != nil {
		t.Fatalf("auto-tls handshake: %v", err)
	}
	b := source(t, info) // a restart
	again, err := handshake(t, b.ServerConfig(), b.ClientConfig())
	if err != nil || again != serial {
		t.Errorf("after a restart: serial %s, %v; want the same %s", again, err, serial)
	}
}

func TestValidateNamesTheMistake(t *testing.T) {
	for _, tc := range []struct {
		info tlsconf.Info
		want string
	}{
		{tlsconf.Info{CertFile: "c.pem"}, "together"},
		{tlsconf.Info{TrustedCAFile: "ca.pem"}, "certificate is required"},
		{tlsconf.Info{CertFile: "c", KeyFile: "k", MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12}, "tls-min-version"},
		{tlsconf.Info{CertFile: "c", KeyFile: "k", MinVersion: tls.VersionTLS13, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}, "cipher-suites"},
	} {
		if err := tc.info.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error about %q", tc.info, err, tc.want)
		}
	}
	if _, err := tlsconf.New(tlsconf.Info{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New with missing files = %v, want a not-exist error at start", err)
	}
	if v, err := tlsconf.ParseVersion("TLS1.3"); err != nil || v != tls.VersionTLS13 {
		t.Errorf("ParseVersion(TLS1.3) = %v, %v", v, err)
	}
	if _, err := tlsconf.ParseVersion("SSL3"); err == nil {
		t.Error("ParseVersion(SSL3) succeeded")
	}
	if cs, err := tlsconf.ParseCipherSuites("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"); err != nil || len(cs) != 2 {
		t.Errorf("ParseCipherSuites = %v, %v", cs, err)
	}
	if _, err := tlsconf.ParseCipherSuites("TLS_RSA_WITH_RC4_128_SHA"); err == nil {
		t.Error("an insecure cipher suite was accepted")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
