package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/cairntest"
)

// TestGatewayOverTLS serves the client port's HTTP paths over its TLS, with
// client certificates required, to an HTTP/1.1 client as curl --http1.1
// is, beside gRPC on the same port.
func TestGatewayOverTLS(t *testing.T) {
	t.Parallel()
	ca := cairntest.NewCA(t, "clients")
	srv, alice := ca.Issue("server", "127.0.0.1"), ca.Issue("alice")
	m := startTLSMember(t, ca, srv, alice, "--trusted-ca-file", ca.CertFile, "--client-cert-auth")
	pair, err := tls.LoadX509KeyPair(alice.CertFile, alice.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{pair}},
	}}
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "https://"+m.Endpoint+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s over TLS: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.TLS == nil || resp.ProtoMajor != 1 {
			t.Errorf("%s %s: %s, TLS %v; want HTTP/1.1 over TLS", method, path, resp.Proto, resp.TLS != nil)
		}
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/v3/kv/put", `{"key": "Zm9v", "value": "YmFy"}`, `"header":`},
		{"POST", "/v3/kv/range", `{"key": "Zm9v"}`, `"value":"YmFy"`},
		{"GET", "/version", "", `"etcdserver":"3.7.3"`},
		{"GET", "/health", "", `{"health":"true","reason":""}`},
		{"GET", "/readyz", "", "ok"},
		{"GET", "/metrics", "", "etcd_server_has_leader 1"},
	} {
		if code, body := do(c.method, c.path, c.body); code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %q, want 200 and %q", c.method, c.path, code, body, c.want)
		}
	}
	// gRPC on the same port still sees the put.
	r, err := tlsClient(t, m.Endpoint, ca, &alice).Get(cairntest.Ctx(t), "foo")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "bar" {
		t.Errorf("gRPC get over TLS: %v, %v", r, err)
	}
	// Without a client certificate the handshake fails, as for gRPC.
	bare := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	if resp, err := bare.Get("https://" + m.Endpoint + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /health without a client certificate: %s, want refused", resp.Status)
	}
}
