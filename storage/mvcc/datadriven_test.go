package mvcc

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// TestTranscripts runs the transcripts in testdata/*.txt: each file is a
// fresh store and a sequence of commands with their expected output.
//
// To regenerate the expected output after a change of behaviour:
//
//	go test ./storage/mvcc -run TestTranscripts -rewrite
//
// then read the diff: only commit the diff if you understand it.
//
// Commands (keys and values take Go escapes, e.g. k=a\x00b):
//
//	put k=K [v=V] [lease=ID] [prev-kv] [ignore-value] [ignore-lease]
//	del k=K [end=E] [prev-kv]
//	get k=K [end=E] [rev=N] [limit=N] [sort=key|version|create|mod|value]
//	    [order=none|asc|desc] [keys-only] [count-only] [min-mod=N]
//	    [max-mod=N] [min-create=N] [max-create=N] [view] [max-bytes=N]
//	txn [view] [max-bytes=N] [measure]   body: see parseTxn
//	                    max-bytes reads a view with the response bounded
//	                    (RangeWithin, TxnWithin); a txn that writes is
//	                    applied with it (Batch.TxnWith), building its
//	                    ranges unless given measure
//	compact rev=N
//	lease-grant id=ID ttl=N | lease-revoke id=ID | lease-checkpoint id=ID remaining=N
//	leases              every lease and its keys
//	lease id=ID         one lease's TTL and remaining TTL
//	meta-put name=N [v=V] | meta-del name=N | meta name=N | meta-prefix prefix=P
//	begin               open a batch: writes go to it until commit or abort
//	commit [index=N]    commit it (default index: applied index + 1)
//	abort               close it without committing
//	events              the events of the open batch
//	prefetch k=(K,K...) look up keys' latest records for the open batch
//	                    (Batch.Prefetch), then print what it holds
//	prefetched          what the open batch holds from Prefetch
//	state               revision, compaction revision, applied index
//	run-compaction [chunk=N]
//	dump                every record in pebble, decoded
//	hash [rev=N]
//	reopen              close pebble and the store, open them again
//	validate [max-ops=N]   body: a txn; prints ValidateTxn's result
//	readonly            body: a txn; prints IsReadOnlyTxn's result
//	history from=N to=N [k=K] [end=E] [prev-kv] [match=K,K...]
//	                    the changes of a view between two revisions (watch history)
//	prev-kv k=K rev=N   a view's prev_kv of a change of K at N
//
// Without begin, each write command runs in its own batch, committed at once.
// get and txn read the open batch if there is one, unless given view.
// Write commands print their response, then the events they produced.
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if filepath.Ext(path) != ".txt" {
			t.Skip("not a transcript (testdata/fuzz holds the fuzz corpora)")
		}
		h := &harness{}
		h.db, h.s = openTestStore(t)
		defer func() {
			if h.b != nil {
				h.b.Close()
			}
			h.db.close(t)
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

type harness struct {
	db *testDB
	s  *Store
	b  *Batch // open batch from begin, or nil
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	var out strings.Builder
	switch d.Cmd {
	case "put", "del", "txn", "compact", "lease-grant", "lease-revoke", "lease-checkpoint", "meta-put", "meta-del":
		if d.Cmd == "txn" && (d.HasArg("view") || h.b == nil && isReadOnlyBody(t, d.Input)) {
			r := parseTxn(t, d.Input)
			v := h.s.Read()
			defer v.Close()
			resp, err := v.TxnWithin(r, intArg(t, d.CmdArgs, "max-bytes"))
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			printTxn(&out, resp, "")
			return out.String()
		}
		h.write(t, d, &out)
	case "get":
		r := parseRange(t, d.CmdArgs)
		var resp *pb.RangeResponse
		var err error
		if h.b != nil && !d.HasArg("view") && !d.HasArg("max-bytes") {
			resp, err = h.b.Range(r)
		} else {
			v := h.s.Read()
			resp, err = v.RangeWithin(r, intArg(t, d.CmdArgs, "max-bytes"))
			v.Close()
		}
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		printRange(&out, resp, "")
	case "begin":
		if h.b != nil {
			t.Fatal("batch already open")
		}
		h.b = h.s.NewBatch()
		return "ok\n"
	case "commit":
		if h.b == nil {
			t.Fatal("no open batch")
		}
		idx := h.s.AppliedIndex() + 1
		d.MaybeScanArgs(t, "index", &idx)
		err := h.b.Commit(idx)
		h.b = nil
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		fmt.Fprintf(&out, "rev=%d applied=%d\n", h.s.Rev(), h.s.AppliedIndex())
	case "abort":
		h.b.Close()
		h.b = nil
		return "ok\n"
	case "events":
		for _, ev := range h.b.Events() {
			printEvent(&out, ev)
		}
	case "prefetch", "prefetched":
		if h.b == nil {
			t.Fatal("no open batch")
		}
		if d.Cmd == "prefetch" {
			var keys [][]byte
			for _, a := range d.CmdArgs {
				if a.Key == "k" {
					for _, v := range a.Vals {
						keys = append(keys, []byte(unquote(t, v)))
					}
				}
			}
			if err := h.b.Prefetch(keys); err != nil {
				return "error: " + err.Error() + "\n"
			}
		}
		for _, p := range h.b.pre {
			if !p.found {
				fmt.Fprintf(&out, "%q absent\n", p.key)
				continue
			}
			fmt.Fprintf(&out, "%q create=%d mod=%d/%d ver=%d", p.key, p.m.create, p.m.mod, p.m.modSub, p.m.version)
			if p.m.lease != 0 {
				fmt.Fprintf(&out, " lease=%d", p.m.lease)
			}
			out.WriteString("\n")
		}
	case "state":
		v := h.s.Read()
		defer v.Close()
		phys, err := h.s.PhysicalCompactRev()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "rev=%d compact=%d applied=%d physical-compact=%d\n",
			v.Rev(), v.CompactRev(), v.AppliedIndex(), phys)
		if v.Rev() != h.s.Rev() || v.CompactRev() != h.s.CompactRev() || v.AppliedIndex() != h.s.AppliedIndex() {
			t.Fatalf("store state %d/%d/%d differs from view", h.s.Rev(), h.s.CompactRev(), h.s.AppliedIndex())
		}
	case "meta":
		var name string
		d.ScanArgs(t, "name", &name)
		var val []byte
		var err error
		if h.b != nil {
			val, err = h.b.Meta(name)
		} else {
			v := h.s.Read()
			val, err = v.Meta(name)
			v.Close()
		}
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		if val == nil {
			return "<none>\n"
		}
		fmt.Fprintf(&out, "%q\n", val)
	case "meta-prefix":
		var prefix string
		d.ScanArgs(t, "prefix", &prefix)
		v := h.s.Read()
		defer v.Close()
		err := v.MetaPrefix(prefix, func(name string, value []byte) error {
			fmt.Fprintf(&out, "%s=%q\n", name, value)
			return nil
		})
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
	case "leases":
		v := h.s.Read()
		defer v.Close()
		err := v.Leases(func(id, ttl, remaining int64) error {
			fmt.Fprintf(&out, "lease %d ttl=%d remaining=%d keys=[", id, ttl, remaining)
			sep := ""
			err := v.LeaseKeys(id, func(key []byte) error {
				fmt.Fprintf(&out, "%s%q", sep, key)
				sep = " "
				return nil
			})
			out.WriteString("]\n")
			return err
		})
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		if out.Len() == 0 {
			return "<none>\n"
		}
	case "lease":
		var id int64
		d.ScanArgs(t, "id", &id)
		v := h.s.Read()
		defer v.Close()
		ttl, rem, err := v.Lease(id)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		fmt.Fprintf(&out, "ttl=%d remaining=%d\n", ttl, rem)
	case "run-compaction":
		chunk := 0
		d.MaybeScanArgs(t, "chunk", &chunk)
		if err := h.s.RunCompaction(context.Background(), chunk); err != nil {
			return "error: " + err.Error() + "\n"
		}
		return "ok\n"
	case "dump":
		dump(t, h.s.db, &out)
	case "hash":
		var rev int64
		d.MaybeScanArgs(t, "rev", &rev)
		v := h.s.Read()
		defer v.Close()
		hash, crev, err := v.Hash(rev)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		fmt.Fprintf(&out, "hash=%08x compact=%d\n", hash, crev)
	case "reopen":
		if h.b != nil {
			t.Fatal("reopen with an open batch")
		}
		h.db.reopen(t)
		s, err := Open(h.db.db)
		if err != nil {
			t.Fatal(err)
		}
		h.s = s
		fmt.Fprintf(&out, "rev=%d compact=%d applied=%d\n", s.Rev(), s.CompactRev(), s.AppliedIndex())
	case "validate":
		maxOps := 128
		d.MaybeScanArgs(t, "max-ops", &maxOps)
		if err := ValidateTxn(parseTxn(t, d.Input), maxOps); err != nil {
			return "error: " + err.Error() + "\n"
		}
		return "ok\n"
	case "readonly":
		return fmt.Sprintf("%v\n", IsReadOnlyTxn(parseTxn(t, d.Input)))
	case "history":
		runHistory(t, h.s, d, &out)
	case "prev-kv":
		var rev int64
		d.ScanArgs(t, "rev", &rev)
		v := h.s.Read()
		defer v.Close()
		kv, err := v.PrevKV(bytesArg(t, d.CmdArgs, "k"), rev)
		switch {
		case err != nil:
			return "error: " + err.Error() + "\n"
		case kv == nil:
			return "<none>\n"
		}
		printKV(&out, "", kv)
	default:
		t.Fatalf("unknown command %q", d.Cmd)
	}
	if out.Len() == 0 {
		return "<empty>\n"
	}
	return out.String()
}

func isReadOnlyBody(t *testing.T, body string) bool {
	return IsReadOnlyTxn(parseTxn(t, body))
}

// write runs a write command in the open batch, or in a batch of its own
// that it commits.
func (h *harness) write(t *testing.T, d *datadriven.TestData, out *strings.Builder) {
	b := h.b
	if b == nil {
		b = h.s.NewBatch()
		defer b.Close()
	}
	nev := len(b.Events())
	err := h.apply(t, d, b, out)
	if err != nil {
		fmt.Fprintf(out, "error: %v\n", err)
	}
	for _, ev := range b.Events()[nev:] {
		printEvent(out, ev)
	}
	if h.b == nil {
		if err := b.Commit(h.s.AppliedIndex() + 1); err != nil {
			fmt.Fprintf(out, "commit error: %v\n", err)
		}
	}
}

func (h *harness) apply(t *testing.T, d *datadriven.TestData, b *Batch, out *strings.Builder) error {
	switch d.Cmd {
	case "put":
		resp, err := b.Put(parsePut(t, d.CmdArgs))
		if err != nil {
			return err
		}
		printPut(out, resp, "")
	case "del":
		resp, err := b.DeleteRange(parseDel(t, d.CmdArgs))
		if err != nil {
			return err
		}
		printDel(out, resp, "")
	case "txn":
		resp, err := b.TxnWith(parseTxn(t, d.Input), TxnOptions{
			MaxResponseBytes: intArg(t, d.CmdArgs, "max-bytes"), Answer: !d.HasArg("measure")})
		if err != nil {
			return err
		}
		printTxn(out, resp, "")
	case "compact":
		var rev int64
		d.ScanArgs(t, "rev", &rev)
		resp, err := b.Compact(rev)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rev=%d\n", resp.Header.Revision)
	case "lease-grant":
		var id, ttl int64
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "ttl", &ttl)
		if err := b.LeaseGrant(id, ttl); err != nil {
			return err
		}
		fmt.Fprintf(out, "ok rev=%d\n", b.Rev())
	case "lease-revoke":
		var id int64
		d.ScanArgs(t, "id", &id)
		if err := b.LeaseRevoke(id); err != nil {
			return err
		}
		fmt.Fprintf(out, "ok rev=%d\n", b.Rev())
	case "lease-checkpoint":
		var id, rem int64
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "remaining", &rem)
		if err := b.LeaseCheckpoint(id, rem); err != nil {
			return err
		}
		out.WriteString("ok\n")
	case "meta-put":
		var name string
		d.ScanArgs(t, "name", &name)
		b.PutMeta(name, []byte(unquote(t, argVal(d.CmdArgs, "v"))))
		out.WriteString("ok\n")
	case "meta-del":
		var name string
		d.ScanArgs(t, "name", &name)
		b.DeleteMeta(name)
		out.WriteString("ok\n")
	}
	return nil
}

// unquote interprets Go escapes in s.
func unquote(t testing.TB, s string) string {
	u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		t.Fatalf("bad string %q: %v", s, err)
	}
	return u
}

func argVal(args []datadriven.CmdArg, key string) string {
	for _, a := range args {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		}
	}
	return ""
}

func hasArg(args []datadriven.CmdArg, key string) bool {
	for _, a := range args {
		if a.Key == key {
			return true
		}
	}
	return false
}

func intArg(t testing.TB, args []datadriven.CmdArg, key string) int64 {
	s := argVal(args, key)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad %s: %v", key, err)
	}
	return n
}

func bytesArg(t testing.TB, args []datadriven.CmdArg, key string) []byte {
	if !hasArg(args, key) {
		return nil
	}
	return []byte(unquote(t, argVal(args, key)))
}

func parsePut(t testing.TB, args []datadriven.CmdArg) *pb.PutRequest {
	return &pb.PutRequest{
		Key:         bytesArg(t, args, "k"),
		Value:       bytesArg(t, args, "v"),
		Lease:       intArg(t, args, "lease"),
		PrevKv:      hasArg(args, "prev-kv"),
		IgnoreValue: hasArg(args, "ignore-value"),
		IgnoreLease: hasArg(args, "ignore-lease"),
	}
}

func parseDel(t testing.TB, args []datadriven.CmdArg) *pb.DeleteRangeRequest {
	return &pb.DeleteRangeRequest{
		Key:      bytesArg(t, args, "k"),
		RangeEnd: bytesArg(t, args, "end"),
		PrevKv:   hasArg(args, "prev-kv"),
	}
}

func parseRange(t testing.TB, args []datadriven.CmdArg) *pb.RangeRequest {
	r := &pb.RangeRequest{
		Key:               bytesArg(t, args, "k"),
		RangeEnd:          bytesArg(t, args, "end"),
		Revision:          intArg(t, args, "rev"),
		Limit:             intArg(t, args, "limit"),
		KeysOnly:          hasArg(args, "keys-only"),
		CountOnly:         hasArg(args, "count-only"),
		MinModRevision:    intArg(t, args, "min-mod"),
		MaxModRevision:    intArg(t, args, "max-mod"),
		MinCreateRevision: intArg(t, args, "min-create"),
		MaxCreateRevision: intArg(t, args, "max-create"),
	}
	if hasArg(args, "sort") {
		s := argVal(args, "sort")
		v, ok := pb.RangeRequest_SortTarget_value[strings.ToUpper(s)]
		if !ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("bad sort %q", s)
			}
			v = int32(n)
		}
		r.SortTarget = pb.RangeRequest_SortTarget(v)
	}
	if hasArg(args, "order") {
		switch s := argVal(args, "order"); s {
		case "none":
			r.SortOrder = pb.RangeRequest_NONE
		case "asc":
			r.SortOrder = pb.RangeRequest_ASCEND
		case "desc":
			r.SortOrder = pb.RangeRequest_DESCEND
		default:
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("bad order %q", s)
			}
			r.SortOrder = pb.RangeRequest_SortOrder(n)
		}
	}
	return r
}

// parseTxn parses a txn body. Each line is one of
//
//	cmp <value|version|create|mod|lease> k=K [end=E] <eq|ne|gt|lt> val=X
//	cmp <target> ... <result> val=X union=<target>   (target union of another kind)
//	<success|failure> put|del|get ...args as the commands above
//	<success|failure> txn       followed by its body, indented two more spaces
//	<success|failure> empty     an op with no request
func parseTxn(t testing.TB, body string) *pb.TxnRequest {
	lines := strings.Split(strings.TrimRight(body, "\n"), "\n")
	r, rest := parseTxnLines(t, lines, 0)
	if len(rest) != 0 {
		t.Fatalf("unparsed txn lines: %q", rest)
	}
	return r
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

func parseTxnLines(t testing.TB, lines []string, indent int) (*pb.TxnRequest, []string) {
	r := &pb.TxnRequest{}
	for len(lines) > 0 {
		line := lines[0]
		if strings.TrimSpace(line) == "" {
			lines = lines[1:]
			continue
		}
		if indentOf(line) < indent {
			break
		}
		if indentOf(line) != indent {
			t.Fatalf("bad indentation: %q", line)
		}
		lines = lines[1:]
		section, args, err := datadriven.ParseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		if section == "cmp" {
			r.Compare = append(r.Compare, parseCompare(t, args))
			continue
		}
		if len(args) == 0 {
			t.Fatalf("txn line without op: %q", line)
		}
		op := &pb.RequestOp{}
		switch args[0].Key {
		case "put":
			op.Request = &pb.RequestOp_RequestPut{RequestPut: parsePut(t, args[1:])}
		case "del":
			op.Request = &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: parseDel(t, args[1:])}
		case "get":
			op.Request = &pb.RequestOp_RequestRange{RequestRange: parseRange(t, args[1:])}
		case "txn":
			var nested *pb.TxnRequest
			nested, lines = parseTxnLines(t, lines, indent+2)
			op.Request = &pb.RequestOp_RequestTxn{RequestTxn: nested}
		case "empty":
		default:
			t.Fatalf("unknown txn op %q", args[0].Key)
		}
		switch section {
		case "success":
			r.Success = append(r.Success, op)
		case "failure":
			r.Failure = append(r.Failure, op)
		default:
			t.Fatalf("unknown txn section %q", section)
		}
	}
	return r, lines
}

func parseCompare(t testing.TB, args []datadriven.CmdArg) *pb.Compare {
	c := &pb.Compare{}
	var target, union string
	for _, a := range args {
		switch a.Key {
		case "k":
			c.Key = []byte(unquote(t, a.Vals[0]))
		case "end":
			c.RangeEnd = []byte(unquote(t, a.Vals[0]))
		case "val":
		case "union":
			union = a.Vals[0]
		case "eq":
			c.Result = pb.Compare_EQUAL
		case "ne":
			c.Result = pb.Compare_NOT_EQUAL
		case "gt":
			c.Result = pb.Compare_GREATER
		case "lt":
			c.Result = pb.Compare_LESS
		default:
			if target != "" {
				t.Fatalf("bad compare argument %q", a.Key)
			}
			target = a.Key
		}
	}
	tv, ok := pb.Compare_CompareTarget_value[strings.ToUpper(target)]
	if !ok {
		t.Fatalf("bad compare target %q", target)
	}
	c.Target = pb.Compare_CompareTarget(tv)
	if union == "" {
		union = target
	}
	val := unquote(t, argVal(args, "val"))
	num := func() int64 {
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			t.Fatalf("bad compare value %q", val)
		}
		return n
	}
	switch union {
	case "value":
		c.TargetUnion = &pb.Compare_Value{Value: []byte(val)}
	case "version":
		c.TargetUnion = &pb.Compare_Version{Version: num()}
	case "create":
		c.TargetUnion = &pb.Compare_CreateRevision{CreateRevision: num()}
	case "mod":
		c.TargetUnion = &pb.Compare_ModRevision{ModRevision: num()}
	case "lease":
		c.TargetUnion = &pb.Compare_Lease{Lease: num()}
	case "none":
	default:
		t.Fatalf("bad compare union %q", union)
	}
	return c
}

func printKV(out *strings.Builder, indent string, kv *mvccpb.KeyValue) {
	fmt.Fprintf(out, "%s%q", indent, kv.Key)
	if kv.Value != nil {
		fmt.Fprintf(out, " = %q", kv.Value)
	}
	fmt.Fprintf(out, " create=%d mod=%d ver=%d", kv.CreateRevision, kv.ModRevision, kv.Version)
	if kv.Lease != 0 {
		fmt.Fprintf(out, " lease=%d", kv.Lease)
	}
	out.WriteString("\n")
}

func printRange(out *strings.Builder, resp *pb.RangeResponse, indent string) {
	fmt.Fprintf(out, "%srev=%d count=%d more=%v\n", indent, resp.Header.Revision, resp.Count, resp.More)
	for _, kv := range resp.Kvs {
		printKV(out, indent+"  ", kv)
	}
}

// printPut prints resp's header line after what out holds, and its previous
// key-value indented by indent.
func printPut(out *strings.Builder, resp *pb.PutResponse, indent string) {
	fmt.Fprintf(out, "rev=%d\n", resp.Header.Revision)
	if resp.PrevKv != nil {
		printKV(out, indent+"  prev: ", resp.PrevKv)
	}
}

func printDel(out *strings.Builder, resp *pb.DeleteRangeResponse, indent string) {
	fmt.Fprintf(out, "rev=%d deleted=%d\n", resp.Header.Revision, resp.Deleted)
	for _, kv := range resp.PrevKvs {
		printKV(out, indent+"  prev: ", kv)
	}
}

func printTxn(out *strings.Builder, resp *pb.TxnResponse, indent string) {
	out.WriteString(indent)
	printTxnBody(out, resp, indent)
}

// printTxnBody prints resp's header line after what out holds, then its
// responses indented under indent.
func printTxnBody(out *strings.Builder, resp *pb.TxnResponse, indent string) {
	fmt.Fprintf(out, "rev=%d succeeded=%v\n", resp.Header.Revision, resp.Succeeded)
	for i, ro := range resp.Responses {
		in := indent + "  "
		switch r := ro.Response.(type) {
		case *pb.ResponseOp_ResponseRange:
			rr := r.ResponseRange
			fmt.Fprintf(out, "%s[%d] range rev=%d count=%d more=%v\n", in, i, rr.Header.Revision, rr.Count, rr.More)
			for _, kv := range rr.Kvs {
				printKV(out, in+"    ", kv)
			}
		case *pb.ResponseOp_ResponsePut:
			fmt.Fprintf(out, "%s[%d] put ", in, i)
			printPut(out, r.ResponsePut, in+"  ")
		case *pb.ResponseOp_ResponseDeleteRange:
			fmt.Fprintf(out, "%s[%d] del ", in, i)
			printDel(out, r.ResponseDeleteRange, in+"  ")
		case *pb.ResponseOp_ResponseTxn:
			fmt.Fprintf(out, "%s[%d] txn ", in, i)
			printTxnBody(out, r.ResponseTxn, in+"  ")
		default:
			fmt.Fprintf(out, "%s[%d] empty\n", in, i)
		}
	}
}

func printEvent(out *strings.Builder, ev *mvccpb.Event) {
	fmt.Fprintf(out, "event %s ", ev.Type)
	if ev.Type == mvccpb.Event_DELETE {
		fmt.Fprintf(out, "%q mod=%d\n", ev.Kv.Key, ev.Kv.ModRevision)
		return
	}
	printKV(out, "", ev.Kv)
}

// dump prints every record of the state machine, decoded.
func dump(t testing.TB, db *pebble.DB, out *strings.Builder) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixMeta}, UpperBound: []byte{prefixEnd}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = it.Close() }()
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		switch k[0] {
		case prefixMeta:
			name := string(k[2:])
			switch {
			case k[1] == metaSystem && name == metaState:
				st, err := decodeState(v)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(out, "meta state rev=%d compact=%d applied=%d\n", st.rev, st.compactRev, st.applied)
			case k[1] == metaSystem && name == metaCompaction:
				p, err := decodeCompactionProgress(v)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(out, "meta compaction done=%d target=%d cursor=%d.%d\n", p.done, p.target, p.cursorMain, p.cursorSub)
			default:
				fmt.Fprintf(out, "meta %d/%s %q\n", k[1], name, v)
			}
		case prefixLatest:
			var m meta
			if err := decodeLatest(v, &m); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(out, "latest %q create=%d mod=%d.%d ver=%d lease=%d\n", k[1:], m.create, m.mod, m.modSub, m.version, m.lease)
		case prefixVersion:
			prefix, main, sub, err := splitVersionKey(k)
			if err != nil {
				t.Fatal(err)
			}
			key, err := appendUnescaped(nil, prefix[1:])
			if err != nil {
				t.Fatal(err)
			}
			var m meta
			val, tomb, err := decodeVersion(v, &m)
			if err != nil {
				t.Fatal(err)
			}
			if tomb {
				fmt.Fprintf(out, "version %q@%d.%d tombstone\n", key, main, sub)
			} else {
				fmt.Fprintf(out, "version %q@%d.%d create=%d ver=%d lease=%d value=%q\n", key, main, sub, m.create, m.version, m.lease, val)
			}
		case prefixLog:
			main, sub, err := splitLogKey(k)
			if err != nil {
				t.Fatal(err)
			}
			typ, key, err := decodeLogRecord(v)
			if err != nil {
				t.Fatal(err)
			}
			kind := "put"
			if typ == logDelete {
				kind = "del"
			}
			fmt.Fprintf(out, "log %d.%d %s %q\n", main, sub, kind, key)
		case prefixLease:
			ttl, rem, err := decodeLeaseRecord(v)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(out, "lease %d ttl=%d remaining=%d\n", leaseIDFrom(k[1:]), ttl, rem)
		case prefixLeaseKey:
			fmt.Fprintf(out, "lease-key %d %q\n", leaseIDFrom(k[1:9]), k[9:])
		default:
			t.Fatalf("unknown record %q", k)
		}
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
}
