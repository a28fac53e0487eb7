package watch

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// TestTranscripts runs testdata/*.txt: the hub's and the streams' state
// machines, wired by one FIFO queue of messages (so messages between two
// parties keep their order, as in protoactor), over a real store. Each file
// starts with an empty store, a hub and no streams.
//
// To regenerate the expected output after a change of behaviour:
//
//	go test ./actors/watch -run TestTranscripts -rewrite
//
// then read the diff: only commit the diff if you understand it.
//
// Commands (keys and values take Go escapes):
//
//	options [queue=N] [chunk=N] [fragment=N]   set the streams' budgets
//	open s=S                   a stream actor S
//	close s=S                  S stops; the hub forgets it
//	create s=S [id=N] k=K [end=E] [rev=N] [prev-kv] [fragment] [progress] [noput] [nodelete]
//	cancel s=S id=N
//	progress s=S               a client progress request
//	tick s=S                   a progress_notify tick
//	put k=K [v=V] [hold] | del k=K [end=E] [hold] | txn [hold] (body: put/del lines)
//	                           a committed batch; the apply actor sends its
//	                           events to the hub unless hold
//	publish                    send every held batch's events to the hub at once
//	skip                       drop the held batches; tell the hub only the revision
//	drop                       drop the held batches; tell the hub nothing
//	compact rev=N              commit a compaction
//	run                        deliver queued messages until none is left,
//	                           printing each
//	pull s=S [max=N]           S's handler pulls; prints the answer if any
//	                           (a parked pull is answered during a later run)
//	state [s=S]                watchers of S (or the hub's counts)
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(t)
		defer h.close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var out strings.Builder
			h.out = &out
			h.run(t, d)
			if out.Len() == 0 {
				return "<empty>\n"
			}
			return out.String()
		})
	})
}

type msg struct {
	to, from string
	m        proto.Message
}

type harness struct {
	t       *testing.T
	engine  *storage.Engine
	store   *mvcc.Store
	cfg     Config
	hub     *hub
	streams map[string]*testStream
	queue   []msg
	held    [][]*mvccpb.Event
	out     *strings.Builder
}

type testStream struct {
	h       *harness
	name    string
	s       *stream
	parked  bool
	got     func(*cairnpb.WatchResponses) // if set, receives answers instead of the transcript
	ticking bool
}

func newHarness(t *testing.T) *harness {
	engine, err := storage.Open(t.TempDir(), storage.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	store, err := mvcc.Open(engine.DB)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, engine: engine, store: store, streams: make(map[string]*testStream)}
	h.cfg = Config{Store: store, ClusterID: 1, MemberID: 2, Term: func() uint64 { return 3 }}.withDefaults()
	h.hub = newHub(h, store.Rev())
	return h
}

func (h *harness) close() { _ = h.engine.Close() }

// send is the hub's env.
func (h *harness) send(to string, m proto.Message) {
	h.queue = append(h.queue, msg{to: to, from: "hub", m: m})
}

func (ts *testStream) post(m proto.Message) {
	ts.h.queue = append(ts.h.queue, msg{to: "hub", from: ts.name, m: m})
}

func (ts *testStream) subscribe(sub int64, r keyRange) {
	ts.post(&cairnpb.WatchSubscribe{Subscription: sub, Key: r.start, RangeEnd: r.rangeEnd()})
}
func (ts *testStream) unsubscribe(r keyRange) {
	ts.post(&cairnpb.WatchUnsubscribe{Key: r.start, RangeEnd: r.rangeEnd()})
}
func (ts *testStream) queryHub(min int64) { ts.post(&cairnpb.WatchProgressQuery{MinRevision: min}) }
func (ts *testStream) catchUpLater() {
	ts.h.queue = append(ts.h.queue, msg{to: ts.name, from: ts.name, m: &cairnpb.WatchCatchUp{}})
}
func (ts *testStream) answer(r *cairnpb.WatchResponses) {
	if !ts.parked {
		ts.h.t.Fatalf("%s answered a pull that is not parked", ts.name)
	}
	ts.parked = false
	if ts.got != nil {
		ts.got(r)
		return
	}
	fmt.Fprintf(ts.h.out, "%s answers pull (requests done %d):\n", ts.name, r.GetRequestsDone())
	for _, resp := range r.GetResponses() {
		printResponse(ts.h.out, resp)
	}
}
func (ts *testStream) ticker(on bool) {
	ts.ticking = on
	if ts.h.out != nil {
		fmt.Fprintf(ts.h.out, "%s progress ticker %v\n", ts.name, on)
	}
}

func (h *harness) stream(d *datadriven.TestData) *testStream {
	var name string
	d.ScanArgs(h.t, "s", &name)
	ts := h.streams[name]
	if ts == nil {
		h.t.Fatalf("no stream %q", name)
	}
	return ts
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) {
	switch d.Cmd {
	case "options":
		d.MaybeScanArgs(t, "queue", &h.cfg.QueueBytes)
		d.MaybeScanArgs(t, "chunk", &h.cfg.ChunkBytes)
		d.MaybeScanArgs(t, "fragment", &h.cfg.FragmentBytes)
	case "open":
		var name string
		d.ScanArgs(t, "s", &name)
		ts := &testStream{h: h, name: name}
		ts.s = newStream(&h.cfg, ts)
		h.streams[name] = ts
		h.hub.addStream(name)
	case "close":
		ts := h.stream(d)
		delete(h.streams, ts.name)
		h.hub.removeStream(ts.name)
	case "create":
		ts := h.stream(d)
		c := &pb.WatchCreateRequest{
			Key:            arg(t, d, "k"),
			RangeEnd:       arg(t, d, "end"),
			PrevKv:         d.HasArg("prev-kv"),
			Fragment:       d.HasArg("fragment"),
			ProgressNotify: d.HasArg("progress"),
		}
		d.MaybeScanArgs(t, "id", &c.WatchId)
		d.MaybeScanArgs(t, "rev", &c.StartRevision)
		if d.HasArg("noput") {
			c.Filters = append(c.Filters, pb.WatchCreateRequest_NOPUT)
		}
		if d.HasArg("nodelete") {
			c.Filters = append(c.Filters, pb.WatchCreateRequest_NODELETE)
		}
		ts.s.request(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: c}})
	case "cancel":
		ts := h.stream(d)
		var id int64
		d.ScanArgs(t, "id", &id)
		ts.s.request(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{
			CancelRequest: &pb.WatchCancelRequest{WatchId: id}}})
	case "progress":
		h.stream(d).s.request(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{
			ProgressRequest: &pb.WatchProgressRequest{}}})
	case "tick":
		h.stream(d).s.progressTick()
	case "put", "del", "txn", "compact":
		h.write(t, d)
	case "publish":
		for _, evs := range h.held {
			h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{
				Events: evs, Revision: evs[len(evs)-1].Kv.ModRevision}})
		}
		h.held = nil
	case "drop":
		h.held = nil
	case "skip":
		h.held = nil
		h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{Revision: h.store.Rev()}})
	case "run":
		h.deliver()
	case "pull":
		ts := h.stream(d)
		max := int64(1 << 30)
		d.MaybeScanArgs(t, "max", &max)
		ts.parked = true
		ts.s.pull(max)
		if ts.parked {
			fmt.Fprintf(h.out, "%s parks the pull\n", ts.name)
		}
	case "state":
		if !d.HasArg("s") {
			fmt.Fprintf(h.out, "hub rev=%d streams=%d subscriptions=%d ranges=%d queries=%d\n",
				h.hub.rev, len(h.hub.streams), h.hub.subs, h.hub.idx.len(), len(h.hub.queries))
			return
		}
		ts := h.stream(d)
		s := ts.s
		for _, w := range s.sortedWatchers() {
			fmt.Fprintf(h.out, "watch %d %s next=%d\n", w.id, w.state, w.next)
		}
		fmt.Fprintf(h.out, "queue %d responses, %d of %d bytes; unsynced %d\n",
			len(s.queue), s.queued, s.cfg.QueueBytes, s.unsynced)
	default:
		t.Fatalf("unknown command %q", d.Cmd)
	}
}

func (h *harness) write(t *testing.T, d *datadriven.TestData) {
	b := h.store.NewBatch()
	defer b.Close()
	var err error
	switch d.Cmd {
	case "put":
		_, err = b.Put(&pb.PutRequest{Key: arg(t, d, "k"), Value: arg(t, d, "v")})
	case "del":
		_, err = b.DeleteRange(&pb.DeleteRangeRequest{Key: arg(t, d, "k"), RangeEnd: arg(t, d, "end")})
	case "txn":
		txn := &pb.TxnRequest{}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			cmd, args, err := datadriven.ParseLine(line)
			if err != nil {
				t.Fatal(err)
			}
			td := &datadriven.TestData{Cmd: cmd, CmdArgs: args}
			switch cmd {
			case "put":
				txn.Success = append(txn.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{
					RequestPut: &pb.PutRequest{Key: arg(t, td, "k"), Value: arg(t, td, "v")}}})
			case "del":
				txn.Success = append(txn.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{
					RequestDeleteRange: &pb.DeleteRangeRequest{Key: arg(t, td, "k"), RangeEnd: arg(t, td, "end")}}})
			}
		}
		_, err = b.Txn(txn)
	case "compact":
		var rev int64
		d.ScanArgs(t, "rev", &rev)
		_, err = b.Compact(rev)
	}
	if err != nil {
		fmt.Fprintf(h.out, "error: %v\n", err)
		return
	}
	evs := b.Events()
	if err := b.Commit(h.store.AppliedIndex() + 1); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(h.out, "rev=%d\n", h.store.Rev())
	if len(evs) == 0 {
		return
	}
	if d.HasArg("hold") {
		h.held = append(h.held, evs)
		return
	}
	h.queue = append(h.queue, msg{to: "hub", from: "apply", m: &cairnpb.WatchEvents{Events: evs, Revision: h.store.Rev()}})
}

// deliver runs the queue, printing each message as it is delivered.
func (h *harness) deliver() {
	for len(h.queue) > 0 {
		h.deliverOne()
	}
}

// deliverOne delivers the first queued message.
func (h *harness) deliverOne() {
	{
		m := h.queue[0]
		h.queue = h.queue[1:]
		if h.out != nil {
			fmt.Fprintf(h.out, "%s -> %s: %s\n", m.from, m.to, describe(m.m))
		}
		if m.to == "hub" {
			before := len(h.queue)
			switch x := m.m.(type) {
			case *cairnpb.WatchEvents:
				h.hub.dispatch(x)
				if h.out != nil {
					fmt.Fprintf(h.out, "hub -> %s: WatchEventsAck rev=%d\n", m.from, h.hub.rev)
				}
			case *cairnpb.WatchSubscribe:
				h.hub.subscribe(m.from, x)
			case *cairnpb.WatchUnsubscribe:
				h.hub.unsubscribe(m.from, x)
			case *cairnpb.WatchProgressQuery:
				h.hub.progressQuery(m.from, x.GetMinRevision())
			}
			// The hub sends in map order; the queue keeps one order.
			slices.SortStableFunc(h.queue[before:], func(a, b msg) int { return strings.Compare(a.to, b.to) })
			return
		}
		ts := h.streams[m.to]
		if ts == nil {
			if h.out != nil {
				fmt.Fprintf(h.out, "  (dead letter)\n")
			}
			return
		}
		switch x := m.m.(type) {
		case *cairnpb.WatchEvents:
			ts.s.events(x.GetEvents())
		case *cairnpb.WatchSubscribed:
			ts.s.subscribed(x.GetSubscription(), x.GetRevision())
		case *cairnpb.WatchLagged:
			ts.s.lagged()
		case *cairnpb.WatchHubRevision:
			ts.s.hubRevision(x.GetRevision())
		case *cairnpb.WatchCatchUp:
			ts.s.catchUp()
		}
	}
}

func describe(m proto.Message) string {
	switch x := m.(type) {
	case *cairnpb.WatchEvents:
		var b strings.Builder
		fmt.Fprintf(&b, "WatchEvents rev=%d", x.GetRevision())
		for _, ev := range x.GetEvents() {
			b.WriteString(" " + eventString(ev))
		}
		return b.String()
	case *cairnpb.WatchSubscribe:
		return fmt.Sprintf("WatchSubscribe sub=%d k=%q end=%q", x.GetSubscription(), x.GetKey(), x.GetRangeEnd())
	case *cairnpb.WatchUnsubscribe:
		return fmt.Sprintf("WatchUnsubscribe k=%q end=%q", x.GetKey(), x.GetRangeEnd())
	case *cairnpb.WatchSubscribed:
		return fmt.Sprintf("WatchSubscribed sub=%d rev=%d", x.GetSubscription(), x.GetRevision())
	case *cairnpb.WatchProgressQuery:
		return fmt.Sprintf("WatchProgressQuery min=%d", x.GetMinRevision())
	case *cairnpb.WatchHubRevision:
		return fmt.Sprintf("WatchHubRevision rev=%d", x.GetRevision())
	case *cairnpb.WatchLagged:
		return fmt.Sprintf("WatchLagged rev=%d", x.GetRevision())
	case *cairnpb.WatchCatchUp:
		return "WatchCatchUp"
	}
	return fmt.Sprintf("%T", m)
}

func eventString(ev *mvccpb.Event) string {
	kv := ev.GetKv()
	s := fmt.Sprintf("%s %q@%d", ev.GetType(), kv.GetKey(), kv.GetModRevision())
	if ev.GetType() == mvccpb.Event_PUT {
		s = fmt.Sprintf("PUT %q=%q@%d(c%d,v%d)", kv.GetKey(), kv.GetValue(), kv.GetModRevision(),
			kv.GetCreateRevision(), kv.GetVersion())
	}
	if p := ev.GetPrevKv(); p != nil {
		s += fmt.Sprintf("[prev %q=%q@%d]", p.GetKey(), p.GetValue(), p.GetModRevision())
	}
	return s
}

func printResponse(out io.Writer, r *pb.WatchResponse) {
	fmt.Fprintf(out, "  watch=%d rev=%d", r.GetWatchId(), r.GetHeader().GetRevision())
	for _, f := range []struct {
		on   bool
		name string
	}{{r.GetCreated(), "created"}, {r.GetCanceled(), "canceled"}, {r.GetFragment(), "fragment"}} {
		if f.on {
			fmt.Fprintf(out, " %s", f.name)
		}
	}
	if r.GetCompactRevision() != 0 {
		fmt.Fprintf(out, " compact=%d", r.GetCompactRevision())
	}
	if r.GetCancelReason() != "" {
		fmt.Fprintf(out, " reason=%q", r.GetCancelReason())
	}
	if h := r.GetHeader(); h.GetClusterId() != 1 || h.GetMemberId() != 2 || h.GetRaftTerm() != 3 {
		fmt.Fprintf(out, " header=%v", h)
	}
	for _, ev := range r.GetEvents() {
		fmt.Fprintf(out, " %s", eventString(ev))
	}
	fmt.Fprintln(out)
}

func arg(t *testing.T, d *datadriven.TestData, key string) []byte {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			s, err := strconv.Unquote(`"` + strings.ReplaceAll(a.Vals[0], `"`, `\"`) + `"`)
			if err != nil {
				t.Fatalf("bad %s: %v", key, err)
			}
			return []byte(s)
		}
	}
	return nil
}
