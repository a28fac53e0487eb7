package cairntest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RequireJaegerEnv, set to 1, turns a missing tools/bin/jaeger from a skip
// into a failure (CI sets it when it builds Jaeger).
const RequireJaegerEnv = "CAIRN_REQUIRE_JAEGER"

// Jaeger is a Jaeger v2 process (tools/bin/jaeger, built by make jaeger)
// with in-memory storage, started by StartJaeger on free ports of
// 127.0.0.1.
type Jaeger struct {
	*Process
	// OTLPEndpoint receives OTLP/gRPC, host:port (for --otlp-endpoint).
	OTLPEndpoint string
	// QueryURL is the base of the query API and UI, http://host:port.
	QueryURL string
}

// StartJaeger starts Jaeger with scripts/jaeger-local.yaml, its ports
// replaced by free ones, and waits until its query API answers. It skips
// the test if tools/bin/jaeger is missing (run make jaeger), or fails it
// when CAIRN_REQUIRE_JAEGER=1.
func StartJaeger(t testing.TB) *Jaeger {
	t.Helper()
	root := ModuleRoot(t)
	bin := filepath.Join(root, "tools", "bin", "jaeger")
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("%s is missing (run make jaeger, about 5 minutes): %v", bin, err)
		if os.Getenv(RequireJaegerEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	conf, err := os.ReadFile(filepath.Join(root, "scripts", "jaeger-local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]string{}
	for _, p := range []string{"4317", "4318", "16686", "16685", "13133"} {
		ports[p] = fmt.Sprintf("%d", FreePort(t))
	}
	text := string(conf)
	for old, p := range ports {
		text = strings.ReplaceAll(text, "127.0.0.1:"+old, "127.0.0.1:"+p)
	}
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	j := &Jaeger{
		Process:      StartProcess(t, "jaeger", bin, "--config", "file:"+path),
		OTLPEndpoint: "127.0.0.1:" + ports["4317"],
		QueryURL:     "http://127.0.0.1:" + ports["16686"],
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		if j.ready(ctx) {
			return j
		}
		select {
		case <-j.Done():
			t.Fatalf("jaeger exited: %v", j.Err())
		case <-ctx.Done():
			t.Fatalf("jaeger not answering after %v", StartTimeout)
		case <-poll.C:
		}
	}
}

// JaegerTrace is one trace as Jaeger's HTTP API returns it.
type JaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []JaegerSpan             `json:"spans"`
	Processes map[string]JaegerProcess `json:"processes"`
}

// JaegerSpan is one span of a JaegerTrace.
type JaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

// JaegerProcess is the service a span came from.
type JaegerProcess struct {
	ServiceName string `json:"serviceName"`
}

// Service returns the service name of span s of trace tr.
func (tr JaegerTrace) Service(s JaegerSpan) string { return tr.Processes[s.ProcessID].ServiceName }

// Tag returns the value of span s's tag key, as text, or "".
func (s JaegerSpan) Tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// Traces queries Jaeger's /api/traces with q (service is required;
// operation, limit, lookback, ...).
func (j *Jaeger) Traces(ctx context.Context, q url.Values) ([]JaegerTrace, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryURL+"/api/traces?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Data   []JaegerTrace `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("jaeger: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaeger: %s: %v", resp.Status, out.Errors)
	}
	return out.Data, nil
}

// ready reports whether the query API answers.
func (j *Jaeger) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryURL+"/api/services", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
