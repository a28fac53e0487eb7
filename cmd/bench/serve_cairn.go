package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os/signal"
	"syscall"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn"
)

// serveCairnCommand is the hidden subcommand that runs a Cairn member inside
// this binary with net/http/pprof beside it, for -cpuprofile. It takes the
// subset of cmd/node's flags the benchmark passes and otherwise uses
// cmd/node's defaults (which are cairn.Config's), so the member is the same;
// only main differs.
const serveCairnCommand = "serve-cairn"

func serveCairn(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(serveCairnCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg cairn.Config
	fs.StringVar(&cfg.Name, "name", "default", "member name")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "data directory")
	listen := fs.String("listen-client-urls", "", "one client URL to listen on")
	advertise := fs.String("advertise-client-urls", "", "client URL to advertise")
	peer := fs.String("initial-advertise-peer-urls", "http://localhost:2380", "peer URL (with the token, the member ID)")
	level := fs.String("log-level", "info", "log level")
	pprofAddr := fs.String("pprof-addr", "", "host:port to serve /debug/pprof/ on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(stderr, "serve-cairn: log-level:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	cfg.Logger = logger
	cfg.AdvertiseClientURLs = []string{*advertise}
	cfg.AdvertisePeerURLs = []string{*peer}
	if err := serveCairnMember(cfg, *listen, *pprofAddr, logger); err != nil {
		logger.Error("serve-cairn failed", "error", err)
		return 1
	}
	return 0
}

// serveCairnMember runs the member until SIGTERM or SIGINT.
func serveCairnMember(cfg cairn.Config, listenURL, pprofAddr string, logger *slog.Logger) error {
	u, err := url.Parse(listenURL)
	if err != nil {
		return err
	}
	// Listen first, as cmd/node does, so clients queue until the member
	// serves instead of being refused.
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		return err
	}
	if pprofAddr != "" {
		pl, err := net.Listen("tcp", pprofAddr)
		if err != nil {
			return err
		}
		go func() { _ = http.Serve(pl, pprofMux()) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	defer system.Shutdown()
	node, err := cairn.Start(system, cfg)
	if err != nil {
		l.Close()
		return err
	}
	go func() { _ = node.Serve(l) }()
	select {
	case <-ctx.Done():
		return node.Stop()
	case <-node.Done():
		_ = node.Stop()
		return errors.Join(errors.New("member failed"), node.Err())
	}
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
