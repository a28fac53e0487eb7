package cairn_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// /metrics shows etcd's series moving as a member works: a leader, puts
// committed and applied, synced appends, keys counted; and Cairn's own:
// every actor's message times and mailbox, the raft log's bytes.
func TestMetricsMoveWithPuts(t *testing.T) {
	n := cairntest.Start(t)
	srv := httptest.NewServer(n.MonitorHandler())
	defer srv.Close()
	ctx := cairntest.Ctx(t)

	before := scrape(t, srv.URL)
	for i := range 5 {
		if _, err := n.Client.Put(ctx, fmt.Sprint("key-", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Client.Delete(ctx, "key-0"); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, srv.URL)

	if v := value(t, after, "etcd_server_has_leader"); v != 1 {
		t.Errorf("etcd_server_has_leader %v, want 1", v)
	}
	if v := value(t, after, "etcd_server_is_leader"); v != 1 {
		t.Errorf("etcd_server_is_leader %v, want 1", v)
	}
	if v := value(t, after, "etcd_server_leader_changes_seen_total"); v != 1 {
		t.Errorf("etcd_server_leader_changes_seen_total %v, want 1", v)
	}
	for _, name := range []string{"etcd_server_proposals_committed_total", "etcd_server_proposals_applied_total"} {
		if d := value(t, after, name) - value(t, before, name); d < 6 {
			t.Errorf("%s grew by %v over 6 proposals", name, d)
		}
	}
	if d := count(t, after, "etcd_disk_wal_fsync_duration_seconds") - count(t, before, "etcd_disk_wal_fsync_duration_seconds"); d < 1 {
		t.Errorf("etcd_disk_wal_fsync_duration_seconds observed %v syncs over 6 proposals", d)
	}
	if d := count(t, after, "etcd_disk_backend_commit_duration_seconds") - count(t, before, "etcd_disk_backend_commit_duration_seconds"); d < 1 {
		t.Errorf("etcd_disk_backend_commit_duration_seconds observed %v commits", d)
	}
	if v := value(t, after, "etcd_server_proposals_pending"); v != 0 {
		t.Errorf("etcd_server_proposals_pending %v after every put returned", v)
	}
	if v := value(t, after, "etcd_debugging_mvcc_current_revision"); v != 7 {
		t.Errorf("etcd_debugging_mvcc_current_revision %v, want 7", v)
	}
	if v := value(t, after, "etcd_mvcc_db_total_size_in_bytes"); v <= 0 {
		t.Errorf("etcd_mvcc_db_total_size_in_bytes %v", v)
	}
	if v := value(t, after, "cairn_raft_log_bytes"); v <= 0 {
		t.Errorf("cairn_raft_log_bytes %v", v)
	}
	// The raft log's WAL took the proposals' entries.
	var logWAL float64
	for _, m := range after["cairn_storage_written_bytes_total"].GetMetric() {
		if label(m, "db") == "log" && label(m, "source") == "wal" {
			logWAL = m.GetCounter().GetValue()
		}
	}
	if logWAL <= 0 {
		t.Errorf("cairn_storage_written_bytes_total of the log's WAL: %v", logWAL)
	}
	// The keys are counted in the background once the member starts.
	waitForGauge(t, srv.URL, "etcd_debugging_mvcc_keys_total", 4)

	// Every actor of the member is measured, its children too.
	for _, actor := range []string{"raft", "apply", "transport", "readindex", "watch", "lessor", "apply/compactor"} {
		if _, ok := series(after, "cairn_actor_mailbox_depth", "actor", actor); !ok {
			t.Errorf("no cairn_actor_mailbox_depth of %s", actor)
		}
	}
	if m, ok := series(after, "cairn_actor_message_duration_seconds", "message", "Propose"); !ok ||
		label(m, "actor") != "raft" || m.GetHistogram().GetSampleCount() < 6 {
		t.Errorf("cairn_actor_message_duration_seconds of raft's Propose: %v", m)
	}
	for _, name := range []string{"etcd_debugging_mvcc_watcher_total", "cairn_readindex_pending_reads", "cairn_watch_queued_bytes", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

// The health endpoints answer as etcd's do.
func TestHealthEndpoints(t *testing.T) {
	n := cairntest.Start(t)
	srv := httptest.NewServer(n.MonitorHandler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/health":                             `{"health":"true","reason":""}`,
		"/health?serializable=true":           `{"health":"true","reason":""}`,
		"/livez":                              "ok\n",
		"/readyz":                             "ok\n",
		"/readyz/linearizable_read":           "ok\n",
		"/readyz?exclude=non_learner&verbose": "[+]serializable_read ok\n[+]linearizable_read ok\nok\n",
	} {
		code, body := get(t, srv.URL+path)
		if code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, code, body, want)
		}
	}
	if code, _ := get(t, srv.URL+"/nonexistent"); code != http.StatusNotFound {
		t.Errorf("GET /nonexistent: %d", code)
	}
}

// Peer traffic is counted per peer, with etcd's label.
func TestPeerBytesCounted(t *testing.T) {
	c := cairntest.StartCluster(t, 3)
	leader := c.Leader()
	if _, err := leader.Client.Put(cairntest.Ctx(t), "k", "v"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(leader.MonitorHandler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)
	for _, f := range c.Followers() {
		to := fmt.Sprintf("%x", f.ID())
		if m, ok := series(mfs, "etcd_network_peer_sent_bytes_total", "To", to); !ok || m.GetCounter().GetValue() <= 0 {
			t.Errorf("etcd_network_peer_sent_bytes_total{To=%q}: %v", to, m)
		}
		if m, ok := series(mfs, "etcd_network_peer_received_bytes_total", "From", to); !ok || m.GetCounter().GetValue() <= 0 {
			t.Errorf("etcd_network_peer_received_bytes_total{From=%q}: %v", to, m)
		}
	}
}

// A request slower than the threshold is logged with its request id and
// the duration of each step, as etcd's trace logs.
func TestSlowRequestLoggedWithSteps(t *testing.T) {
	var buf syncBuffer
	n := cairntest.Start(t, func(cfg *cairn.Config) {
		cfg.SlowRequest = time.Nanosecond // every request is slow
		cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if _, err := n.Client.Put(cairntest.Ctx(t), "slow", "v"); err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, `"msg":"request took too long"`) && strings.Contains(l, `"method":"/etcdserverpb.KV/Put"`) {
			line = l
		}
	}
	t.Log(line)
	for _, want := range []string{`"member":"test"`, `"request-id":"`, `"key":"slow"`, `'wait for leader' (duration: `,
		`'raft agreement and apply' (duration: `, `"proposal-id":`, `"revision":2`} {
		if !strings.Contains(line, want) {
			t.Errorf("slow request log %q lacks %s", line, want)
		}
	}
}

func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// value returns the value of an unlabelled gauge or counter.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := mfs[name]
	if !ok || len(f.GetMetric()) != 1 {
		t.Fatalf("no single series %s", name)
	}
	m := f.GetMetric()[0]
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

// count returns the sample count of an unlabelled histogram.
func count(t *testing.T, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := mfs[name]
	if !ok || len(f.GetMetric()) != 1 {
		t.Fatalf("no single series %s", name)
	}
	return float64(f.GetMetric()[0].GetHistogram().GetSampleCount())
}

// series returns the series of name with label key=val.
func series(mfs map[string]*dto.MetricFamily, name, key, val string) (*dto.Metric, bool) {
	for _, m := range mfs[name].GetMetric() {
		if label(m, key) == val {
			return m, true
		}
	}
	return nil, false
}

func label(m *dto.Metric, key string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == key {
			return l.GetValue()
		}
	}
	return ""
}

// waitForGauge scrapes until the unlabelled gauge name has value want.
func waitForGauge(t *testing.T, base, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs := scrape(t, base)
		if f, ok := mfs[name]; ok && len(f.GetMetric()) == 1 && f.GetMetric()[0].GetGauge().GetValue() == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %v: %v", name, want, mfs[name])
		}
		time.Sleep(10 * time.Millisecond) // a background count: no event to await
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
