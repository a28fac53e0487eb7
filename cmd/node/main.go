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
	if len(args) > 0 && args[0] == "restore" {
		return restore(args[1:], os.Stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "node:", err)
		return 2
	}
	logOut, closeLogs := openLogOutputs(&o.observe, stderr)
	defer closeLogs()
	stderr = logOut
	o.cfg.Logger = newLogger(logOut, o.logFormat, o.logLevel)
	// The member adds its name to its own logs; these are the process's.
	logger := o.cfg.Logger.With("member", o.cfg.Name)
	if applyMemory(o, os.Stdout, logger) {
		return 0 // --print-memory-budget
	}
	flushTraces, err := startTracing(o, logger)
	if err != nil {
		logger.Error("cannot set up tracing", "error", err)
		return 1
	}
	defer flushTraces()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	listeners, err := listenClients(o.listenClientURLs, &o.security)
	if err != nil {
		logger.Error("cannot listen for clients", "error", err)
		return 1
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		// protoactor logs routine events at info; keep its warnings only.
		return newLogger(stderr, o.logFormat, max(o.logLevel, slog.LevelWarn)).With("member", o.cfg.Name, "lib", "protoactor")
	}))
	defer system.Shutdown()

	peers, err := startRemote(system, o.listenPeerURL, o.cfg.AdvertisePeerURLs[0], o.security.peerTLS)
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
	if len(o.observe.listenMetricsURLs) > 0 {
		stopMonitor, err := serveMonitor(o.observe.listenMetricsURLs, &o.security, node.MonitorHandler(), logger)
		if err != nil {
			logger.Error("cannot listen for metrics", "error", err)
			_ = node.Stop()
			closeAll(listeners)
			return 1
		}
		defer stopMonitor()
	}
	// Serve clients once the member has caught up with the cluster (see
	// cairn.Node.Ready), as etcd does: a member must not answer with state
	// older than what it answered before it stopped.
	select {
	case <-node.Ready():
	case <-ctx.Done():
		return stopMember(node, logger)
	case <-node.Done():
		return failed(node, logger)
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
		return stopMember(node, logger)
	case <-node.Done():
		return failed(node, logger)
	}
}

// stopMember stops the member on a signal and returns the exit code.
func stopMember(node *cairn.Node, logger *slog.Logger) int {
	logger.Info("stopping on signal")
	if err := node.Stop(); err != nil {
		logger.Error("closing storage failed", "error", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// failed reports why the member stopped by itself and returns the exit code:
// 0 when it was removed from the cluster (as etcd exits), 1 when it failed.
func failed(node *cairn.Node, logger *slog.Logger) int {
	err := node.Err()
	_ = node.Stop()
	if errors.Is(err, cairn.ErrRemoved) {
		logger.Info("the member has been permanently removed from the cluster; exiting")
		return 0
	}
	logger.Error("member failed", "error", err)
	return 1
}

// listenClients listens on each URL, serving TLS on the https ones (client
// and metrics URLs: both use the clients' TLS).
func listenClients(urls []string, sec *securityOptions) ([]net.Listener, error) {
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
		w, err := sec.tlsListener(u, l)
		if err != nil {
			l.Close()
			closeAll(out)
			return nil, err
		}
		out = append(out, w)
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
