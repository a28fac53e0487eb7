package raftactor

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A warning raft gives once per message is logged at most once a second,
// with the count of those held back; other formats are not held back by it.
func TestWarningsHeldBack(t *testing.T) {
	var out bytes.Buffer
	g := newLogger(slog.New(slog.NewTextHandler(&out, nil)))
	now := time.Unix(1000, 0)
	g.warns.nowFor = func() time.Time { return now }
	const drop = "%x appending new entries to log would exceed uncommitted entry size limit; dropping proposal"
	for range 5 {
		g.Warningf(drop, 1)
	}
	g.Warningf("%x other warning", 1)
	now = now.Add(warnInterval)
	g.Warningf(drop, 1)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines logged, want 3:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], "dropping proposal") || strings.Contains(lines[0], "held-back") {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.Contains(lines[1], "other warning") {
		t.Errorf("second line %q, want the other format's", lines[1])
	}
	if !strings.Contains(lines[2], "dropping proposal") || !strings.Contains(lines[2], "held-back=4") {
		t.Errorf("third line %q, want the drop with held-back=4", lines[2])
	}
}
