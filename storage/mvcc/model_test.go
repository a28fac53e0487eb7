package mvcc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// model is a naive in-memory reference of etcd's semantics: every version of
// every key in maps and slices, ranges computed the way etcd's range.go does
// (fetch in key order, limit, filter, sort, cut). The store must answer every
// request as the model does.
type model struct {
	rev, compactRev int64
	keys            map[string][]mversion // oldest first
	leases          map[int64]bool
	// write txn in progress
	begin, changes int64
	events         []*mvccpb.Event
}

type mversion struct {
	main, sub              int64
	tomb                   bool
	value                  []byte
	create, version, lease int64
}

func newModel() *model {
	return &model{rev: 1, keys: map[string][]mversion{}, leases: map[int64]bool{}}
}

// at returns key's visible version at rev, if any.
func (m *model) at(key string, rev int64) (mversion, bool) {
	vs := m.keys[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].main <= rev {
			return vs[i], !vs[i].tomb
		}
	}
	return mversion{}, false
}

func (m *model) latest(key string) (mversion, bool) { return m.at(key, 1<<62) }

func (v mversion) kv(key string) *mvccpb.KeyValue {
	return &mvccpb.KeyValue{Key: []byte(key), Value: v.value, CreateRevision: v.create, ModRevision: v.main, Version: v.version, Lease: v.lease}
}

// keysIn returns the sorted keys of the model in etcd's (key, range_end).
func (m *model) keysIn(key, end []byte) []string {
	var out []string
	for k := range m.keys {
		kb := []byte(k)
		switch {
		case len(end) == 0:
			if !bytes.Equal(kb, key) {
				continue
			}
		case len(end) == 1 && end[0] == 0:
			if bytes.Compare(kb, key) < 0 {
				continue
			}
		default:
			if bytes.Compare(kb, key) < 0 || bytes.Compare(kb, end) >= 0 {
				continue
			}
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (m *model) rangeAt(r *pb.RangeRequest, curRev int64) (*pb.RangeResponse, error) {
	rev := r.Revision
	if rev > curRev {
		return nil, ErrFutureRev
	}
	if rev <= 0 {
		rev = curRev
	}
	if rev < m.compactRev {
		return nil, ErrCompacted
	}
	var kvs []*mvccpb.KeyValue
	for _, k := range m.keysIn(r.Key, r.RangeEnd) {
		if v, ok := m.at(k, rev); ok {
			kvs = append(kvs, v.kv(k))
		}
	}
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: curRev}, Count: int64(len(kvs))}
	if r.CountOnly {
		return resp, nil
	}
	// etcd's rangeLimit: the index stops after limit+1 keys.
	limit := r.Limit
	if !isDefaultOrdering(r.SortTarget, r.SortOrder) || hasRevisionFilters(r) {
		limit = 0
	}
	if limit > 0 && int64(len(kvs)) > limit+1 {
		kvs = kvs[:limit+1]
	}
	var filtered []*mvccpb.KeyValue
	for _, kv := range kvs {
		if (r.MaxModRevision != 0 && kv.ModRevision > r.MaxModRevision) ||
			(r.MinModRevision != 0 && kv.ModRevision < r.MinModRevision) ||
			(r.MaxCreateRevision != 0 && kv.CreateRevision > r.MaxCreateRevision) ||
			(r.MinCreateRevision != 0 && kv.CreateRevision < r.MinCreateRevision) {
			continue
		}
		filtered = append(filtered, kv)
	}
	kvs = filtered
	order := r.SortOrder
	if r.SortTarget != pb.RangeRequest_KEY && order == pb.RangeRequest_NONE {
		order = pb.RangeRequest_ASCEND
	}
	if !isDefaultOrdering(r.SortTarget, order) {
		target := func(kv *mvccpb.KeyValue) int64 {
			switch r.SortTarget {
			case pb.RangeRequest_VERSION:
				return kv.Version
			case pb.RangeRequest_CREATE:
				return kv.CreateRevision
			case pb.RangeRequest_MOD:
				return kv.ModRevision
			}
			return 0
		}
		less := func(a, b *mvccpb.KeyValue) bool {
			switch r.SortTarget {
			case pb.RangeRequest_KEY:
				return bytes.Compare(a.Key, b.Key) < 0
			case pb.RangeRequest_VALUE:
				return bytes.Compare(a.Value, b.Value) < 0
			}
			return target(a) < target(b)
		}
		// Stable on key order: ties stay in key order, as etcd's sort
		// does for small inputs.
		if order == pb.RangeRequest_DESCEND {
			sort.SliceStable(kvs, func(i, j int) bool { return less(kvs[j], kvs[i]) })
		} else {
			sort.SliceStable(kvs, func(i, j int) bool { return less(kvs[i], kvs[j]) })
		}
	}
	if r.Limit > 0 && int64(len(kvs)) > r.Limit {
		kvs = kvs[:r.Limit]
		resp.More = true
	}
	for _, kv := range kvs {
		if r.KeysOnly {
			kv.Value = nil
			if r.SortTarget != pb.RangeRequest_VALUE {
				kv.Lease = 0
			}
		}
	}
	resp.Kvs = kvs
	return resp, nil
}

func (m *model) beginTxn() { m.begin, m.changes = m.rev, 0 }

func (m *model) endTxn() {
	if m.changes > 0 {
		m.rev++
	}
}

func (m *model) readRev() int64 {
	if m.changes > 0 {
		return m.begin + 1
	}
	return m.begin
}

func (m *model) put(key string, value []byte, lease int64) {
	main := m.begin + 1
	v := mversion{main: main, sub: m.changes, value: value, create: main, version: 1, lease: lease}
	if old, ok := m.latest(key); ok {
		v.create, v.version = old.create, old.version+1
	}
	m.keys[key] = append(m.keys[key], v)
	m.changes++
	m.events = append(m.events, &mvccpb.Event{Type: mvccpb.Event_PUT, Kv: v.kv(key)})
}

func (m *model) del(key, end []byte) (deleted int64, prev []*mvccpb.KeyValue) {
	for _, k := range m.keysIn(key, end) {
		old, ok := m.latest(k)
		if !ok {
			continue
		}
		prev = append(prev, old.kv(k))
		m.keys[k] = append(m.keys[k], mversion{main: m.begin + 1, sub: m.changes, tomb: true})
		m.changes++
		m.events = append(m.events, &mvccpb.Event{Type: mvccpb.Event_DELETE, Kv: &mvccpb.KeyValue{Key: []byte(k), ModRevision: m.begin + 1}})
		deleted++
	}
	return deleted, prev
}

func (m *model) putReq(p *pb.PutRequest) (*pb.PutResponse, error) {
	if p.Lease != 0 && !m.leases[p.Lease] {
		return nil, ErrLeaseNotFound
	}
	old, exists := m.latest(string(p.Key))
	if (p.IgnoreValue || p.IgnoreLease) && !exists {
		return nil, ErrKeyNotFound
	}
	value, lease := p.Value, p.Lease
	if p.IgnoreValue {
		value = old.value
	}
	if p.IgnoreLease {
		lease = old.lease
	}
	resp := &pb.PutResponse{Header: &pb.ResponseHeader{Revision: m.begin + 1}}
	if p.PrevKv && exists {
		resp.PrevKv = old.kv(string(p.Key))
	}
	m.put(string(p.Key), value, lease)
	return resp, nil
}

func (m *model) delReq(d *pb.DeleteRangeRequest) *pb.DeleteRangeResponse {
	n, prev := m.del(d.Key, d.RangeEnd)
	resp := &pb.DeleteRangeResponse{Header: &pb.ResponseHeader{Revision: m.readRev()}, Deleted: n}
	if d.PrevKv {
		resp.PrevKvs = prev
	}
	return resp
}

func (m *model) compare(c *pb.Compare) bool {
	v, ok := m.latest(string(c.Key))
	if !ok {
		if c.Target == pb.Compare_VALUE {
			return false
		}
		v = mversion{}
	}
	return compareKV(c, &meta{create: v.create, mod: v.main, version: v.version, lease: v.lease}, v.value)
}

// txn runs a txn of compares on single keys and flat branches.
func (m *model) txn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	ok := true
	for _, c := range r.Compare {
		ok = ok && m.compare(c)
	}
	ops := branch(r, ok)
	for _, op := range ops {
		if p := op.GetRequestPut(); p != nil && p.Lease != 0 && !m.leases[p.Lease] {
			return nil, ErrLeaseNotFound
		}
		if g := op.GetRequestRange(); g != nil && g.Revision != 0 && g.Revision < m.compactRev {
			return nil, ErrCompacted
		}
	}
	resp := &pb.TxnResponse{Succeeded: ok, Header: &pb.ResponseHeader{}}
	for _, op := range ops {
		switch {
		case op.GetRequestRange() != nil:
			rr, err := m.rangeAt(op.GetRequestRange(), m.readRev())
			if err != nil {
				return nil, err
			}
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: rr}})
		case op.GetRequestPut() != nil:
			pr, err := m.putReq(op.GetRequestPut())
			if err != nil {
				return nil, err
			}
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponsePut{ResponsePut: pr}})
		case op.GetRequestDeleteRange() != nil:
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: m.delReq(op.GetRequestDeleteRange())}})
		}
	}
	resp.Header.Revision = m.readRev()
	return resp, nil
}

func (m *model) revoke(id int64) {
	var keys []string
	for k := range m.keys {
		if v, ok := m.latest(k); ok && v.lease == id {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.del([]byte(k), nil)
	}
	delete(m.leases, id)
}

// gen generates random requests over a small keyspace, so that keys collide
// and ranges overlap.
type gen struct {
	rnd *rand.Rand
	m   *model
}

var modelKeys = []string{"a", "a\x00", "ab", "abc", "b", "b\x00\x01", "ba", "c", "d", "e\xff"}

func (g *gen) key() []byte { return []byte(modelKeys[g.rnd.IntN(len(modelKeys))]) }

func (g *gen) end(key []byte) []byte {
	switch g.rnd.IntN(5) {
	case 0, 1:
		return nil
	case 2:
		return []byte{0}
	case 3:
		return prefixUpperBound(key)
	default:
		return g.key()
	}
}

func (g *gen) value() []byte {
	if g.rnd.IntN(10) == 0 {
		return nil
	}
	return fmt.Appendf(nil, "v%d", g.rnd.IntN(50))
}

func (g *gen) lease() int64 {
	if g.rnd.IntN(3) == 0 {
		return int64(g.rnd.IntN(4))
	}
	return 0
}

func (g *gen) rev() int64 {
	switch g.rnd.IntN(4) {
	case 0:
		return 0
	case 1:
		return g.m.rev + int64(g.rnd.IntN(2)) // sometimes in the future
	}
	lo := max(g.m.compactRev-1, 0)
	return lo + g.rnd.Int64N(g.m.rev-lo+1)
}

func (g *gen) rangeReq() *pb.RangeRequest {
	k := g.key()
	r := &pb.RangeRequest{Key: k, RangeEnd: g.end(k), Revision: g.rev()}
	if g.rnd.IntN(2) == 0 {
		r.Limit = int64(g.rnd.IntN(5)) - 1
	}
	if g.rnd.IntN(2) == 0 {
		r.SortTarget = pb.RangeRequest_SortTarget(g.rnd.IntN(5))
		r.SortOrder = pb.RangeRequest_SortOrder(g.rnd.IntN(3))
	}
	r.KeysOnly = g.rnd.IntN(5) == 0
	r.CountOnly = g.rnd.IntN(8) == 0
	if g.rnd.IntN(4) == 0 {
		r.MinModRevision = g.rnd.Int64N(g.m.rev + 1)
	}
	if g.rnd.IntN(4) == 0 {
		r.MaxModRevision = g.rnd.Int64N(g.m.rev + 1)
	}
	if g.rnd.IntN(5) == 0 {
		r.MinCreateRevision = g.rnd.Int64N(g.m.rev + 1)
	}
	if g.rnd.IntN(5) == 0 {
		r.MaxCreateRevision = g.rnd.Int64N(g.m.rev + 1)
	}
	return r
}

func (g *gen) putReq() *pb.PutRequest {
	p := &pb.PutRequest{Key: g.key(), Value: g.value(), Lease: g.lease(), PrevKv: g.rnd.IntN(3) == 0}
	switch g.rnd.IntN(8) {
	case 0:
		p.IgnoreValue, p.Value = true, nil
	case 1:
		p.IgnoreLease, p.Lease = true, 0
	}
	return p
}

func (g *gen) delReq() *pb.DeleteRangeRequest {
	k := g.key()
	return &pb.DeleteRangeRequest{Key: k, RangeEnd: g.end(k), PrevKv: g.rnd.IntN(2) == 0}
}

func (g *gen) txnReq() *pb.TxnRequest {
	r := &pb.TxnRequest{}
	for range g.rnd.IntN(3) {
		c := &pb.Compare{Key: g.key(), Result: pb.Compare_CompareResult(g.rnd.IntN(4))}
		switch g.rnd.IntN(4) {
		case 0:
			c.Target, c.TargetUnion = pb.Compare_VALUE, &pb.Compare_Value{Value: g.value()}
		case 1:
			c.Target, c.TargetUnion = pb.Compare_VERSION, &pb.Compare_Version{Version: int64(g.rnd.IntN(3))}
		case 2:
			c.Target, c.TargetUnion = pb.Compare_MOD, &pb.Compare_ModRevision{ModRevision: g.rnd.Int64N(g.m.rev + 1)}
		default:
			c.Target, c.TargetUnion = pb.Compare_CREATE, &pb.Compare_CreateRevision{CreateRevision: g.rnd.Int64N(g.m.rev + 1)}
		}
		r.Compare = append(r.Compare, c)
	}
	ops := func() []*pb.RequestOp {
		var ops []*pb.RequestOp
		for range g.rnd.IntN(4) {
			switch g.rnd.IntN(3) {
			case 0:
				rr := g.rangeReq()
				rr.Revision = 0
				ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: rr}})
			case 1:
				p := g.putReq()
				p.IgnoreValue, p.IgnoreLease = false, false
				ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: p}})
			default:
				ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: g.delReq()}})
			}
		}
		return ops
	}
	r.Success, r.Failure = ops(), ops()
	return r
}

func sameResult(t *testing.T, what string, req proto.Message, got, want proto.Message, gotErr, wantErr error) {
	t.Helper()
	if !errors.Is(gotErr, wantErr) || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s %v: error %v, want %v", what, req, gotErr, wantErr)
	}
	if wantErr == nil && !proto.Equal(got, want) {
		t.Fatalf("%s %v:\n got %v\nwant %v", what, req, got, want)
	}
}

// TestModel applies random requests to the store and the model, and checks
// every response, every event and the stored invariants. Two stores apply
// the same entries; only one runs physical compaction, and their hashes must
// agree.
func TestModel(t *testing.T) {
	seeds, steps := uint64(8), 1500
	if raceEnabled || testing.Short() {
		seeds, steps = 3, 800
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed, steps) })
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	m := newModel()
	g := &gen{rnd: rand.New(rand.NewPCG(seed, 42)), m: m}
	db, s := openTestStore(t)
	defer db.close(t)
	db2, s2 := openTestStore(t)
	defer db2.close(t)

	// The first store's batches prefetch random keys (Batch.Prefetch), when
	// they open and now and then while they are used; the second's never
	// do. Both must answer as the model does and end with the same hashes.
	// A source of its own leaves the sequence of operations as it was.
	pr := rand.New(rand.NewPCG(seed, 7))
	prefetch := func(b *Batch) {
		var keys [][]byte
		for range pr.IntN(2 * len(modelKeys)) {
			keys = append(keys, []byte(modelKeys[pr.IntN(len(modelKeys))]))
		}
		if err := b.Prefetch(keys); err != nil {
			t.Fatal(err)
		}
	}
	// Txns are applied with a bound on their ranges' key-values now and
	// then, chosen around what they take so that some fail over it: the
	// first store builds the ranges (TxnOptions.Answer), the second only
	// measures them, and both must refuse the same txns and change
	// nothing for them. Another source of its own too.
	br := rand.New(rand.NewPCG(seed, 9))
	b, b2 := s.NewBatch(), s2.NewBatch()
	prefetch(b)
	defer func() { b.Close(); b2.Close() }()
	for step := range steps {
		nev := len(b.Events())
		m.events = m.events[:0]
		if pr.IntN(10) == 0 {
			prefetch(b)
		}
		switch op := g.rnd.IntN(20); {
		case op < 5:
			p := g.putReq()
			m.beginTxn()
			want, wantErr := m.putReq(p)
			m.endTxn()
			got, err := b.Put(p)
			sameResult(t, "put", p, got, want, err, wantErr)
			_, _ = b2.Put(p)
		case op < 7:
			d := g.delReq()
			m.beginTxn()
			want := m.delReq(d)
			m.endTxn()
			got, err := b.DeleteRange(d)
			sameResult(t, "delete", d, got, want, err, nil)
			_, _ = b2.DeleteRange(d)
		case op < 10:
			r := g.txnReq()
			mm := *m // txn errors leave the model unchanged
			mm.keys = cloneKeys(m.keys)
			m.beginTxn()
			want, wantErr := m.txn(r)
			var bound int64
			if wantErr == nil && br.IntN(3) > 0 {
				cost := txnRangeCost(want)
				if bound = max(cost+int64(br.IntN(3))-1, 1); cost > bound {
					wantErr = ErrResponseTooLarge
				}
			}
			if wantErr != nil {
				*m = mm
				m.events = m.events[:0]
			} else {
				m.endTxn()
			}
			got, err := b.TxnWith(r, TxnOptions{MaxResponseBytes: bound, Answer: true})
			sameResult(t, "txn", r, got, want, err, wantErr)
			if _, err := b2.TxnWith(r, TxnOptions{MaxResponseBytes: bound}); !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("step %d: txn %v within %d bytes, measured: %v, want %v", step, r, bound, err, wantErr)
			}
		case op < 11:
			id := int64(g.rnd.IntN(4))
			err := b.LeaseGrant(id, 10)
			_ = b2.LeaseGrant(id, 10)
			switch {
			case id == 0:
				if !errors.Is(err, ErrLeaseNotFound) {
					t.Fatalf("grant 0: %v", err)
				}
			case m.leases[id]:
				if !errors.Is(err, ErrLeaseExists) {
					t.Fatalf("grant %d: %v", id, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				m.leases[id] = true
			}
		case op < 12:
			id := int64(g.rnd.IntN(4))
			err := b.LeaseRevoke(id)
			_ = b2.LeaseRevoke(id)
			if !m.leases[id] {
				if !errors.Is(err, ErrLeaseNotFound) {
					t.Fatalf("revoke %d: %v", id, err)
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			m.beginTxn()
			m.revoke(id)
			m.endTxn()
		case op < 13:
			rev := g.rev()
			_, err := b.Compact(rev)
			_, _ = b2.Compact(rev)
			switch {
			case rev <= m.compactRev:
				if !errors.Is(err, ErrCompacted) {
					t.Fatalf("compact %d at %d: %v", rev, m.compactRev, err)
				}
			case rev > m.rev:
				if !errors.Is(err, ErrFutureRev) {
					t.Fatalf("compact %d: %v", rev, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				m.compactRev = rev
			}
		case op < 15:
			// Commit, sometimes compact physically, check the stored
			// invariants and the hashes, and sometimes reopen.
			if err := b.Commit(uint64(step)); err != nil {
				t.Fatal(err)
			}
			if err := b2.Commit(uint64(step)); err != nil {
				t.Fatal(err)
			}
			if g.rnd.IntN(2) == 0 {
				if err := s.RunCompaction(context.Background(), 1+g.rnd.IntN(5)); err != nil {
					t.Fatal(err)
				}
			}
			checkInvariants(t, s)
			checkInvariants(t, s2)
			// Views see the committed state, which the model now is.
			for range 3 {
				r := g.rangeReq()
				want, wantErr := m.rangeAt(r, m.rev)
				v := s.Read()
				got, err := v.Range(r)
				v.Close()
				sameResult(t, "view range", r, got, want, err, wantErr)
			}
			rev := g.rev()
			v, v2 := s.Read(), s2.Read()
			h, c, err := v.Hash(rev)
			h2, c2, err2 := v2.Hash(rev)
			v.Close()
			v2.Close()
			if !errors.Is(err, err2) || h != h2 || c != c2 {
				t.Fatalf("hash at %d: %x/%d/%v and %x/%d/%v", rev, h, c, err, h2, c2, err2)
			}
			if g.rnd.IntN(4) == 0 {
				db.reopen(t)
				var err error
				if s, err = Open(db.db); err != nil {
					t.Fatal(err)
				}
			}
			b, b2 = s.NewBatch(), s2.NewBatch()
			prefetch(b)
			nev = 0
		default:
			r := g.rangeReq()
			want, wantErr := m.rangeAt(r, m.rev)
			got, err := b.Range(r)
			sameResult(t, "range", r, got, want, err, wantErr)
			checkMeasure(t, b, r, br)
		}
		if b.Rev() != m.rev || b2.Rev() != m.rev {
			t.Fatalf("step %d: revisions %d and %d, model %d", step, b.Rev(), b2.Rev(), m.rev)
		}
		evs := b.Events()[nev:]
		if len(evs) != len(m.events) {
			t.Fatalf("step %d: %d events, model %d", step, len(evs), len(m.events))
		}
		for i := range evs {
			if !proto.Equal(evs[i], m.events[i]) {
				t.Fatalf("step %d: event %v, model %v", step, evs[i], m.events[i])
			}
		}
	}
	if err := b.Commit(uint64(steps)); err != nil {
		t.Fatal(err)
	}
	// Views agree with the model at every readable revision.
	v := s.Read()
	defer v.Close()
	for rev := max(m.compactRev, 1); rev <= m.rev; rev++ {
		r := &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}
		want, _ := m.rangeAt(r, m.rev)
		sameResult(t, "view range", r, mustRange(t, v, r), want, nil, nil)
	}
}

// txnRangeCost returns what the key-values of every range in resp, nested
// txns included, take from a response budget.
func txnRangeCost(resp *pb.TxnResponse) int64 {
	var n int64
	for _, ro := range resp.GetResponses() {
		for _, kv := range ro.GetResponseRange().GetKvs() {
			n += kvCost(kv.Key, kv.Value)
		}
		if nt := ro.GetResponseTxn(); nt != nil {
			n += txnRangeCost(nt)
		}
	}
	return n
}

// checkMeasure checks measure.go's invariant on r through b: with bounds
// just below, at and under what r's key-values take, measuring fails
// exactly when building does, and otherwise takes the same bytes.
func checkMeasure(t *testing.T, b *Batch, r *pb.RangeRequest, rnd *rand.Rand) {
	t.Helper()
	full, err := rangeKVs(b.b, r, b.rev, b.compactRev, nil)
	if err != nil {
		return
	}
	var cost int64
	for _, kv := range full.Kvs {
		cost += kvCost(kv.Key, kv.Value)
	}
	for _, bound := range []int64{cost - 1, cost, 1 + rnd.Int64N(cost+1)} {
		if bound <= 0 {
			continue
		}
		built, measured := newResponseBudget(bound), newResponseBudget(bound)
		_, berr := rangeKVs(b.b, r, b.rev, b.compactRev, built)
		merr := measureRange(b.b, r, b.rev, b.compactRev, measured)
		over := cost > bound
		if errors.Is(berr, ErrResponseTooLarge) != over || errors.Is(merr, ErrResponseTooLarge) != over ||
			(!over && (berr != nil || merr != nil || built.used != cost || measured.used != cost)) {
			t.Fatalf("range %v costs %d, within %d: built %d (%v), measured %d (%v)",
				r, cost, bound, built.used, berr, measured.used, merr)
		}
	}
}

func cloneKeys(keys map[string][]mversion) map[string][]mversion {
	out := make(map[string][]mversion, len(keys))
	for k, v := range keys {
		out[k] = append([]mversion(nil), v...)
	}
	return out
}

// checkInvariants checks the invariants of keys.go on the committed state.
func checkInvariants(t *testing.T, s *Store) {
	t.Helper()
	v := s.Read()
	defer v.Close()
	phys, err := s.PhysicalCompactRev()
	if err != nil {
		t.Fatal(err)
	}
	type info struct {
		newest        meta
		newestTomb    bool
		belowPhys     int
		haveVersions  bool
		latest        *meta
		attachedLease int64
	}
	keys := map[string]*info{}
	get := func(k string) *info {
		if keys[k] == nil {
			keys[k] = &info{}
		}
		return keys[k]
	}
	logs := map[[2]int64]string{}
	versions := map[[2]int64]string{}
	it, err := v.snap.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = it.Close() }()
	for ok := it.First(); ok; ok = it.Next() {
		k, val := it.Key(), it.Value()
		switch k[0] {
		case prefixLatest:
			var m meta
			if err := decodeLatest(val, &m); err != nil {
				t.Fatal(err)
			}
			get(string(k[1:])).latest = &m
		case prefixVersion:
			prefix, main, sub, err := splitVersionKey(k)
			if err != nil {
				t.Fatal(err)
			}
			key, _ := appendUnescaped(nil, prefix[1:])
			in := get(string(key))
			var m meta
			_, tomb, err := decodeVersion(val, &m)
			if err != nil {
				t.Fatal(err)
			}
			if !in.haveVersions {
				m.mod, m.modSub = main, sub
				in.newest, in.newestTomb, in.haveVersions = m, tomb, true
			}
			if main < phys {
				in.belowPhys++
				if tomb {
					t.Fatalf("tombstone of %q at %d below physical compaction %d", key, main, phys)
				}
			} else {
				versions[[2]int64{main, sub}] = string(key)
			}
		case prefixLog:
			main, sub, err := splitLogKey(k)
			if err != nil {
				t.Fatal(err)
			}
			_, key, _ := decodeLogRecord(val)
			logs[[2]int64{main, sub}] = string(key)
		case prefixLeaseKey:
			get(string(k[9:])).attachedLease = leaseIDFrom(k[1:9])
		}
	}
	for k, in := range keys {
		switch {
		case in.latest == nil && in.haveVersions && !in.newestTomb:
			t.Fatalf("%q: newest version live but no latest record", k)
		case in.latest != nil && (!in.haveVersions || in.newestTomb || in.latest.mod != in.newest.mod || in.latest.modSub != in.newest.modSub):
			t.Fatalf("%q: latest record %+v does not name the newest version %+v", k, in.latest, in.newest)
		case in.belowPhys > 1:
			t.Fatalf("%q: %d versions below physical compaction %d", k, in.belowPhys, phys)
		}
		var lease int64
		if in.latest != nil {
			lease = in.latest.lease
		}
		if lease != in.attachedLease {
			t.Fatalf("%q: lease %d, attached to %d", k, lease, in.attachedLease)
		}
	}
	if len(logs) != len(versions) {
		t.Fatalf("%d log entries, %d versions at or above %d", len(logs), len(versions), phys)
	}
	for rev, k := range versions {
		if logs[rev] != k {
			t.Fatalf("version %v of %q: log entry %q", rev, k, logs[rev])
		}
	}
}
