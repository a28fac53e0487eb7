package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/cairntest"
)

func TestObserveFlags(t *testing.T) {
	o, err := parseFlags([]string{"--name", "m1", "--otlp-endpoint", "127.0.0.1:4317", "--otlp-insecure",
		"--trace-sampling-rate", "0.25", "--listen-metrics-urls", "http://127.0.0.1:2381",
		"--log-outputs", "stderr,/tmp/x.log", "--log-rotation-config-json", `{"maxsize": 5, "maxbackups": 3}`,
		"--warning-apply-duration", "250ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ob := o.observe
	if ob.tracing.Endpoint != "127.0.0.1:4317" || !ob.tracing.Insecure || ob.tracing.SamplingRate != 0.25 ||
		len(ob.listenMetricsURLs) != 1 || strings.Join(ob.logOutputs, ",") != "stderr,/tmp/x.log" ||
		ob.logRotation.MaxSize != 5 || ob.logRotation.MaxBackups != 3 || o.cfg.SlowRequest != 250*time.Millisecond {
		t.Fatalf("parsed %+v, slow request %v", ob, o.cfg.SlowRequest)
	}
	for _, bad := range [][]string{
		{"--trace-sampling-rate", "1.5"},
		{"--listen-metrics-urls", "127.0.0.1:2381"},
		{"--log-rotation-config-json", "{"},
		{"--log-outputs", ","},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// A log file rotates once it reaches maxsize.
func TestLogFileRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	o := &observeOptions{logOutputs: []string{filepath.Join(dir, "member.log")}, logRotation: logRotation{MaxSize: 1}}
	w, closeLogs := openLogOutputs(o, io.Discard)
	line := strings.Repeat("x", 1023) + "\n"
	for range 1100 { // 1.1 MB
		if _, err := io.WriteString(w, line); err != nil {
			t.Fatal(err)
		}
	}
	closeLogs()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("files after 1.1 MB with maxsize 1 MB: %v, want the log and one backup", files)
	}
}

// The member binary serves /metrics, /health and the status page on
// --listen-metrics-urls, and logs, as JSON to a file, every request with
// its id and the member's name.
func TestMetricsURLAndRequestLogs(t *testing.T) {
	metrics := fmt.Sprintf("127.0.0.1:%d", cairntest.FreePort(t))
	logFile := filepath.Join(t.TempDir(), "member.log")
	s := cairntest.StartNodeProcess(t, "", "--name", "m1", "--listen-metrics-urls", "http://"+metrics,
		"--log-outputs", logFile, "--log-format", "json", "--log-level", "debug")
	c := cairntest.NewClient(t, s.Endpoint)
	if _, err := c.Put(cairntest.Ctx(t), "k", "v"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/health":  `{"health":"true","reason":""}`,
		"/metrics": "\netcd_server_has_leader 1\n",
		// The status page (package statuspage) and what it draws; the
		// put above was timed.
		"/":             `href="/status"`,
		"/status":       `/status/uplot/uPlot.iife.min.js`,
		"/status.json":  `"name":"m1"`,
		"/metrics#grpc": `grpc_server_handling_seconds_count{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 1`,
	} {
		path, _, _ = strings.Cut(path, "#")
		resp, err := http.Get("http://" + metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, want %q in:\n%.500s", path, resp.Status, want, body)
		}
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if rec["member"] != "m1" {
			t.Errorf("log line without member m1: %s", l)
		}
		if rec["msg"] == "request" && rec["method"] == "/etcdserverpb.KV/Put" && rec["request-id"] != nil && rec["key"] == "k" {
			found = true
		}
	}
	if !found {
		t.Errorf("no request log of the put in:\n%s", b)
	}
}
