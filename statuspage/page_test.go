package statuspage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/cairntest"
	"github.com/cairnkv/cairn/statuspage"
)

// The status page of a loaded 3-member cluster's leader, in headless
// Chromium: it draws its three plots from the samples taken while it was
// open, and the values it shows are those of /status.json and /metrics.
// CAIRN_STATUS_SCREENSHOT=FILE saves the screenshot there (docs/status.png
// is the latest); otherwise it goes to the test's temporary directory.
func TestStatusPageInChromium(t *testing.T) {
	chrome := chromium(t)
	c := cairntest.StartCluster(t, 3)
	leader := c.Leader()
	base := serve(t, leader.MonitorHandler())
	for _, m := range c.Members {
		if m != leader {
			serve(t, m.MonitorHandler())
		}
	}
	if home := get(t, base+"/"); !strings.Contains(home, `href="/status"`) {
		t.Fatalf("/ does not link /status:\n%s", home)
	}

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 1700))...)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	// The first action starts the browser, for as long as browser lives.
	if err := chromedp.Do(browser, chromedp.Navigate(base+"/status")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()

	// Load while the page looks: puts through the leader, a watch stream
	// with two watchers, a lease.
	cli := leader.Client
	wctx, wcancel := context.WithCancel(cairntest.Ctx(t))
	defer wcancel()
	watchA := cli.Watch(clientv3.WithRequireLeader(wctx), "load/", clientv3.WithPrefix())
	watchB := cli.Watch(clientv3.WithRequireLeader(wctx), "load/0")
	go drain(watchA)
	go drain(watchB)
	if _, err := cli.Grant(cairntest.Ctx(t), 600); err != nil {
		t.Fatal(err)
	}
	puts := load(t, cli)

	// The figures are drawn once the page has three plots and samples
	// taken under load.
	poll(t, ctx, `document.querySelectorAll(".uplot canvas").length === 3 && Number(document.body.dataset.samples) >= 6`)
	puts.stop()
	t.Logf("%d puts", puts.n.Load())

	quiet := waitQuiet(t, base)
	poll(t, ctx, fmt.Sprintf(`Number(document.body.dataset.reportTime) > %f`, quiet.Time))

	// What the page shows, read in the browser; then the same from
	// /status.json and /metrics. The cluster is quiet, but a tick may
	// still move something between the reads: try a few times.
	var errs []string
	for range 5 {
		page, err := chromedp.Run(ctx, chromedp.Evaluate[pageValues](readPage))
		if err != nil {
			t.Fatal(err)
		}
		var rep statuspage.Report
		if err := json.Unmarshal([]byte(get(t, base+"/status.json")), &rep); err != nil {
			t.Fatal(err)
		}
		if errs = compare(page, &rep, metrics(t, base)); len(errs) == 0 {
			break
		}
		time.Sleep(time.Second) // the page's next refresh
	}
	if len(errs) > 0 {
		t.Fatalf("the page disagrees:\n%s", strings.Join(errs, "\n"))
	}
	if !sampledLoad(quiet) {
		t.Fatalf("no sample saw requests: %v", quiet.Samples.PerSecond)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("CAIRN_STATUS_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "status.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
}

// pageValues are the page's cells: data-key values, and the rows of its
// tables by id.
type pageValues struct {
	Keys      map[string]string   `json:"keys"`
	Budget    map[string][]string `json:"budget"`
	Actors    map[string][]string `json:"actors"`
	Followers map[string][]string `json:"followers"`
	Charts    int                 `json:"charts"`
}

const readPage = `(() => {
  const keys = {};
  for (const el of document.querySelectorAll("[data-key]")) keys[el.dataset.key] = el.dataset.value;
  const rows = (sel) => {
    const out = {};
    for (const tr of document.querySelectorAll(sel + " tbody tr")) out[tr.dataset.row] = [...tr.cells].map((c) => c.dataset.value ?? c.textContent);
    return out;
  };
  return {keys, budget: rows("#budget"), actors: rows("#actors"), followers: rows("#followers"),
    charts: document.querySelectorAll(".uplot canvas").length};
})()`

// compare checks the page against the report and the metrics, and the
// report against the metrics.
func compare(page pageValues, rep *statuspage.Report, m map[string]float64) []string {
	var errs []string
	check := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			errs = append(errs, fmt.Sprintf("%s: %v, want %v", what, got, want))
		}
	}
	num := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
	k := page.Keys
	check("charts", page.Charts, 3)
	check("member.name", k["member.name"], rep.Member.Name)
	check("member.id", k["member.id"], rep.Member.ID)
	check("raft.leader", k["raft.leader"], rep.Raft.Leader)
	check("raft.state", k["raft.state"], "StateLeader")
	for key, want := range map[string]float64{
		"raft.term":                    m["cairn_raft_term"],
		"raft.commit":                  m["etcd_server_proposals_committed_total"],
		"raft.applied":                 m["etcd_server_proposals_applied_total"],
		"raft.leader_changes":          m["etcd_server_leader_changes_seen_total"],
		"requests.watch_streams":       m["etcd_debugging_mvcc_watch_stream_total"],
		"requests.watchers":            m["etcd_debugging_mvcc_watcher_total"],
		"requests.leases_held":         m["cairn_lessor_items_held"],
		"requests.proposals_pending":   m["etcd_server_proposals_pending"],
		"requests.reads_pending":       m["cairn_readindex_pending_reads"],
		"requests.streams_catching_up": m["cairn_watch_streams_catching_up"],
		"memory.total":                 float64(rep.Memory.Total),
	} {
		check(key, num(k[key]), want)
	}
	check("report commit", float64(rep.Raft.Commit), m["etcd_server_proposals_committed_total"])
	check("report unary", rep.Requests.Unary, m["grpc_server_handling_seconds_count"])
	check("watch streams", rep.Requests.WatchStreams, 1.0)
	check("watchers", rep.Requests.Watchers, 2.0)
	if rep.Requests.LeasesHeld < 1 {
		errs = append(errs, fmt.Sprintf("leases held %v, want the granted lease", rep.Requests.LeasesHeld))
	}
	// RSS and the heap move from one report to the next: the page's is
	// the last it drew.
	if rss := num(k["memory.rss"]); rss <= 0 || rss < 0.7*m["process_resident_memory_bytes"] || rss > 1.3*m["process_resident_memory_bytes"] {
		errs = append(errs, fmt.Sprintf("page RSS %v, metrics %v", rss, m["process_resident_memory_bytes"]))
	}

	check("budget rows", len(page.Budget), len(rep.Memory.Items))
	for _, it := range rep.Memory.Items {
		row := page.Budget[it.Key]
		if len(row) < 2 {
			errs = append(errs, "no budget row "+it.Key)
			continue
		}
		check("budget "+it.Key, num(row[0]), float64(it.Bytes))
		if (row[1] == "not measured") != (it.Used == nil) {
			errs = append(errs, fmt.Sprintf("budget %s uses %q, report %v", it.Key, row[1], it.Used))
		}
	}

	check("follower rows", len(page.Followers), 3)
	for _, f := range rep.Raft.Followers {
		row := page.Followers[f.ID]
		if len(row) < 4 {
			errs = append(errs, "no follower row "+f.ID)
			continue
		}
		check("follower "+f.ID+" match", num(row[1]), float64(rep.Raft.Commit))
		check("follower "+f.ID+" state", row[3], "StateReplicate")
	}

	for _, role := range []string{"raft", "apply", "readindex", "transport", "watch", "watch/stream"} {
		row := page.Actors[role]
		if len(row) < 7 {
			errs = append(errs, "no actor row "+role)
			continue
		}
		check(role+" running", num(row[1]), m[`cairn_actor_running{actor="`+role+`"}`])
		check(role+" restarts", num(row[6]), 0.0)
		if row[3] == "" || row[3] == "—" {
			errs = append(errs, role+": no messages/s")
		}
	}
	return errs
}

// waitQuiet waits until the leader has applied everything it committed
// and two reports in a row show the same commit index; it returns the
// last.
func waitQuiet(t *testing.T, base string) *statuspage.Report {
	t.Helper()
	var prev uint64
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var rep statuspage.Report
		if err := json.Unmarshal([]byte(get(t, base+"/status.json")), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Raft.Commit == rep.Raft.Applied && rep.Raft.Commit == prev && rep.Requests.ProposalsPending == 0 {
			return &rep
		}
		prev = rep.Raft.Commit
		time.Sleep(time.Second) // a report is a sample a second
	}
	t.Fatal("the leader did not settle")
	return nil
}

func sampledLoad(rep *statuspage.Report) bool {
	for _, r := range rep.Samples.PerSecond {
		if r != nil && *r > 0 {
			return true
		}
	}
	return false
}

// poll waits until expr is true in the page.
func poll(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(time.Minute)))
	if err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.TextContent("#error"))
		t.Fatalf("waiting for %s: %v (page error: %q)", expr, err, errText)
	}
}

// putter is the load: puts of 1 KiB values from 8 goroutines.
type putter struct {
	n    atomic.Int64
	done chan struct{}
	wg   sync.WaitGroup
}

func load(t *testing.T, cli *clientv3.Client) *putter {
	p := &putter{done: make(chan struct{})}
	value := strings.Repeat("v", 1024)
	for g := range 8 {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-p.done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := cli.Put(ctx, fmt.Sprintf("load/%d/%d", g, i%100), value)
				cancel()
				if err == nil {
					p.n.Add(1)
				}
			}
		}()
	}
	t.Cleanup(p.stop)
	return p
}

func (p *putter) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
}

func drain(ch clientv3.WatchChan) {
	for range ch {
	}
}

// serve serves h on a free port of 127.0.0.1 until the test ends, and
// returns its base URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// metrics returns /metrics's samples: by name for those without labels or
// summed over their series, and by name{label="value"} for series with
// one label.
func metrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(get(t, base+"/metrics")))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var v float64
			switch {
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[name+"_count"] += float64(m.GetHistogram().GetSampleCount())
				continue
			default:
				continue
			}
			out[name] += v
			if ls := m.GetLabel(); len(ls) == 1 {
				out[fmt.Sprintf("%s{%s=%q}", name, ls[0].GetName(), ls[0].GetValue())] = v
			}
		}
	}
	return out
}
