package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health is what the health endpoints ask of a member.
type Health interface {
	// Leader returns the leader's ID, 0 when none is known.
	Leader() uint64
	// CheckRead reads one key, linearizably unless serializable.
	CheckRead(ctx context.Context, serializable bool) error
	// IsLearner reports whether the member is a learner.
	IsLearner() bool
}

// Handler serves, as etcd serves them on its metrics URLs:
//
//	/metrics   the member's metrics, Prometheus text format
//	/health    {"health":"true","reason":""} (200), or "false" and the
//	           reason (503): no leader ("RAFT NO LEADER") or a read that
//	           fails ("RANGE ERROR:..."); ?serializable=true skips the
//	           leader check and reads serializably
//	/livez     "ok" once a serializable read works
//	/readyz    "ok" once serializable and linearizable reads work and the
//	           member is not a learner; ?verbose lists each check,
//	           ?exclude=NAME skips one; /readyz/NAME runs one
func (m *Member) Handler(h Health, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		serializable := r.URL.Query().Get("serializable") == "true"
		res := health{Health: "true"}
		if !serializable && h.Leader() == 0 {
			res = health{Health: "false", Reason: "RAFT NO LEADER"}
		} else if err := h.CheckRead(r.Context(), serializable); err != nil {
			res = health{Health: "false", Reason: "RANGE ERROR:" + err.Error()}
		}
		d, _ := json.Marshal(res)
		if res.Health != "true" {
			logger.Warn("/health error", "output", string(d), "status-code", http.StatusServiceUnavailable)
			http.Error(w, string(d), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(d)
	})
	read := func(serializable bool) check {
		return func(ctx context.Context) error { return h.CheckRead(ctx, serializable) }
	}
	installChecks(mux, "/livez", logger, []namedCheck{{"serializable_read", read(true)}})
	installChecks(mux, "/readyz", logger, []namedCheck{
		{"serializable_read", read(true)},
		{"linearizable_read", read(false)},
		{"non_learner", func(context.Context) error {
			if h.IsLearner() {
				return fmt.Errorf("this member is a learner")
			}
			return nil
		}},
	})
	return mux
}

type health struct {
	Health string `json:"health"`
	Reason string `json:"reason"`
}

type check func(context.Context) error

type namedCheck struct {
	name string
	run  check
}

// installChecks serves root (every check but those ?exclude names) and
// root/NAME (one check), with etcd's output.
func installChecks(mux *http.ServeMux, root string, logger *slog.Logger, checks []namedCheck) {
	serve := func(w http.ResponseWriter, r *http.Request, run []namedCheck) {
		if !getOnly(w, r) {
			return
		}
		var out bytes.Buffer
		failed := false
		for _, c := range run {
			if err := c.run(r.Context()); err != nil {
				fmt.Fprintf(&out, "[-]%s failed: %v\n", c.name, err)
				failed = true
			} else {
				fmt.Fprintf(&out, "[+]%s ok\n", c.name)
			}
		}
		if failed {
			logger.Warn("health check error", "path", r.URL.Path, "reason", out.String(), "status-code", http.StatusServiceUnavailable)
			http.Error(w, out.String(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if _, ok := r.URL.Query()["verbose"]; ok {
			_, _ = w.Write(out.Bytes())
		}
		fmt.Fprint(w, "ok\n")
	}
	mux.HandleFunc(root, func(w http.ResponseWriter, r *http.Request) {
		excluded := r.URL.Query()["exclude"]
		run := slices.DeleteFunc(slices.Clone(checks), func(c namedCheck) bool { return slices.Contains(excluded, c.name) })
		serve(w, r, run)
	})
	for _, c := range checks {
		mux.HandleFunc(root+"/"+c.name, func(w http.ResponseWriter, r *http.Request) {
			serve(w, r, []namedCheck{c})
		})
	}
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}
