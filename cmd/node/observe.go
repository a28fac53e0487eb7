package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/cairnkv/cairn/tracing"
)

// observeOptions are the flags of tracing, metrics and logs.
type observeOptions struct {
	tracing tracing.Options
	// listenMetricsURLs serve /metrics, /health, /livez and /readyz.
	listenMetricsURLs []string
	// logOutputs are stderr, stdout or file paths; files rotate by size.
	logOutputs  []string
	logRotation logRotation
}

// logRotation is etcd's --log-rotation-config-json (lumberjack's fields).
type logRotation struct {
	MaxSize    int  `json:"maxsize"`
	MaxAge     int  `json:"maxage"`
	MaxBackups int  `json:"maxbackups"`
	LocalTime  bool `json:"localtime"`
	Compress   bool `json:"compress"`
}

// defaultLogRotation is etcd's default --log-rotation-config-json.
const defaultLogRotation = `{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}`

// addObserveFlags defines the flags of o on fs and returns the function
// that checks them once parsed.
func addObserveFlags(fs *flag.FlagSet, o *observeOptions, slow *time.Duration) func() error {
	fs.StringVar(&o.tracing.Endpoint, "otlp-endpoint", "", "OTLP/gRPC collector (host:port) to send traces to, e.g. Jaeger's 127.0.0.1:4317. Empty: tracing off.")
	fs.BoolVar(&o.tracing.Insecure, "otlp-insecure", false, "Send traces to the OTLP endpoint without TLS.")
	fs.Float64Var(&o.tracing.SamplingRate, "trace-sampling-rate", 1, "Fraction of new traces recorded, from 0 to 1; a client's sampled trace is always continued.")
	metricsURLs := fs.String("listen-metrics-urls", "", "Comma-separated URLs to serve /metrics, /health, /livez and /readyz on. Empty: none.")
	outputs := fs.String("log-outputs", "stderr", "Comma-separated log outputs: stderr, stdout, or file paths (files rotate by size, see --log-rotation-config-json).")
	rotation := fs.String("log-rotation-config-json", defaultLogRotation, "Rotation of log files: maxsize (MB), maxage (days, 0: no limit), maxbackups (0: no limit), localtime, compress.")
	fs.DurationVar(slow, "warning-apply-duration", tracing.DefaultSlowRequest, "Time after which a request is logged with its steps, and an apply as slow.")
	return func() error {
		if err := o.tracing.Validate(); err != nil {
			return fmt.Errorf("trace-sampling-rate: %w", err)
		}
		if *metricsURLs != "" {
			urls, err := parseURLs("listen-metrics-urls", *metricsURLs)
			if err != nil {
				return err
			}
			o.listenMetricsURLs = urls
		}
		for _, out := range strings.Split(*outputs, ",") {
			if out = strings.TrimSpace(out); out != "" {
				o.logOutputs = append(o.logOutputs, out)
			}
		}
		if len(o.logOutputs) == 0 {
			return errors.New("log-outputs: at least one output is required")
		}
		if err := json.Unmarshal([]byte(*rotation), &o.logRotation); err != nil {
			return fmt.Errorf("log-rotation-config-json: %w", err)
		}
		if o.logRotation.MaxSize < 0 || o.logRotation.MaxAge < 0 || o.logRotation.MaxBackups < 0 {
			return errors.New("log-rotation-config-json: sizes, ages and counts must not be negative")
		}
		return nil
	}
}

// openLogOutputs returns the writer of the log outputs (stderr is the
// process's) and the function that closes the files.
func openLogOutputs(o *observeOptions, stderr io.Writer) (io.Writer, func()) {
	var ws []io.Writer
	var files []*lumberjack.Logger
	for _, out := range o.logOutputs {
		switch out {
		case "stderr", "default":
			ws = append(ws, stderr)
		case "stdout":
			ws = append(ws, os.Stdout)
		default:
			r := o.logRotation
			l := &lumberjack.Logger{Filename: out, MaxSize: r.MaxSize, MaxAge: r.MaxAge,
				MaxBackups: r.MaxBackups, LocalTime: r.LocalTime, Compress: r.Compress}
			ws = append(ws, l)
			files = append(files, l)
		}
	}
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	if len(ws) == 1 {
		return ws[0], closeAll
	}
	return io.MultiWriter(ws...), closeAll
}

// serveMonitor serves h on every URL, https ones with the clients' TLS, and
// returns the function that stops serving.
func serveMonitor(urls []string, sec *securityOptions, h http.Handler, logger *slog.Logger) (func(), error) {
	ls, err := listenClients(urls, sec)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	for _, l := range ls {
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("serving metrics failed", "address", l.Addr().String(), "error", err)
			}
		}()
		logger.Info("serving metrics and health", "address", l.Addr().String())
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	}, nil
}

// startTracing sets up the OpenTelemetry SDK when --otlp-endpoint is set
// and returns the function that flushes the spans left (call it after the
// member stopped).
func startTracing(o *options, logger *slog.Logger) (func(), error) {
	to := o.observe.tracing
	to.ServiceName = o.cfg.Name
	tp, shutdown, err := tracing.Setup(context.Background(), to)
	if err != nil {
		return nil, err
	}
	if tp == nil {
		return func() {}, nil
	}
	o.cfg.TracerProvider = tp
	logger.Info("sending traces", "endpoint", to.Endpoint, "sampling-rate", to.SamplingRate)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			logger.Warn("flushing traces failed", "error", err)
		}
	}, nil
}
