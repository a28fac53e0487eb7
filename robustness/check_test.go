package robustness

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// These tests feed the checks histories that break each rule, so that
// every check is shown able to fail, and a good history, so that none
// fails for nothing.

// op builds a porcupine operation of client c from call to ret.
func op(c int, call, ret int64, in input, out output) porcupine.Operation {
	return porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret}
}

func putIn(key int, value string) input { return input{Kind: opPut, Key: key, Value: value} }
func getIn(key int) input               { return input{Kind: opGet, Key: key} }

func rec(value string, rev int64) kv {
	return kv{Value: value, ModRev: rev, CreateRev: rev, Version: 1}
}

// goodOutcome: two puts, a read of each, a delete, a cas by value, a
// lease with a key that its revoke deletes, a watch that saw it all.
func goodOutcome() outcome {
	ops := []porcupine.Operation{
		op(0, 0, 10, putIn(0, "a"), output{Rev: 2}),
		op(1, 5, 20, getIn(0), output{Rev: 2, KV: rec("a", 2)}),
		op(0, 21, 30, putIn(1, "b"), output{Rev: 3}),
		op(1, 31, 40, input{Kind: opCAS, Key: 1, CmpByValue: true, CmpValue: "b", Value: "c"}, output{Succeeded: true, Rev: 4}),
		op(0, 41, 50, input{Kind: opDelete, Key: 0}, output{Rev: 5, Deleted: 1}),
		op(1, 51, 60, input{Kind: opGrant, Lease: 1}, output{}),
		op(1, 61, 70, input{Kind: opPut, Key: 2, Value: "d", Lease: 1}, output{Rev: 6}),
		op(0, 61, 70, input{Kind: opCAS, Key: 0, CmpModRev: 2, Value: "x"}, output{Rev: 5}), // compare fails: absent
		op(1, 71, 80, input{Kind: opRevoke, Lease: 1}, output{}),
		op(0, 81, 90, getIn(2), output{Rev: 7}),
		// Failed: a put that took effect after all (its value is in the
		// history), one that did not.
		op(2, 1, 3, putIn(3, "lost-in-flight"), output{Unknown: true}),
		op(2, 4, 5, putIn(3, "never"), output{Unknown: true}),
	}
	events := []event{
		{Rev: 2, Key: 0, Put: true, Value: "a"},
		{Rev: 3, Key: 1, Put: true, Value: "b"},
		{Rev: 4, Key: 1, Put: true, Value: "c"},
		{Rev: 5, Key: 0},
		{Rev: 6, Key: 2, Put: true, Value: "d", Lease: 1},
		{Rev: 7, Key: 2},
		{Rev: 8, Key: 3, Put: true, Value: "lost-in-flight"},
	}
	return outcome{
		Seed: 1, Ops: ops, Events: events, FinalRev: 8, End: 100,
		Serial: []serialRead{
			{Client: 3, Key: 0, KV: rec("a", 2), Rev: 3},
			{Client: 3, Key: 0, Rev: 6},
		},
		// The watcher also saw a write that committed after the final
		// read (its client had given up on it): past the checked history.
		Streams: []watchStream{{Name: "w", StartRev: 3, Events: append(events[1:len(events):len(events)],
			event{Rev: 9, Key: 3, Put: true, Value: "late"})}},
	}
}

func TestCheckGoodHistory(t *testing.T) {
	v := check(goodOutcome(), 10*time.Second)
	if len(v.Failures) > 0 || v.Linearizable != porcupine.Ok {
		t.Fatalf("a good history fails: %v (%s)", v.Failures, v.Linearizable)
	}
	if v.Checked != len(goodOutcome().Ops)-1 {
		t.Errorf("checked %d operations, want all but the failed put that did nothing", v.Checked)
	}
}

func TestCheckBadHistories(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func(o *outcome)
		want string
	}{
		{"stale linearizable read", func(o *outcome) {
			// Reads key 0 after its delete was acknowledged.
			o.Ops = append(o.Ops, op(3, 55, 56, getIn(0), output{Rev: 5, KV: rec("a", 2)}))
		}, "not linearizable"},
		{"wrong revision", func(o *outcome) {
			o.Ops[2].Output = output{Rev: 4}
		}, "not linearizable"},
		{"cas succeeded against a failed compare", func(o *outcome) {
			o.Ops[3].Input = input{Kind: opCAS, Key: 1, CmpByValue: true, CmpValue: "zzz", Value: "c"}
		}, "not linearizable"},
		{"put with a revoked lease", func(o *outcome) {
			o.Ops = append(o.Ops, op(3, 85, 86, input{Kind: opPut, Key: 4, Value: "e", Lease: 1}, output{Rev: 9}))
			o.Events = append(o.Events, event{Rev: 9, Key: 4, Put: true, Value: "e", Lease: 1})
			o.FinalRev = 9
		}, "not linearizable"},
		{"revoke left its key", func(o *outcome) {
			o.Ops[9].Output = output{Rev: 7, KV: kv{Value: "d", ModRev: 6, CreateRev: 6, Version: 1, Lease: 1}}
		}, "not linearizable"},
		{"lost acknowledged write", func(o *outcome) {
			o.Events = append(o.Events[:1:1], o.Events[2:]...)
		}, "acknowledged write lost"},
		{"revision gap in the event history", func(o *outcome) {
			o.Events[6].Rev, o.FinalRev = 9, 9
		}, "after revision 7"},
		{"unexplained revision", func(o *outcome) {
			// The history has a write nobody made: a failed put dropped
			// wrongly would look so to the model.
			o.Events = append(o.Events, event{Rev: 9, Key: 5, Put: true, Value: "ghost"})
			o.FinalRev = 9
			o.Ops = append(o.Ops, op(3, 95, 96, getIn(5), output{Rev: 9, KV: rec("ghost", 9)}))
		}, "not linearizable"},
		{"serializable read of a value the keyspace never had at its revision", func(o *outcome) {
			o.Serial[0].KV = rec("b", 2)
		}, "serializable get"},
		{"serializable reads going back", func(o *outcome) {
			o.Serial = append(o.Serial, serialRead{Client: 3, Key: 1, KV: rec("b", 3), Rev: 3})
		}, "after one at 6"},
		{"watch gap after a resume", func(o *outcome) {
			o.Streams[0].Events = append(o.Streams[0].Events[:2:2], o.Streams[0].Events[3:]...)
			o.Streams[0].Resumes = 1
		}, "a gap"},
		{"watch duplicate", func(o *outcome) {
			s := o.Streams[0].Events
			o.Streams[0].Events = append(s[:3:3], s[2:]...)
		}, "a duplicate"},
		{"watch stalled", func(o *outcome) {
			o.Streams[0].Events = o.Streams[0].Events[:3]
		}, "stopped at revision 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := goodOutcome()
			tc.bad(&o)
			v := check(o, 10*time.Second)
			got := strings.Join(v.Failures, "\n")
			if !strings.Contains(got, tc.want) {
				t.Fatalf("failures %q, want one with %q", got, tc.want)
			}
		})
	}
}

// TestVerdictWrite checks that a failure leaves the visualisation and the
// seed behind.
func TestVerdictWrite(t *testing.T) {
	t.Setenv(OutDirEnv, t.TempDir())
	o := goodOutcome()
	o.Ops[2].Output = output{Rev: 4}
	o.Faults = []porcupine.Annotation{{Tag: "faults", Start: 10, End: 20, Description: "kill m1"}}
	v := check(o, 10*time.Second)
	dir, err := v.write("TestX/sub", o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"history.html", "seed", "failures.txt"} {
		b, err := os.ReadFile(dir + "/" + f)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v, %d bytes", f, err, len(b))
		}
	}
}
