package robustness

import (
	"fmt"

	"github.com/anishathalye/porcupine"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// event is one change of a workload key, as a watch reports it.
type event struct {
	Rev   int64
	Key   int
	Put   bool // false: a delete
	Value string
	Lease int // see leaseID
}

func (e event) String() string {
	if e.Put {
		return fmt.Sprintf("rev %d put %s=%q", e.Rev, keyName(e.Key), e.Value)
	}
	return fmt.Sprintf("rev %d delete %s", e.Rev, keyName(e.Key))
}

// fromWatch converts a watch event; ok is false for a key the workload
// does not use.
func fromWatch(ev *mvccpb.Event) (event, bool) {
	i := keyIndex(string(ev.Kv.Key))
	if i < 0 {
		return event{}, false
	}
	e := event{Rev: ev.Kv.ModRevision, Key: i, Put: ev.Type == mvccpb.PUT}
	if e.Put {
		e.Value, e.Lease = string(ev.Kv.Value), leaseOf(ev.Kv.Lease)
	}
	return e, true
}

// checkEventHistory checks the keyspace's final event history (a watch
// from revision 1 after the run, up to finalRev): revisions never go
// back, every revision from 2 to finalRev changed something (etcd raises
// the revision only for a write that changes a key), and only a lease's
// revoke changes several keys at one revision.
func checkEventHistory(events []event, finalRev int64) []string {
	var bad []string
	next := int64(2)
	for i, e := range events {
		switch {
		case e.Rev == next:
			next++
		case e.Rev == next-1 && i > 0:
			if e.Put || events[i-1].Put || e.Key == events[i-1].Key {
				bad = append(bad, fmt.Sprintf("event history: %s at the revision of %s", e, events[i-1]))
			}
		default:
			bad = append(bad, fmt.Sprintf("event history: %s after revision %d", e, next-1))
			next = max(next, e.Rev+1)
		}
	}
	if next-1 != finalRev {
		bad = append(bad, fmt.Sprintf("event history ends at revision %d, the keyspace is at %d", next-1, finalRev))
	}
	return bad
}

// checkAcknowledged checks that every write the clients saw acknowledged
// is in the final event history, at the revision its response reported: a
// lost acknowledged write is the failure users fear most, so it is named
// as such, though the model would reject it too.
func checkAcknowledged(ops []porcupine.Operation, events []event) []string {
	type at struct {
		rev int64
		key int
	}
	found := map[at]event{}
	for _, e := range events {
		found[at{e.Rev, e.Key}] = e
	}
	var bad []string
	for _, op := range ops {
		in, out := op.Input.(input), op.Output.(output)
		if out.Unknown || out.Err != "" {
			continue
		}
		var want event
		switch {
		case in.Kind == opPut || in.Kind == opCAS && out.Succeeded:
			want = event{Rev: out.Rev, Key: in.Key, Put: true, Value: in.Value, Lease: in.Lease}
		case in.Kind == opDelete && out.Deleted == 1:
			want = event{Rev: out.Rev, Key: in.Key}
		default:
			continue
		}
		if got, ok := found[at{want.Rev, want.Key}]; !ok {
			bad = append(bad, fmt.Sprintf("acknowledged write lost: %s (client %d); the history has nothing for it", describe(in, out), op.ClientId))
		} else if got != want {
			bad = append(bad, fmt.Sprintf("acknowledged write lost: %s (client %d); the history has %s", describe(in, out), op.ClientId, got))
		}
	}
	return bad
}

// replay returns the record of every workload key at each revision of the
// event history: at[r][k] is key k as of revision r.
func replay(events []event, finalRev int64) [][numKeys]kv {
	at := make([][numKeys]kv, finalRev+1)
	var cur [numKeys]kv
	r := int64(0)
	for _, e := range events {
		for ; r < e.Rev && r <= finalRev; r++ {
			at[r] = cur
		}
		if e.Put {
			prev := cur[e.Key]
			next := kv{Value: e.Value, ModRev: e.Rev, CreateRev: prev.CreateRev, Version: prev.Version + 1, Lease: e.Lease}
			if !prev.exists() {
				next.CreateRev, next.Version = e.Rev, 1
			}
			cur[e.Key] = next
		} else {
			cur[e.Key] = kv{}
		}
	}
	for ; r <= finalRev; r++ {
		at[r] = cur
	}
	return at
}

// checkSerializable checks serializable gets, which a member answers from
// its own state and so may be stale: each must match the keyspace at the
// revision it reports (which must be one the cluster reached), and a
// client's reads through one member never go back in revision.
func checkSerializable(reads []serialRead, events []event, finalRev int64) []string {
	at := replay(events, finalRev)
	type via struct {
		client int
		epoch  int64
	}
	last := map[via]int64{}
	var bad []string
	for _, r := range reads {
		switch {
		case r.Rev < 1 || r.Rev > finalRev:
			bad = append(bad, fmt.Sprintf("serializable get %s (client %d) at revision %d, beyond the cluster's %d", keyName(r.Key), r.Client, r.Rev, finalRev))
		case !sameKV(r.KV, at[r.Rev][r.Key]):
			bad = append(bad, fmt.Sprintf("serializable get %s (client %d) read %s at revision %d, the keyspace had %s", keyName(r.Key), r.Client, r.KV, r.Rev, at[r.Rev][r.Key]))
		case r.Rev < last[via{r.Client, r.Epoch}]:
			bad = append(bad, fmt.Sprintf("serializable get %s (client %d) at revision %d after one at %d", keyName(r.Key), r.Client, r.Rev, last[via{r.Client, r.Epoch}]))
		}
		last[via{r.Client, r.Epoch}] = max(last[via{r.Client, r.Epoch}], r.Rev)
	}
	return bad
}

// watchStream is what one watcher received: from StartRev on, across
// every resume.
type watchStream struct {
	Name     string
	StartRev int64
	Events   []event
	Resumes  int // times the watcher opened its watch again
}

// checkWatch checks that a stream delivered every event of the final
// history from its start revision up to the last revision it received,
// in order, each once: no gap (after a resume or otherwise), no
// duplicate, nothing the history does not have. caughtUp is the revision
// the stream must have reached (0: no requirement).
func checkWatch(w watchStream, events []event, caughtUp int64) []string {
	var want []event
	for _, e := range events {
		if e.Rev >= w.StartRev {
			want = append(want, e)
		}
	}
	var bad []string
	for i, got := range w.Events {
		if i >= len(want) {
			bad = append(bad, fmt.Sprintf("watch %s: %s beyond the end of the history", w.Name, got))
			break
		}
		if got != want[i] {
			what := "out of order or not in the history"
			switch {
			case got.Rev > want[i].Rev:
				what = "a gap"
			case i > 0 && got.Rev <= w.Events[i-1].Rev && got == w.Events[i-1]:
				what = "a duplicate"
			}
			bad = append(bad, fmt.Sprintf("watch %s (%d resumes): event %d is %s, want %s: %s", w.Name, w.Resumes, i, got, want[i], what))
			break
		}
	}
	if n := len(w.Events); caughtUp > 0 && (n == 0 || w.Events[n-1].Rev < caughtUp) && len(want) > 0 && want[len(want)-1].Rev >= caughtUp {
		lastRev := int64(0)
		if n > 0 {
			lastRev = w.Events[n-1].Rev
		}
		bad = append(bad, fmt.Sprintf("watch %s: stopped at revision %d, want %d", w.Name, lastRev, caughtUp))
	}
	return bad
}
