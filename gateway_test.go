package cairn_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/cairnkv/cairn/cairntest"
)

// post sends body to url as curl -d does and returns the status and the
// body decoded as JSON.
func post(t *testing.T, c *http.Client, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := c.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST %s: %q is not JSON: %v", url, b, err)
	}
	return resp.StatusCode, m
}

// normalise replaces the header fields that differ between servers.
func normalise(m map[string]any) map[string]any {
	if h, ok := m["header"].(map[string]any); ok {
		for _, k := range []string{"cluster_id", "member_id", "raft_term"} {
			if _, ok := h[k]; ok {
				h[k] = "X"
			}
		}
	}
	return m
}

// kvRequests are curl's requests of the gateway's KV paths, in order.
var kvRequests = []struct{ path, body string }{
	{"/v3/kv/put", `{"key": "Zm9v", "value": "YmFy"}`},
	{"/v3/kv/put", `{"key": "Zm9v", "value": "YmF6", "prev_kv": true}`},
	{"/v3/kv/range", `{"key": "Zm9v"}`},
	{"/v3/kv/range", `{"key": "Zm9v", "range_end": "Zm9w", "count_only": true}`},
	{"/v3/kv/range", `{"key": "bm9uZQ=="}`},
	{"/v3/kv/put", `{"key": "", "value": "YmFy"}`},
	{"/v3/kv/deleterange", `{"key": "Zm9v", "prev_kv": true}`},
	{"/v3/kv/txn", `{"compare":[{"key":"Zm9v","result":"EQUAL","target":"VERSION","version":"0"}],"success":[{"request_put":{"key":"Zm9v","value":"YQ=="}}]}`},
	{"/v3/lease/grant", `{"TTL": "60", "ID": "7"}`},
	{"/v3/lease/timetolive", `{"ID": "7"}`},
	{"/v3/nosuch", `{}`},
}

type answer struct {
	Status int
	Body   map[string]any
}

func askKV(t *testing.T, endpoint string) []answer {
	var out []answer
	for _, r := range kvRequests {
		code, body := post(t, http.DefaultClient, "http://"+endpoint+r.path, r.body)
		out = append(out, answer{code, normalise(body)})
	}
	return out
}

// TestGatewayAsEtcd sends the same JSON requests to a member and to etcd
// 3.7.3 and compares the answers, field by field.
func TestGatewayAsEtcd(t *testing.T) {
	t.Parallel()
	n := cairntest.Start(t)
	got := askKV(t, n.Endpoint)
	etcd := cairntest.StartEtcd(t, cairntest.EtcdConfig{})
	want := askKV(t, etcd.Endpoint)
	for i, r := range kvRequests {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("POST %s %s:\n cairn %v\n etcd  %v", r.path, r.body, got[i], want[i])
		}
	}
	for _, path := range []string{"/version", "/health", "/health?serializable=true"} {
		gc, gb := get(t, "http://"+n.Endpoint+path)
		wc, wb := get(t, "http://"+etcd.Endpoint+path)
		if gc != wc || gb != wb {
			t.Errorf("GET %s: cairn %d %q, etcd %d %q", path, gc, gb, wc, wb)
		}
	}
	// Not vacuous: the put answered, and the empty key failed as etcd's.
	if got[0].Status != 200 || got[5].Status != 400 || got[5].Body["message"] != "etcdserver: key is not provided" {
		t.Errorf("put: %v; empty key: %v", got[0], got[5])
	}
}

// TestGatewayWatch watches over HTTP, as curl does: the created response
// and then a put's event arrive on the chunked stream as they happen.
func TestGatewayWatch(t *testing.T) {
	t.Parallel()
	n := cairntest.Start(t)
	resp, err := http.Post("http://"+n.Endpoint+"/v3/watch", "application/json",
		strings.NewReader(`{"create_request": {"key": "Zm9v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("transfer encoding %v, want chunked", resp.TransferEncoding)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() map[string]any {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch stream ended: %v", lines.Err())
		}
		var m struct{ Result map[string]any }
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", lines.Bytes(), err)
		}
		return m.Result
	}
	if created := next(); created["created"] != true {
		t.Fatalf("first message %v, want created", created)
	}
	if _, err := n.Client.Put(cairntest.Ctx(t), "foo", "bar"); err != nil {
		t.Fatal(err)
	}
	events, _ := next()["events"].([]any)
	if len(events) != 1 {
		t.Fatalf("events %v, want the put", events)
	}
	kv := events[0].(map[string]any)["kv"].(map[string]any)
	if kv["key"] != "Zm9v" || kv["value"] != "YmFy" {
		t.Errorf("event kv %v, want foo=bar in base64", kv)
	}
}

// TestClientPortHTTP checks the paths etcd serves beside the gateway.
func TestClientPortHTTP(t *testing.T) {
	t.Parallel()
	n := cairntest.Start(t)
	for _, c := range []struct{ path, want string }{
		{"/health", `{"health":"true","reason":""}`},
		{"/health?serializable=true", `{"health":"true","reason":""}`},
		{"/livez", "ok\n"},
		{"/readyz", "ok\n"},
		{"/metrics", "etcd_server_has_leader 1"},
	} {
		resp, err := http.Get("http://" + n.Endpoint + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), c.want) {
			t.Errorf("GET %s: %d %q, want 200 and %q", c.path, resp.StatusCode, b, c.want)
		}
	}
	// gRPC still works on the port (cairntest's client is connected to it).
	if _, err := n.Client.Get(cairntest.Ctx(t), "k"); err != nil {
		t.Errorf("gRPC beside HTTP: %v", err)
	}
}

// TestGatewayAuth authenticates over HTTP and passes the token in the
// Authorization header, as etcd's gateway takes it.
func TestGatewayAuth(t *testing.T) {
	t.Parallel()
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	if _, err := n.Client.UserAdd(ctx, "root", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Client.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Client.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + n.Endpoint
	code, body := post(t, http.DefaultClient, base+"/v3/auth/authenticate", `{"name": "root", "password": "pw"}`)
	token, _ := body["token"].(string)
	if code != 200 || token == "" {
		t.Fatalf("authenticate: %d %v", code, body)
	}
	put := func(auth string) (int, map[string]any) {
		req, err := http.NewRequest("POST", base+"/v3/kv/put", strings.NewReader(`{"key": "Zm9v", "value": "YmFy"}`))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, body := put(""); code == 200 {
		t.Errorf("put without a token: %d %v, want refused", code, body)
	}
	if code, body := put(token); code != 200 {
		t.Errorf("put with the token: %d %v", code, body)
	}
}

// TestGatewayWatchAsEtcd compares a watch's messages over HTTP with etcd's:
// created, then a put's event.
func TestGatewayWatchAsEtcd(t *testing.T) {
	t.Parallel()
	watch := func(endpoint string) []string {
		resp, err := http.Post("http://"+endpoint+"/v3/watch", "application/json",
			strings.NewReader(`{"create_request": {"key": "Zm9v", "prev_kv": true}}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		var out []string
		for i := 0; i < 2; i++ {
			if i == 1 {
				post(t, http.DefaultClient, "http://"+endpoint+"/v3/kv/put", `{"key": "Zm9v", "value": "YmFy"}`)
			}
			if !lines.Scan() {
				t.Fatalf("%s: watch stream ended: %v", endpoint, lines.Err())
			}
			var m map[string]any
			if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
				t.Fatalf("%q: %v", lines.Bytes(), err)
			}
			if r, ok := m["result"].(map[string]any); ok {
				normalise(r)
			}
			b, _ := json.Marshal(m)
			out = append(out, string(b))
		}
		return out
	}
	got := watch(cairntest.Start(t).Endpoint)
	want := watch(cairntest.StartEtcd(t, cairntest.EtcdConfig{}).Endpoint)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("watch over HTTP:\n cairn %q\n etcd  %q", got, want)
	}
	if !strings.Contains(got[1], `"value":"YmFy"`) {
		t.Errorf("event %s, want the put", got[1])
	}
}
