package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestMemoryFlags(t *testing.T) {
	o, err := parseFlags([]string{
		"--max-response-bytes=1000", "--raft-entry-cache-bytes=-1", "--apply-catch-up-bytes=2048",
		"--snapshot-chunk-bytes=4096", "--watch-hub-bytes=8192", "--watch-max-streams=3", "--memory-limit=123456789",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.MaxResponseBytes != 1000 || c.RaftEntryCacheBytes != -1 || c.ApplyCatchUpBytes != 2048 ||
		c.SnapshotChunkBytes != 4096 || c.Watch.HubBytes != 8192 || c.Watch.MaxStreams != 3 || o.memory.limit != 123456789 {
		t.Fatalf("flags not set: %+v, memory %+v", c, o.memory)
	}
	for _, bad := range []string{"--max-response-bytes=0", "--snapshot-chunk-bytes=0", "--watch-hub-bytes=-1"} {
		if _, err := parseFlags([]string{bad}, io.Discard); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(strings.Split(bad, "=")[0], "--")) {
			t.Errorf("%s: error %v, want one naming the flag", bad, err)
		}
	}
}

func TestPrintMemoryBudget(t *testing.T) {
	o, err := parseFlags([]string{"--print-memory-budget", "--pebble-cache-bytes=1048576"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if !applyMemory(o, &out, slog.New(slog.NewTextHandler(io.Discard, nil))) {
		t.Fatal("--print-memory-budget did not end the run")
	}
	for _, want := range []string{"1.0 MiB", "pebble block cache", "--raft-max-inflight-bytes", "total without clients", "GOMEMLIMIT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("budget lacks %q:\n%s", want, out.String())
		}
	}
}
