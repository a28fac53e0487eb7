package cairn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrStopped is returned by Client once the member is stopping.
var ErrStopped = errors.New("cairn: the member is stopped")

// inProcessEndpoint is the endpoint in-process clients report
// (clientv3.Client.Endpoints); it names no network address.
const inProcessEndpoint = "cairn-in-process"

// Client returns a new etcd client connected to the member in process: its
// requests go to the same gRPC server as Serve's, with the same
// interceptors (admission control, auth, tracing, metrics), over an
// in-memory connection instead of TCP. Each client has its own connection,
// so the per-connection in-flight limits (Config.InFlight) count it as one
// client.
//
// cfg is as for clientv3.New, but Endpoints, TLS and any dialer are the
// member's: only the other fields apply (Username and Password, timeouts,
// Logger, ...). A zero cfg is a client without credentials; its Logger
// then is clientv3's default.
//
// Closing the client does not stop the member. Stop closes every client
// Client returned before it stops serving, so that their watches and
// keep-alives do not hold it up: their calls then fail with gRPC's
// Canceled ("the client connection is closing"), their watch channels
// close, and a later Close returns context.Canceled. Client returns
// ErrStopped once Stop has begun.
func (n *Node) Client(cfg clientv3.Config) (*clientv3.Client, error) {
	if !n.acceptsClients() {
		return nil, ErrStopped
	}
	cfg.Endpoints = []string{inProcessEndpoint}
	cfg.TLS = nil
	cfg.DialOptions = append(append([]grpc.DialOption{}, cfg.DialOptions...),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return n.inProcess.dial(ctx)
		}))
	// Not under clientsMu: with a user, New authenticates, and Stop must
	// not wait for that to close the clients.
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, err
	}
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	if n.clients == nil { // Stop began meanwhile
		_ = c.Close()
		return nil, ErrStopped
	}
	n.clients[c] = struct{}{}
	go func() {
		// Forget the client once it is closed, by its owner or by Stop.
		<-c.Ctx().Done()
		n.clientsMu.Lock()
		defer n.clientsMu.Unlock()
		delete(n.clients, c)
	}()
	return c, nil
}

func (n *Node) acceptsClients() bool {
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	return n.clients != nil
}

// closeClients closes the in-process clients and refuses new ones.
func (n *Node) closeClients() {
	n.clientsMu.Lock()
	clients := n.clients
	n.clients = nil
	n.clientsMu.Unlock()
	for c := range clients {
		_ = c.Close()
	}
}

// pipeListener is a net.Listener whose connections are net.Pipe pairs
// made by dial: nothing is buffered between the two ends beyond what gRPC
// buffers itself. Each server end has its own remote address, so that the
// front door's per-connection accounting tells the clients apart.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	seq    atomic.Uint64
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// dial connects to the listener; it fails once the listener is closed.
func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	addr := pipeAddr(fmt.Sprintf("%s:%d", inProcessEndpoint, l.seq.Add(1)))
	var err error
	select {
	case l.conns <- pipeConn{Conn: server, remote: addr}:
		return pipeConn{Conn: client, remote: pipeAddr(inProcessEndpoint)}, nil
	case <-l.closed:
		err = ErrStopped
	case <-ctx.Done():
		err = ctx.Err()
	}
	client.Close()
	server.Close()
	return nil, err
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(inProcessEndpoint) }

// pipeConn is one end of a pipe with the remote address of its connection.
type pipeConn struct {
	net.Conn
	remote net.Addr
}

func (c pipeConn) RemoteAddr() net.Addr { return c.remote }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }
