package gateway

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// acceptWithin accepts on l, failing rather than waiting past d for a
// connection given to the other side.
func acceptWithin(l net.Listener, d time.Duration) (net.Conn, error) {
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		ch <- accepted{c, err}
	}()
	select {
	case a := <-ch:
		return a.c, a.err
	case <-time.After(d):
		return nil, errors.New("nothing accepted: the connection went to the other side")
	}
}

// TestSplit sends each kind of first bytes over a real connection and
// checks which side accepts it, with every byte the client sent.
func TestSplit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcL, httpL := Split(l)
	defer grpcL.Close()
	for _, c := range []struct {
		name, first string
		grpc        bool
	}{
		{"HTTP/2 preface", string(h2Preface) + "\x00\x00", true},
		{"GET", "GET /version HTTP/1.1\r\n\r\n", false},
		{"POST", "POST /v3/kv/put HTTP/1.1\r\n\r\n", false},
		{"PRI but not the preface", "PRI * HTTP/1.1\r\n\r\n", false},
	} {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, c.first); err != nil {
			t.Fatal(err)
		}
		side := httpL
		if c.grpc {
			side = grpcL
		}
		got, err := acceptWithin(side, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: accept: %v", c.name, err)
		}
		conn.Close()
		b, err := io.ReadAll(got)
		if err != nil || string(b) != c.first {
			t.Errorf("%s: read %q, %v; want %q", c.name, b, err, c.first)
		}
		got.Close()
	}
	httpL.Close()
	if _, err := grpcL.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("accept after close: %v, want net.ErrClosed", err)
	}
}
