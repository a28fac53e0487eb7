package watch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// TestModel drives the hub and several streams with random writes, watch
// creations from random revisions, cancels, pulls of random sizes, delayed,
// skipped and dropped hub deliveries, tiny queue budgets and compactions,
// then checks what every watcher received against the store's history: each
// event of its range from its start revision exactly once, in order (a
// watcher cancelled for compaction: a prefix of it, then the compaction);
// prev_kv as the store had it; headers never below the events they carry.
// Deterministic: each seed is one run.
func TestModel(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed) })
	}
}

type modelWatch struct {
	stream   string
	id       int64
	req      *pb.WatchCreateRequest
	from     int64 // first revision it must see
	got      []*mvccpb.Event
	headers  []int64
	created  bool
	canceled bool // by the client
	compact  int64
	done     bool // no more responses may come
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	h := newHarness(t)
	defer h.close()
	h.cfg.QueueBytes = int64(200 + rng.IntN(2000))
	h.cfg.ChunkBytes = int64(50 + rng.IntN(500))
	h.cfg.FragmentBytes = 150 + rng.IntN(400)
	compactions := seed%3 == 0

	watches := map[string]map[int64]*modelWatch{}
	pending := map[string][]*modelWatch{} // created, waiting for their created response
	keys := []string{"a", "b", "c", "d", "e", "f"}
	for i := range 3 {
		name := fmt.Sprintf("s%d", i)
		ts := &testStream{h: h, name: name}
		ts.s = newStream(&h.cfg, ts)
		h.streams[name] = ts
		h.hub.addStream(name)
		watches[name] = map[int64]*modelWatch{}
		var frag *pb.WatchResponse // fragments so far; they may span pulls
		ts.got = func(r *cairnpb.WatchResponses) {
			for _, resp := range r.GetResponses() {
				switch {
				case resp.GetCreated():
					if resp.GetCanceled() {
						t.Fatalf("%s: create refused: %v", name, resp)
					}
					w := pending[name][0]
					pending[name] = pending[name][1:]
					w.id = resp.GetWatchId()
					w.created = true
					if w.from == 0 {
						w.from = resp.GetHeader().GetRevision() + 1
					}
					watches[name][w.id] = w
				case resp.GetCompactRevision() != 0:
					w := watches[name][resp.GetWatchId()]
					w.compact, w.done = resp.GetCompactRevision(), true
				case resp.GetCanceled():
					w := watches[name][resp.GetWatchId()]
					if !w.canceled {
						t.Fatalf("%s: unexpected cancel %v", name, resp)
					}
					w.done = true
					delete(watches[name], w.id)
				case resp.GetWatchId() == invalidWatchID:
					// a progress notification for all
				default:
					w := watches[name][resp.GetWatchId()]
					if w == nil {
						t.Fatalf("%s: response for unknown watch %d", name, resp.GetWatchId())
					}
					if w.done {
						t.Fatalf("%s: response after the end of watch %d: %v", name, w.id, resp)
					}
					if frag != nil && frag.GetWatchId() != resp.GetWatchId() {
						t.Fatalf("%s: fragments of two watchers interleaved", name)
					}
					for _, ev := range resp.GetEvents() {
						if ev.GetKv().GetModRevision() > resp.GetHeader().GetRevision() {
							t.Fatalf("%s: event %v above its header %d", name, ev, resp.GetHeader().GetRevision())
						}
					}
					if resp.GetFragment() {
						if frag == nil {
							frag = &pb.WatchResponse{WatchId: resp.WatchId, Header: resp.Header}
						}
						frag.Events = append(frag.Events, resp.Events...)
						continue
					}
					if frag != nil {
						resp.Events = append(frag.Events, resp.Events...)
						frag = nil
					}
					w.got = append(w.got, resp.GetEvents()...)
					w.headers = append(w.headers, resp.GetHeader().GetRevision())
				}
			}
		}
	}
	streamNames := []string{"s0", "s1", "s2"}

	write := func() {
		b := h.store.NewBatch()
		defer b.Close()
		var err error
		switch rng.IntN(6) {
		case 0:
			k := keys[rng.IntN(len(keys))]
			_, err = b.DeleteRange(&pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: []byte(k + "\xff")})
		case 1:
			var ops []*pb.RequestOp
			for _, k := range keys[rng.IntN(3):][:3] {
				ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{
					Key: []byte(k + "1"), Value: []byte(fmt.Sprint(rng.IntN(1000)))}}})
			}
			_, err = b.Txn(&pb.TxnRequest{Success: ops})
		default:
			k := keys[rng.IntN(len(keys))] + fmt.Sprint(rng.IntN(3))
			_, err = b.Put(&pb.PutRequest{Key: []byte(k), Value: []byte(fmt.Sprint(rng.IntN(1e6)))})
		}
		if err != nil {
			t.Fatal(err)
		}
		evs := b.Events()
		if err := b.Commit(h.store.AppliedIndex() + 1); err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return
		}
		switch r := rng.IntN(10); {
		case r < 6 && len(h.held) == 0:
			h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{Events: evs, Revision: h.store.Rev()}})
		default:
			h.held = append(h.held, evs)
		}
	}
	flushHeld := func() {
		switch rng.IntN(4) {
		case 0:
			h.held = nil
			h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{Revision: h.store.Rev()}})
		case 1:
			h.held = nil // dropped: the next batch shows the gap
		default:
			for _, evs := range h.held {
				h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{
					Events: evs, Revision: evs[len(evs)-1].Kv.ModRevision}})
			}
			h.held = nil
		}
	}
	create := func() {
		name := streamNames[rng.IntN(3)]
		ts := h.streams[name]
		k := keys[rng.IntN(len(keys))]
		c := &pb.WatchCreateRequest{Key: []byte(k), PrevKv: rng.IntN(3) == 0, Fragment: rng.IntN(2) == 0}
		switch rng.IntN(3) {
		case 0:
			c.RangeEnd = []byte(keys[min(len(keys)-1, rng.IntN(len(keys)))] + "\xff")
			if string(c.RangeEnd) <= k {
				c.RangeEnd = []byte{0}
			}
		case 1:
			c.RangeEnd = []byte(k + "\xff")
		}
		rev := h.store.Rev()
		switch rng.IntN(4) {
		case 0:
			c.StartRevision = max(1, rev-int64(rng.IntN(30)), h.store.CompactRev())
		case 1:
			c.StartRevision = rev + int64(rng.IntN(5))
		}
		if rng.IntN(5) == 0 {
			c.Filters = []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_FilterType(rng.IntN(2))}
		}
		w := &modelWatch{stream: name, req: c, from: c.StartRevision}
		pending[name] = append(pending[name], w)
		ts.s.request(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: c}})
	}
	cancel := func() {
		name := streamNames[rng.IntN(3)]
		for _, w := range watches[name] {
			if !w.canceled && rng.IntN(4) == 0 {
				w.canceled = true
				h.streams[name].s.request(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{
					CancelRequest: &pb.WatchCancelRequest{WatchId: w.id}}})
				return
			}
		}
	}
	pull := func(name string) {
		ts := h.streams[name]
		if !ts.parked {
			ts.parked = true
			ts.s.pull(int64(1 + rng.IntN(600)))
		}
	}
	step := func(n int) {
		for range n {
			if len(h.queue) == 0 {
				return
			}
			h.deliverOne()
		}
	}

	for range 400 {
		switch r := rng.IntN(100); {
		case r < 30:
			write()
		case r < 35:
			flushHeld()
		case r < 45:
			create()
		case r < 48:
			cancel()
		case r < 70:
			pull(streamNames[rng.IntN(3)])
		case r < 72 && compactions:
			if rev := h.store.Rev() - int64(rng.IntN(20)); rev > h.store.CompactRev() {
				b := h.store.NewBatch()
				if _, err := b.Compact(rev); err != nil {
					t.Fatal(err)
				}
				if err := b.Commit(h.store.AppliedIndex() + 1); err != nil {
					t.Fatal(err)
				}
			}
		default:
			step(1 + rng.IntN(10))
		}
	}
	// Settle: deliver everything, let every client read until nothing moves.
	for _, evs := range h.held {
		h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{
			Events: evs, Revision: evs[len(evs)-1].Kv.ModRevision}})
	}
	h.held = nil
	h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{Revision: h.store.Rev()}})
	for range 10000 {
		h.deliver()
		for _, name := range streamNames {
			pull(name)
		}
		busy := len(h.queue) > 0
		for _, name := range streamNames {
			busy = busy || len(h.streams[name].s.queue) > 0
		}
		if !busy {
			break
		}
	}
	for _, name := range streamNames {
		s := h.streams[name].s
		if len(s.queue) != 0 || s.unsynced != 0 || len(pending[name]) != 0 {
			t.Logf("pullMax=%d parked=%v catchUpPending=%v queued=%d/%d", s.pullMax, h.streams[name].parked, s.catchUpPending, s.queued, s.cfg.QueueBytes)
			t.Fatalf("%s not settled: %d queued, %d unsynced, %d creates unanswered",
				name, len(s.queue), s.unsynced, len(pending[name]))
		}
	}

	v := h.store.Read()
	defer v.Close()
	checked, events, compacted := 0, 0, 0
	for _, name := range streamNames {
		for _, w := range watches[name] {
			if w.canceled {
				continue
			}
			checkWatch(t, v, w, compactions)
			checked++
			events += len(w.got)
			if w.compact != 0 {
				compacted++
			}
		}
	}
	t.Logf("rev %d: %d watchers checked, %d events, %d compacted, %d lagged", h.store.Rev(), checked, events, compacted, h.cfg.Stats.Lagged.Load())
	if h.hub.rev != h.store.Rev() {
		t.Fatalf("hub at %d, store at %d", h.hub.rev, h.store.Rev())
	}
}

func checkWatch(t *testing.T, v *mvcc.ReadView, w *modelWatch, compactions bool) {
	t.Helper()
	r := newKeyRange(w.req.Key, w.req.RangeEnd)
	var want []*mvccpb.Event
	from := max(w.from, 1)
	if from < v.CompactRev() {
		// History is gone: what was received must be a prefix, compacted.
		if w.compact == 0 && len(w.got) > 0 && w.got[len(w.got)-1].Kv.ModRevision < v.CompactRev()-1 {
			t.Logf("watch %s/%d from %d ends at %d below compaction %d", w.stream, w.id, w.from,
				w.got[len(w.got)-1].Kv.ModRevision, v.CompactRev())
		}
		from = v.CompactRev()
	}
	err := v.Events(from, v.Rev(), mvcc.EventOptions{RangeEnd: []byte{0}, PrevKV: w.req.PrevKv && !compactions},
		func(ev *mvccpb.Event) error {
			if !r.contains(ev.Kv.Key) {
				return nil
			}
			for _, f := range w.req.Filters {
				if (f == pb.WatchCreateRequest_NOPUT && ev.Type == mvccpb.Event_PUT) ||
					(f == pb.WatchCreateRequest_NODELETE && ev.Type == mvccpb.Event_DELETE) {
					return nil
				}
			}
			want = append(want, ev)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	got := w.got
	// Drop what came before the compaction floor: compared only above it.
	for len(got) > 0 && got[0].Kv.ModRevision < from {
		got = got[1:]
	}
	if w.compact != 0 {
		if len(got) > len(want) {
			t.Fatalf("watch %s/%d compacted at %d after more events than history has", w.stream, w.id, w.compact)
		}
		want = want[:len(got)]
	}
	if !slices.IsSorted(w.headers) {
		t.Fatalf("watch %s/%d: headers not in order: %v", w.stream, w.id, w.headers)
	}
	if len(got) != len(want) {
		t.Fatalf("watch %s/%d (%v) from %d: %d events, want %d\ngot  %v\nwant %v",
			w.stream, w.id, w.req, w.from, len(got), len(want), evList(got), evList(want))
	}
	for i := range got {
		g, e := got[i], want[i]
		if compactions {
			g = &mvccpb.Event{Type: g.Type, Kv: g.Kv}
		}
		if !proto.Equal(g, e) {
			t.Fatalf("watch %s/%d event %d: got %v want %v", w.stream, w.id, i, eventString(got[i]), eventString(want[i]))
		}
	}
}

func evList(evs []*mvccpb.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, eventString(ev))
	}
	return out
}
