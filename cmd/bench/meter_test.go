package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (cairn (node) x) S 1 4242 4242 0 -1 4194560 2000 0 3 0 150 25 0 0 20 0 12 0 100 1000000 5000 18446744073709551615\n"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1750 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Error("parseStatCPU of a short line: no error")
	}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseStatCPU(string(b)); err != nil {
		t.Errorf("parseStatCPU(/proc/self/stat): %v", err)
	}
}

func TestParseProcIO(t *testing.T) {
	text := "rchar: 6976\nwchar: 1234\nsyscr: 10\nsyscw: 3\nread_bytes: 0\nwrite_bytes: 8192\ncancelled_write_bytes: 4096\n"
	wb, wc, err := parseProcIO(text)
	if err != nil || wb != 8192 || wc != 1234 {
		t.Errorf("parseProcIO = %d, %d, %v; want 8192, 1234", wb, wc, err)
	}
	if _, _, err := parseProcIO("rchar: 1\n"); err == nil {
		t.Error("parseProcIO without write_bytes: no error")
	}
	if _, _, err := parseProcIO("wchar: x\nwrite_bytes: 1\n"); err == nil {
		t.Error("parseProcIO of a bad number: no error")
	}
}

func TestMetricValue(t *testing.T) {
	text := `# HELP go_memstats_alloc_bytes Number of bytes allocated in heap and currently in use.
go_memstats_alloc_bytes 1.2e+06
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 5.396512e+06
go_memstats_alloc_bytes_total_other 7
`
	v, err := metricValue(strings.NewReader(text), "go_memstats_alloc_bytes_total")
	if err != nil || v != 5396512 {
		t.Errorf("metricValue = %v, %v; want 5396512", v, err)
	}
	if _, err := metricValue(strings.NewReader(text), "absent_total"); err == nil {
		t.Error("metricValue of an absent metric: no error")
	}
}

func TestMetricSum(t *testing.T) {
	text := `# TYPE cairn_actor_restarts_total counter
cairn_actor_restarts_total{actor="apply"} 2
cairn_actor_restarts_total{actor="raft",x="a}b"} 3
cairn_actor_restarts_total_other 7
cairn_actor_restarts_total 1
`
	v, err := metricSum(strings.NewReader(text), "cairn_actor_restarts_total")
	if err != nil || v != 6 {
		t.Errorf("metricSum = %v, %v; want 6", v, err)
	}
	if v, err := metricSum(strings.NewReader(text), "absent_total"); err != nil || v != 0 {
		t.Errorf("metricSum of an absent metric = %v, %v; want 0", v, err)
	}
}
