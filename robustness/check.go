package robustness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// outcome is what a run leaves to check.
type outcome struct {
	Seed     uint64
	Ops      []porcupine.Operation // as recorded, before resolve
	Serial   []serialRead
	Events   []event // the final event history, from revision 1
	FinalRev int64
	Streams  []watchStream
	// End is a timestamp after every operation's return (see resolve).
	End int64
	// Faults are the injector's actions, shown in the visualisation.
	Faults []porcupine.Annotation
	// Diverged: members whose event histories differ from the first's.
	Diverged []string
}

// verdict is what the checks found.
type verdict struct {
	Failures []string
	// Linearizable is porcupine's answer (Unknown after its timeout,
	// which counts as a failure: the history was not checked).
	Linearizable porcupine.CheckResult
	info         porcupine.LinearizationInfo
	Checked      int           // operations porcupine checked
	CheckTime    time.Duration // porcupine took
}

// check runs every check of o; porcupine gets at most timeout.
func check(o outcome, timeout time.Duration) verdict {
	var v verdict
	v.Failures = append(v.Failures, o.Diverged...)
	v.Failures = append(v.Failures, checkEventHistory(o.Events, o.FinalRev)...)
	v.Failures = append(v.Failures, checkAcknowledged(o.Ops, o.Events)...)
	v.Failures = append(v.Failures, checkSerializable(o.Serial, o.Events, o.FinalRev)...)
	for _, w := range o.Streams {
		v.Failures = append(v.Failures, checkWatch(upTo(w, o.FinalRev), o.Events, o.FinalRev)...)
	}
	ops := resolve(o.Ops, o.Events, o.End)
	v.Checked = len(ops)
	// The verbose check, which keeps the partial linearisations the
	// visualisation shows, is several times slower: only for a failure.
	start := time.Now()
	v.Linearizable = porcupine.CheckOperationsTimeout(kvModel, ops, timeout)
	v.CheckTime = time.Since(start)
	if v.Linearizable != porcupine.Ok {
		_, v.info = porcupine.CheckOperationsVerbose(kvModel, ops, timeout)
	}
	switch v.Linearizable {
	case porcupine.Illegal:
		v.Failures = append(v.Failures, fmt.Sprintf("the history of %d operations is not linearizable", len(ops)))
	case porcupine.Unknown:
		v.Failures = append(v.Failures, fmt.Sprintf("porcupine did not finish checking %d operations within %v", len(ops), timeout))
	}
	v.info.AddAnnotations(o.Faults)
	return v
}

// OutDirEnv names the directory failing runs write into (default: the
// system's temporary directory).
const OutDirEnv = "CAIRN_ROBUSTNESS_OUT"

// write saves what a failing run needs to be studied and repeated into a
// new directory, and returns its path: history.html (porcupine's
// visualisation, with the faults as annotations), failures.txt, and seed.
func (v verdict) write(name string, o outcome) (string, error) {
	base := os.Getenv(OutDirEnv)
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(base, fmt.Sprintf("cairn-robustness-%s-%d-", sanitize(name), o.Seed))
	if err != nil {
		return "", err
	}
	if err := porcupine.VisualizePath(kvModel, v.info, filepath.Join(dir, "history.html")); err != nil {
		return dir, err
	}
	if err := os.WriteFile(filepath.Join(dir, "seed"), fmt.Appendf(nil, "%d\n", o.Seed), 0o644); err != nil {
		return dir, err
	}
	var b strings.Builder
	for _, f := range v.Failures {
		b.WriteString(f + "\n")
	}
	b.WriteString("\nfaults:\n")
	for _, f := range slices.SortedFunc(slices.Values(o.Faults), func(a, b porcupine.Annotation) int { return int(a.Start - b.Start) }) {
		fmt.Fprintf(&b, "%8.3fs %8.3fs %s\n", float64(f.Start)/1e9, float64(f.End)/1e9, f.Description)
	}
	return dir, os.WriteFile(filepath.Join(dir, "failures.txt"), []byte(b.String()), 0o644)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, s)
}

// upTo returns w without the events past rev: a write whose outcome its
// client did not learn may commit after the final read, and a watcher may
// see it; the checked history ends at the final read's revision.
func upTo(w watchStream, rev int64) watchStream {
	for i, e := range w.Events {
		if e.Rev > rev {
			w.Events = w.Events[:i:i]
			break
		}
	}
	return w
}
