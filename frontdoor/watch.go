package frontdoor

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/metadata"

	"github.com/cairnkv/cairn/actors/watch"
)

// watchServer serves etcd's Watch service. Each stream is one stream actor,
// a child of the watch hub (actors/watch), which does what etcd's
// serverWatchStream does; this handler only moves messages: one goroutine
// forwards the client's requests to the actor, and the handler's own
// goroutine pulls the actor's responses and sends them, so that the
// network's blocking Send never blocks an actor.
type watchServer struct {
	pb.UnimplementedWatchServer
	s *Server
}

// Why a stream ended, when the server ended it.
var (
	errStopping   = errors.New("frontdoor: member stopping")
	errLostLeader = errors.New("frontdoor: no leader")
)

// maxNoLeaderTimeouts is how many election timeouts without a leader end
// the streams that require one (etcd's maxNoLeaderCnt).
const maxNoLeaderTimeouts = 3

func (w *watchServer) Watch(gs pb.Watch_WatchServer) error {
	cfg := w.s.cfg
	ctx, cancel := context.WithCancelCause(gs.Context())
	defer cancel(nil)
	if requiresLeader(gs.Context()) {
		// etcd's stream interceptor: refused without a leader, ended after
		// a few election timeouts without one.
		if cfg.Board.Load().Lead == 0 {
			return rpctypes.ErrGRPCNoLeader
		}
		go w.s.monitorLeader(ctx, cancel)
	}
	st, err := watch.Open(ctx, cfg.System.Root, cfg.WatchHub, cfg.Watch)
	if err != nil {
		return watchError(gs.Context(), ctx, err)
	}
	defer st.Close()

	// Both goroutines send: refusals of watches the user may not read
	// (watchauth.go) go out from the receiving one.
	var sendMu sync.Mutex
	send := func(r *pb.WatchResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return gs.Send(r)
	}
	go func() {
		for {
			req, err := gs.Recv()
			if errors.Is(err, io.EOF) {
				// The client closed its side: etcd keeps sending until the
				// stream's context ends.
				return
			}
			if err != nil {
				cancel(err)
				return
			}
			if refusal := w.s.refuseWatch(gs.Context(), req); refusal != nil {
				if err := send(refusal); err != nil {
					cancel(err)
					return
				}
				continue
			}
			if err := st.Request(ctx, req); err != nil {
				return // the handler is returning
			}
		}
	}()
	if cfg.Stopping != nil {
		go func() {
			select {
			case <-cfg.Stopping:
				cancel(errStopping)
			case <-ctx.Done():
			}
		}()
	}

	for {
		rs, err := st.Next(ctx)
		if err != nil {
			return watchError(gs.Context(), ctx, err)
		}
		for _, r := range rs {
			if err := send(r); err != nil {
				return err
			}
		}
	}
}

// requiresLeader reports whether the client asked for a stream that ends
// when the member has no leader (clientv3.WithRequireLeader).
func requiresLeader(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return false
	}
	ks := md[rpctypes.MetadataRequireLeaderKey]
	return len(ks) > 0 && ks[0] == rpctypes.MetadataHasLeader
}

// monitorLeader cancels ctx with errLostLeader once the member has had no
// leader for maxNoLeaderTimeouts election timeouts.
func (s *Server) monitorLeader(ctx context.Context, cancel context.CancelCauseFunc) {
	board := s.cfg.Board
	for {
		changed := board.LeaderChanged()
		var timer *time.Timer
		var expire <-chan time.Time
		if board.Load().Lead == 0 {
			timer = time.NewTimer(maxNoLeaderTimeouts * s.cfg.ElectionTimeout)
			expire = timer.C
		}
		select {
		case <-changed:
		case <-expire:
			if board.Load().Lead == 0 {
				cancel(errLostLeader)
				return
			}
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// watchError maps the end of a stream to what etcd's Watch returns: the
// server's reasons first, then a client that cancelled ("watch canceled"),
// then the stream's own error.
func watchError(clientCtx, ctx context.Context, err error) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStopping):
		return rpctypes.ErrGRPCStopped
	case errors.Is(cause, errLostLeader):
		return rpctypes.ErrGRPCNoLeader
	case clientCtx.Err() != nil:
		if errors.Is(clientCtx.Err(), context.DeadlineExceeded) {
			return rpctypes.ErrGRPCDeadlineExceeded
		}
		return rpctypes.ErrGRPCWatchCanceled
	case cause != nil && !errors.Is(cause, context.Canceled):
		return grpcError(cause) // the receive side failed
	}
	if errors.Is(err, context.Canceled) {
		return rpctypes.ErrGRPCWatchCanceled
	}
	return grpcError(err)
}
