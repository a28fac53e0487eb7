package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// h2Preface is what an HTTP/2 client (every gRPC client in plaintext) sends
// first.
var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// sniffTimeout bounds the wait for a new connection's first bytes, or its TLS
// handshake, before it is given to a server.
const sniffTimeout = 10 * time.Second

// Split returns two listeners that share l's connections: gRPC's and HTTP's
// (see the package doc). Closing either closes l and both. Connections of a
// *tls.Conn listener are handshaken here, within sniffTimeout; a failed
// handshake or a silent client is dropped.
func Split(l net.Listener) (grpcL, httpL net.Listener) {
	s := &splitter{l: l, done: make(chan struct{})}
	g := &child{s: s, conns: make(chan net.Conn)}
	h := &child{s: s, conns: make(chan net.Conn)}
	go s.run(g, h)
	return g, h
}

type splitter struct {
	l         net.Listener
	closeOnce sync.Once
	done      chan struct{}
	err       error // why accepting ended; set before done is closed
}

func (s *splitter) close(err error) {
	s.closeOnce.Do(func() {
		s.err = err
		close(s.done)
		s.l.Close()
	})
}

func (s *splitter) run(g, h *child) {
	for {
		c, err := s.l.Accept()
		if err != nil {
			s.close(err)
			return
		}
		go func() {
			isGRPC, conn, err := classify(c)
			if err != nil {
				c.Close()
				return
			}
			to := h
			if isGRPC {
				to = g
			}
			select {
			case to.conns <- conn:
			case <-s.done:
				conn.Close()
			}
		}()
	}
}

// classify tells whether c is a gRPC connection, and returns the connection
// to serve it on (c itself, or c with the bytes read from it put back).
func classify(c net.Conn) (bool, net.Conn, error) {
	if err := c.SetDeadline(time.Now().Add(sniffTimeout)); err != nil {
		return false, nil, err
	}
	defer c.SetDeadline(time.Time{})
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), sniffTimeout)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			return false, nil, err
		}
		return tc.ConnectionState().NegotiatedProtocol == "h2", tc, nil
	}
	// Read until the bytes leave the preface or are all of it: one byte
	// tells most HTTP/1 methods apart, two the rest ("PO", "PU", "PA").
	var got []byte
	buf := make([]byte, len(h2Preface))
	for len(got) < len(h2Preface) && bytes.HasPrefix(h2Preface, got) {
		n, err := c.Read(buf[:len(h2Preface)-len(got)])
		got = append(got, buf[:n]...)
		if err != nil {
			return false, nil, err
		}
	}
	return bytes.Equal(got, h2Preface), &peeked{Conn: c, head: got}, nil
}

// peeked is a connection whose first bytes were read already.
type peeked struct {
	net.Conn
	head []byte
}

func (p *peeked) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// child is one side of a split listener.
type child struct {
	s     *splitter
	conns chan net.Conn
}

func (c *child) Accept() (net.Conn, error) {
	select {
	case conn := <-c.conns:
		return conn, nil
	case <-c.s.done:
		if errors.Is(c.s.err, errClosed) {
			return nil, net.ErrClosed
		}
		return nil, c.s.err
	}
}

var errClosed = errors.New("gateway: listener closed")

func (c *child) Close() error {
	c.s.close(errClosed)
	return nil
}

func (c *child) Addr() net.Addr { return c.s.l.Addr() }
