package mvcc

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// runHistory serves the transcripts' history command: it prints the events of
// a view, each with its prev_kv when asked for.
func runHistory(t *testing.T, s *Store, d *datadriven.TestData, out *strings.Builder) {
	var from, to int64
	d.ScanArgs(t, "from", &from)
	d.ScanArgs(t, "to", &to)
	opts := EventOptions{
		Key:      bytesArg(t, d.CmdArgs, "k"),
		RangeEnd: bytesArg(t, d.CmdArgs, "end"),
		PrevKV:   hasArg(d.CmdArgs, "prev-kv"),
	}
	if hasArg(d.CmdArgs, "match") {
		var keys []string
		d.ScanArgs(t, "match", &keys)
		opts.Match = func(k []byte, _ int64) bool {
			for _, m := range keys {
				if unquote(t, m) == string(k) {
					return true
				}
			}
			return false
		}
	}
	v := s.Read()
	defer v.Close()
	n := 0
	err := v.Events(from, to, opts, func(ev *mvccpb.Event) error {
		n++
		printEvent(out, ev)
		if ev.PrevKv != nil {
			printKV(out, "  prev: ", ev.PrevKv)
		}
		return nil
	})
	if err != nil {
		out.WriteString("error: " + err.Error() + "\n")
	} else if n == 0 {
		out.WriteString("<none>\n")
	}
}

// TestEventsMatchesBatch checks that history replays exactly the events the
// batches produced, for every window of revisions, and that an error from the
// callback stops the walk.
func TestEventsMatchesBatch(t *testing.T) {
	db, s := openTestStore(t)
	defer db.close(t)
	var all []*mvccpb.Event
	for i := range 40 {
		mustCommit(t, s, func(b *Batch) {
			key := []byte{'k', byte('a' + i%7)}
			var err error
			if i%5 == 4 {
				_, err = b.DeleteRange(&pb.DeleteRangeRequest{Key: key})
			} else {
				_, err = b.Put(&pb.PutRequest{Key: key, Value: []byte{byte(i)}})
			}
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				_, err = b.Txn(&pb.TxnRequest{Success: []*pb.RequestOp{
					{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("x1"), Value: []byte("v")}}},
					{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("x2"), Value: []byte("w")}}},
				}})
				if err != nil {
					t.Fatal(err)
				}
			}
			all = append(all, b.Events()...)
		})
	}
	v := s.Read()
	defer v.Close()
	for from := int64(0); from <= v.Rev()+1; from++ {
		for to := from - 1; to <= v.Rev(); to++ {
			var got []*mvccpb.Event
			err := v.Events(from, to, EventOptions{RangeEnd: []byte{0}}, func(ev *mvccpb.Event) error {
				got = append(got, ev)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []*mvccpb.Event
			for _, ev := range all {
				if r := ev.Kv.ModRevision; r >= from && r <= to {
					want = append(want, ev)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("[%d, %d]: %d events, want %d", from, to, len(got), len(want))
			}
			for i := range got {
				if got[i].String() != want[i].String() {
					t.Fatalf("[%d, %d] event %d: %v, want %v", from, to, i, got[i], want[i])
				}
			}
		}
	}
	stop := errors.New("stop")
	n := 0
	err := v.Events(1, v.Rev(), EventOptions{RangeEnd: []byte{0}}, func(*mvccpb.Event) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("stopping: err %v after %d events", err, n)
	}
}
