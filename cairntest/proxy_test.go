package cairntest_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnkv/cairn/cairntest"
)

// echoServer echoes every connection until the client half-closes, then
// half-closes too and closes.
type echoServer struct {
	l  net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{l: l, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if _, err := io.Copy(c, c); err == nil {
					c.(*net.TCPConn).CloseWrite()
				}
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *echoServer) addr() string { return s.l.Addr().String() }

func (s *echoServer) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *echoServer) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func newProxy(t *testing.T, target string) *cairntest.Proxy {
	t.Helper()
	p, err := cairntest.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitGoroutines waits until at most n goroutines run: goroutines that
// have been told to end (a closed connection's reader) end soon, not at once.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roundTrip sends data through c, half-closes, and returns all it reads
// back until EOF.
func roundTrip(t *testing.T, c net.Conn, data []byte) []byte {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		got <- b
	}()
	if _, err := c.Write(data); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("close write: %v", err)
	}
	select {
	case b := <-got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no EOF after the half-close")
		return nil
	}
}

func TestProxyCopiesBothWaysAndHalfCloses(t *testing.T) {
	echo := startEcho(t)
	before := runtime.NumGoroutine()
	p := newProxy(t, echo.addr())
	if p.Addr() == echo.addr() || p.Target() != echo.addr() {
		t.Fatalf("proxy %s to %s", p.Addr(), p.Target())
	}
	// Several connections at once, each larger than the socket buffers, so
	// both directions stream at the same time.
	data := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if got := roundTrip(t, c, data); !bytes.Equal(got, data) {
				t.Errorf("echoed %d bytes, want %d", len(got), len(data))
			}
		}()
	}
	wg.Wait()
	// Both directions ended cleanly: the proxy closed both connections and
	// its per-connection goroutines ended; only its accept loop remains.
	waitGoroutines(t, before+1)
	if n := echo.open(); n != 0 {
		t.Fatalf("echo server still has %d connections", n)
	}
	p.Close()
	waitGoroutines(t, before)
}

func TestProxyCutAndHeal(t *testing.T) {
	echo := startEcho(t)
	before := runtime.NumGoroutine()
	p := newProxy(t, echo.addr())

	var open []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo through the proxy: %q, %v", buf, err)
		}
		open = append(open, c)
	}

	p.Cut()
	if !p.IsCut() {
		t.Fatal("IsCut false after Cut")
	}
	// Every proxied connection is closed on the client's side...
	for _, c := range open {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("read %d bytes from a cut connection", n)
		} else if errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err) {
			t.Fatal("cut connection still open on the client's side")
		}
	}
	// ... and on the target's, and new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for echo.open() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("target still has %d connections after Cut", echo.open())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("dial succeeded while cut")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while cut: %v, want connection refused", err)
	}
	p.Cut() // idempotent

	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := p.Heal(); err != nil { // idempotent
		t.Fatal(err)
	}
	if p.IsCut() {
		t.Fatal("IsCut true after Heal")
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial after Heal: %v", err)
	}
	defer c.Close()
	if got := roundTrip(t, c, []byte("healed")); string(got) != "healed" {
		t.Fatalf("echo after Heal: %q", got)
	}

	p.Close()
	if err := p.Heal(); err == nil {
		t.Fatal("Heal after Close succeeded")
	}
	waitGoroutines(t, before)
}

// TestProxyTargetDown: a connection to a proxy whose target is down is
// closed, as a connection to the target would be refused.
func TestProxyTargetDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := l.Addr().String()
	l.Close()
	before := runtime.NumGoroutine()
	p := newProxy(t, target)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read from a proxy whose target is down: %v, want EOF or reset", err)
	}
	waitGoroutines(t, before+1) // the accept loop
	p.Close()
	waitGoroutines(t, before)
}

// TestProxyCutDuringTransfer cuts while connections stream in both
// directions: every copy ends, none is left behind.
func TestProxyCutDuringTransfer(t *testing.T) {
	echo := startEcho(t)
	before := runtime.NumGoroutine()
	p := newProxy(t, echo.addr())
	var wg sync.WaitGroup
	started := make(chan struct{}, 8)
	for range 8 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { // writes until the cut breaks the connection
			defer wg.Done()
			chunk := make([]byte, 32<<10)
			for i := 0; ; i++ {
				if _, err := c.Write(chunk); err != nil {
					return
				}
				if i == 4 {
					started <- struct{}{}
				}
			}
		}()
		go func() {
			defer wg.Done()
			io.Copy(io.Discard, c)
			c.Close() // ends the writer too
		}()
	}
	for range 8 {
		<-started
	}
	p.Cut()
	wg.Wait()
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	waitGoroutines(t, before)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestProxyRefuse closes the connections of one dialler (known by its
// local address) and refuses its new ones, while another goes on.
func TestProxyRefuse(t *testing.T) {
	echo := startEcho(t)
	p := newProxy(t, echo.addr())
	a, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// a is proxied: its byte comes back.
	if _, err := a.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	refused := a.LocalAddr().String()
	p.Refuse(func(remote net.Addr) bool { return remote.String() == refused })
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := a.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on a refused connection: %v, want it closed", err)
	}
	roundTrip(t, b, []byte("still"))

	p.Refuse(nil)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, []byte("again"))
}
