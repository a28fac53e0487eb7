package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run runs the member until a signal or a failure, and returns the exit code.
func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "node:", err)
		return 2
	}
	logger := newLogger(stderr, o.logFormat, o.logLevel)
	o.cfg.Logger = logger

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	listeners, err := listen(o.listenClientURLs)
	if err != nil {
		logger.Error("cannot listen for clients", "error", err)
		return 1
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		// protoactor logs routine events at info; keep its warnings only.
		return newLogger(stderr, o.logFormat, max(o.logLevel, slog.LevelWarn)).With("member", o.cfg.Name, "lib", "protoactor")
	}))
	defer system.Shutdown()

	peers, err := startRemote(system, o.listenPeerURL, o.cfg.AdvertisePeerURLs[0])
	if err != nil {
		logger.Error("cannot listen for peers", "error", err)
		closeAll(listeners)
		return 1
	}
	defer peers.Shutdown(false)

	node, err := cairn.Start(system, o.cfg)
	if err != nil {
		logger.Error("cannot start member", "error", err)
		closeAll(listeners)
		return 1
	}
	for _, l := range listeners {
		go func() {
			if err := node.Serve(l); err != nil {
				logger.Error("serving clients failed", "address", l.Addr().String(), "error", err)
			}
		}()
		logger.Info("serving client requests", "address", l.Addr().String())
	}

	select {
	case <-ctx.Done():
		logger.Info("stopping on signal")
		if err := node.Stop(); err != nil {
			logger.Error("closing storage failed", "error", err)
			return 1
		}
		logger.Info("stopped")
		return 0
	case <-node.Done():
		logger.Error("member failed", "error", node.Err())
		_ = node.Stop()
		return 1
	}
}

func listen(urls []string) ([]net.Listener, error) {
	var out []net.Listener
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		l, err := net.Listen("tcp", u.Host)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
