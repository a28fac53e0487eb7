package cairntest

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy is a TCP proxy in the test's process: it accepts connections on its
// own address and copies bytes both ways between each and a new connection
// to the target. Tests put one in front of a member's peer listener and
// advertise the proxy's address, so that Cut can take the member off the
// network and Heal can put it back.
//
// Each direction is copied until its reader ends; a clean end (EOF) is passed
// on as a half-close (CloseWrite), so either side may finish sending while
// the other goes on; an error in either direction closes both connections.
// Every goroutine the proxy starts is counted, and Cut and Close return only
// after every goroutine of the connections they close has ended.
type Proxy struct {
	target string
	addr   string // fixed by the first listener; Heal listens here again

	ops sync.Mutex // serialises Cut, Heal and Close (wg's Adds and Wait)

	mu     sync.Mutex
	l      net.Listener       // nil while cut or closed
	cancel context.CancelFunc // ends dials to the target of the current listener
	conns  map[net.Conn]struct{}
	// refuse, if set, names the connections the proxy closes (see
	// Refuse); clients holds the accepted ones, for it.
	refuse  func(remote net.Addr) bool
	clients map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup // every goroutine the proxy started
}

// proxyDialTimeout bounds a dial to the target.
const proxyDialTimeout = 5 * time.Second

// NewProxy starts a proxy to target (host:port) listening on a free port of
// 127.0.0.1. The caller must Close it.
func NewProxy(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, addr: l.Addr().String(), conns: map[net.Conn]struct{}{}, clients: map[net.Conn]struct{}{}}
	p.mu.Lock()
	p.serve(l)
	p.mu.Unlock()
	return p, nil
}

// Addr returns the proxy's address, host:port. It does not change when the
// proxy is cut and healed.
func (p *Proxy) Addr() string { return p.addr }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Cut closes the listener and every proxied connection, so that the target
// receives nothing through the proxy and new connections are refused, and
// waits until the proxy's goroutines have ended. Cutting a cut proxy does
// nothing.
func (p *Proxy) Cut() {
	p.ops.Lock()
	defer p.ops.Unlock()
	p.mu.Lock()
	p.stopLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

// Heal listens again on the proxy's address after Cut. Healing a proxy that
// is not cut does nothing; healing a closed one is an error, and so is
// healing one whose port another socket took while it was cut (rare: ports
// for outgoing connections come from the same range).
func (p *Proxy) Heal() error {
	p.ops.Lock()
	defer p.ops.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("cairntest: proxy is closed")
	}
	if p.l != nil {
		return nil
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.serve(l)
	return nil
}

// Refuse closes the accepted connections whose remote (dialling) address
// refuse reports true for, now and as they come, until Refuse(nil): a test
// can cut a member off from some peers only, or in one direction only, by
// what dialled. Refuse(nil) does not reopen what was closed; the dialler
// dials again.
func (p *Proxy) Refuse(refuse func(remote net.Addr) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
	if refuse == nil {
		return
	}
	for c := range p.clients {
		if refuse(c.RemoteAddr()) {
			c.Close() // forward untracks it
		}
	}
}

// trackClient tracks an accepted connection as track does, unless the
// rule of Refuse closes it (refused).
func (p *Proxy) trackClient(l net.Listener, c net.Conn) (tracked, refused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuse != nil && p.refuse(c.RemoteAddr()) {
		return false, true
	}
	if p.l != l {
		return false, false
	}
	p.conns[c] = struct{}{}
	p.clients[c] = struct{}{}
	return true, false
}

// IsCut reports whether the proxy is cut (or closed).
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.l == nil
}

// Close cuts the proxy for good.
func (p *Proxy) Close() error {
	p.ops.Lock()
	defer p.ops.Unlock()
	p.mu.Lock()
	p.closed = true
	p.stopLocked()
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Proxy) stopLocked() {
	if p.l != nil {
		p.l.Close()
		p.cancel()
		p.l, p.cancel = nil, nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	clear(p.clients)
}

// serve starts accepting on l. p.mu is held.
func (p *Proxy) serve(l net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	p.l, p.cancel = l, cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				// Closed by Cut or Close. (Accept on 127.0.0.1 does
				// not fail otherwise in tests.)
				return
			}
			tracked, refused := p.trackClient(l, c)
			if refused {
				c.Close()
				continue
			}
			if !tracked {
				c.Close()
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(ctx, l, c)
			}()
		}
	}()
}

// track records c as a connection of listener l, unless l has been closed
// since (the proxy was cut), and reports whether it did.
func (p *Proxy) track(l net.Listener, c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != l {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		delete(p.clients, c)
		c.Close()
	}
}

// forward connects client to the target and copies both ways until both
// directions have ended.
func (p *Proxy) forward(ctx context.Context, l net.Listener, client net.Conn) {
	d := net.Dialer{Timeout: proxyDialTimeout}
	server, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		// The target is down: the client sees its connection closed.
		p.untrack(client)
		return
	}
	if !p.track(l, server) {
		server.Close()
		p.untrack(client)
		return
	}
	done := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(done)
		pipe(server, client)
	}()
	pipe(client, server)
	<-done
	p.untrack(client, server)
}

// pipe copies from src to dst. At src's EOF it half-closes dst; on an error
// it closes both, which ends the other direction too.
func pipe(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			dst.Close()
			src.Close()
		}
		return
	}
	dst.Close()
}
