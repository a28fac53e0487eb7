package statuspage

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

//go:embed assets
var assets embed.FS

// Sources are what a report reads besides the registry.
type Sources struct {
	// Gatherer is the member's registry (metrics.Member.Registry).
	Gatherer prometheus.Gatherer
	Member   Member
	// Raft returns the raft actor's board, without followers.
	Raft func() Raft
	// Followers returns, on the leader, every member as it tracks them;
	// false on a member that does not lead.
	Followers func(ctx context.Context) ([]Follower, bool, error)
	// Memory returns the budget with each item's use now; RSS and Heap are
	// filled from the registry.
	Memory func() Memory
	Logger *slog.Logger
}

// Options size the page's sampling.
type Options struct {
	// Interval is the least time between samples (default 1 s): reports
	// asked for sooner get the last one.
	Interval time.Duration
	// Samples is the ring's size (default 300: five minutes at 1 s).
	Samples int
}

// Page is one member's status page and its samples.
type Page struct {
	src  Sources
	opts Options

	mu       sync.Mutex
	ring     *ring
	last     []byte    // the last report, encoded
	lastTime time.Time // when it was taken
	prev     counters  // cumulative counters at the last sample
}

// New returns the page of the member src describes.
func New(src Sources, opts Options) *Page {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Samples <= 0 {
		opts.Samples = 300
	}
	if src.Logger == nil {
		src.Logger = slog.Default()
	}
	return &Page{src: src, opts: opts, ring: newRing(opts.Samples)}
}

// Register serves on mux:
//
//	/              an index linking the status page and etcd's endpoints
//	/status        the page
//	/status.json   the report the page draws
//	/status/...    the page's script, styles and uPlot
func (p *Page) Register(mux *http.ServeMux) {
	sub, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(sub)
	mux.Handle("GET /status/", http.StripPrefix("/status/", files))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/status.html"
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/home.html"
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		b, err := p.report(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
}

// report returns the last report if it is younger than the interval, or
// takes a sample and returns the new one (invariant 1). Viewers asking at
// once wait for one sample.
func (p *Page) report(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	// A page polling every interval may ask a little early.
	if p.last != nil && now.Sub(p.lastTime) < p.opts.Interval*9/10 {
		return p.last, nil
	}
	rep, err := p.build(ctx, now)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	p.last, p.lastTime = b, now
	return b, nil
}
