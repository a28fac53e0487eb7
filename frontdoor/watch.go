package frontdoor

import (
	"context"
	"errors"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

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

func (w *watchServer) Watch(gs pb.Watch_WatchServer) error {
	cfg := w.s.cfg
	ctx, cancel := context.WithCancel(gs.Context())
	defer cancel()
	st, err := watch.Open(ctx, cfg.System.Root, cfg.WatchHub, cfg.Watch)
	if err != nil {
		return watchError(gs.Context(), err)
	}
	defer st.Close()

	recvErr := make(chan error, 1)
	go func() {
		for {
			req, err := gs.Recv()
			if errors.Is(err, io.EOF) {
				// The client closed its side: etcd keeps sending until the
				// stream's context ends.
				return
			}
			if err != nil {
				recvErr <- err
				cancel()
				return
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
				cancel()
			case <-ctx.Done():
			}
		}()
	}

	for {
		rs, err := st.Next(ctx)
		if err != nil {
			select {
			case err = <-recvErr:
			default:
				if stopping(cfg.Stopping) {
					return rpctypes.ErrGRPCStopped
				}
			}
			return watchError(gs.Context(), err)
		}
		for _, r := range rs {
			if err := gs.Send(r); err != nil {
				return err
			}
		}
	}
}

func stopping(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// watchError maps the end of a stream to what etcd's Watch returns: a
// cancelled client context is "watch canceled".
func watchError(clientCtx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || (clientCtx.Err() != nil && errors.Is(err, clientCtx.Err())) {
		if errors.Is(clientCtx.Err(), context.DeadlineExceeded) {
			return rpctypes.ErrGRPCDeadlineExceeded
		}
		return rpctypes.ErrGRPCWatchCanceled
	}
	return grpcError(err)
}
