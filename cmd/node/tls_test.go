package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn/cairntest"
)

// The tests in this file serve clients and peers over TLS, as issue 11 asks:
// client certificates accepted or refused, plaintext refused, a rotated
// certificate picked up without a restart, and a cluster on peer mutual TLS
// through a leader kill that a process without a certificate cannot reach.

// tlsMember is a member process serving clients on https://Endpoint.
type tlsMember struct {
	*cairntest.Process
	Endpoint string
}

// startTLSMember starts a single member serving TLS on its client URL with
// the server certificate srv and extra args, and waits until a client with
// the certificate cli is served.
func startTLSMember(t *testing.T, ca *cairntest.CA, srv, cli cairntest.Issued, args ...string) *tlsMember {
	t.Helper()
	endpoint := fmt.Sprintf("127.0.0.1:%d", cairntest.FreePort(t))
	p := cairntest.StartProcess(t, "cairn "+endpoint, cairntest.NodeBinary(t), append([]string{
		"--data-dir", t.TempDir(),
		"--listen-client-urls", "https://" + endpoint,
		"--advertise-client-urls", "https://" + endpoint,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", cairntest.FreePort(t)),
		"--cert-file", srv.CertFile, "--key-file", srv.KeyFile,
	}, args...)...)
	m := &tlsMember{Process: p, Endpoint: endpoint}
	c := tlsClient(t, endpoint, ca, &cli)
	deadline := time.Now().Add(cairntest.StartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Status(ctx, endpoint)
		cancel()
		if err == nil && st.Leader != 0 {
			return m
		}
		select {
		case <-p.Done():
			t.Fatalf("member exited: %v", p.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("member not serving TLS clients after %v: %v", cairntest.StartTimeout, err)
		}
	}
}

// tlsClient returns an etcd client of https://endpoint trusting ca, with
// the client certificate cert if not nil.
func tlsClient(t *testing.T, endpoint string, ca *cairntest.CA, cert *cairntest.Issued) *clientv3.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: ca.Pool()}
	if cert != nil {
		pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints: []string{"https://" + endpoint}, TLS: cfg, DialTimeout: 2 * time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientTLS(t *testing.T) {
	t.Parallel()
	ca, other := cairntest.NewCA(t, "clients"), cairntest.NewCA(t, "other")
	srv := ca.Issue("server", "127.0.0.1", "localhost")
	alice := ca.Issue("alice")
	metrics := fmt.Sprintf("127.0.0.1:%d", cairntest.FreePort(t))
	m := startTLSMember(t, ca, srv, alice, "--trusted-ca-file", ca.CertFile, "--client-cert-auth",
		"--listen-metrics-urls", "https://"+metrics)
	ctx := context.Background()

	// Metrics and health over the clients' TLS, to an HTTP/1.1 client as
	// curl and Prometheus are.
	pair, err := tls.LoadX509KeyPair(alice.CertFile, alice.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{pair}},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
	}}
	resp, err := hc.Get("https://" + metrics + "/health")
	if err != nil {
		t.Fatalf("GET /health over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Errorf("GET /health over TLS: %s %s", resp.Proto, resp.Status)
	}

	c := tlsClient(t, m.Endpoint, ca, &alice)
	if _, err := c.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put with a client certificate of the trusted CA: %v", err)
	}
	if r, err := c.Get(ctx, "k"); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("get: %v, %v", r, err)
	}

	refused := func(what string, c *clientv3.Client) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := c.Get(ctx, "k"); err == nil {
			t.Errorf("%s: served, want refused", what)
		}
	}
	refused("no client certificate", tlsClient(t, m.Endpoint, ca, nil))
	mallory := other.Issue("alice")
	refused("a client certificate of another CA", tlsClient(t, m.Endpoint, ca, &mallory))
	var plain *clientv3.Client
	plain, err = clientv3.New(clientv3.Config{Endpoints: []string{m.Endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	refused("plaintext to the TLS port", plain)

	// etcdctl, as users run it, when it is built.
	if etcdctl := cairntest.ModuleRoot(t) + "/tools/bin/etcdctl"; fileExists(etcdctl) {
		out, err := exec.Command(etcdctl, "--endpoints", "https://"+m.Endpoint, "--cacert", ca.CertFile,
			"--cert", alice.CertFile, "--key", alice.KeyFile, "get", "k", "--print-value-only").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "v" {
			t.Errorf("etcdctl get over TLS: %q, %v", out, err)
		}
		out, err = exec.Command(etcdctl, "--endpoints", "https://"+m.Endpoint, "--cacert", ca.CertFile,
			"--dial-timeout", "2s", "--command-timeout", "3s", "get", "k").CombinedOutput()
		if err == nil {
			t.Errorf("etcdctl without a client certificate: %q, want refused", out)
		}
	}
}

func TestClientCertificateRotation(t *testing.T) {
	t.Parallel()
	ca := cairntest.NewCA(t, "clients")
	first, second := ca.Issue("server", "127.0.0.1"), ca.Issue("server", "127.0.0.1")
	dir := t.TempDir()
	live := cairntest.Issued{CertFile: dir + "/server.pem", KeyFile: dir + "/server-key.pem"}
	install := func(i cairntest.Issued, at time.Time) {
		for from, to := range map[string]string{i.CertFile: live.CertFile, i.KeyFile: live.KeyFile} {
			b, err := os.ReadFile(from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(to, at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(first, time.Now())
	m := startTLSMember(t, ca, live, first)
	if got := servedSerial(t, m.Endpoint, ca); got != first.Serial.String() {
		t.Fatalf("serves certificate %s, want %s", got, first.Serial)
	}
	install(second, time.Now().Add(time.Second))
	if got := servedSerial(t, m.Endpoint, ca); got != second.Serial.String() {
		t.Fatalf("after rotating the files: serves certificate %s, want %s", got, second.Serial)
	}
	// The member serves on, with the new certificate.
	c := tlsClient(t, m.Endpoint, ca, nil)
	if _, err := c.Put(context.Background(), "k", "v"); err != nil {
		t.Fatalf("put after the rotation: %v", err)
	}
}

// servedSerial returns the serial number of the certificate the server at
// endpoint presents to a new connection.
func servedSerial(t *testing.T, endpoint string, ca *cairntest.CA) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", endpoint,
		&tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", endpoint, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestTLSFlagsRefusePlaintext(t *testing.T) {
	ca := cairntest.NewCA(t, "clients")
	srv := ca.Issue("server", "127.0.0.1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen-client-urls", "https://127.0.0.1:2379"}, "needs --cert-file"},
		{[]string{"--cert-file", srv.CertFile, "--key-file", srv.KeyFile}, "plaintext"},
		{[]string{"--listen-peer-urls", "https://127.0.0.1:2380"}, "needs --peer-cert-file"},
		{[]string{"--peer-cert-file", srv.CertFile, "--peer-key-file", srv.KeyFile}, "plaintext"},
		{[]string{"--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", srv.CertFile}, "together"},
		{[]string{"--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", srv.CertFile, "--key-file", "/nonexistent"}, "no such file"},
		{[]string{"--tls-min-version", "TLS1.0"}, "tls-min-version"},
		{[]string{"--cipher-suites", "TLS_NOT_A_SUITE"}, "cipher-suites"},
	} {
		var out strings.Builder
		_, err := parseFlags(append([]string{"--data-dir", t.TempDir()}, tc.args...), &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("flags %q: %v, want an error about %q", tc.args, err, tc.want)
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
