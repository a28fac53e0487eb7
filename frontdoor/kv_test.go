package frontdoor_test

import (
	"fmt"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn"
	"github.com/cairnkv/cairn/cairntest"
)

// keys returns the keys of kvs, joined by spaces.
func keys(kvs []*mvccpb.KeyValue) string {
	var out []string
	for _, kv := range kvs {
		out = append(out, string(kv.Key))
	}
	return strings.Join(out, " ")
}

func mustPut(t *testing.T, c *clientv3.Client, k, v string, opts ...clientv3.OpOption) *clientv3.PutResponse {
	t.Helper()
	resp, err := c.Put(cairntest.Ctx(t), k, v, opts...)
	if err != nil {
		t.Fatalf("put %q: %v", k, err)
	}
	return resp
}

func mustGet(t *testing.T, c *clientv3.Client, k string, opts ...clientv3.OpOption) *clientv3.GetResponse {
	t.Helper()
	resp, err := c.Get(cairntest.Ctx(t), k, opts...)
	if err != nil {
		t.Fatalf("get %q: %v", k, err)
	}
	return resp
}

// wantErr checks that err is the etcd error want, as a client sees it.
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if rpctypes.Error(err).Error() != rpctypes.Error(want).Error() {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func TestPutGetHeaders(t *testing.T) {
	n := cairntest.Start(t)
	c := n.Client
	put := mustPut(t, c, "a", "1")
	h := put.Header
	if h.ClusterId != n.ClusterID() || h.MemberId != n.ID() || h.RaftTerm == 0 || h.Revision != 2 {
		t.Fatalf("put header = %+v, want cluster %x member %x, a raft term and revision 2", h, n.ClusterID(), n.ID())
	}
	get := mustGet(t, c, "a")
	if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != "1" || get.Kvs[0].CreateRevision != 2 ||
		get.Kvs[0].ModRevision != 2 || get.Kvs[0].Version != 1 || get.Header.Revision != 2 {
		t.Fatalf("get = %+v", get)
	}
	mustPut(t, c, "a", "2")
	get = mustGet(t, c, "a", clientv3.WithSerializable())
	if kv := get.Kvs[0]; string(kv.Value) != "2" || kv.Version != 2 || kv.CreateRevision != 2 || kv.ModRevision != 3 {
		t.Fatalf("after second put: %+v", kv)
	}
}

func TestPutOptions(t *testing.T) {
	c := cairntest.Start(t).Client
	ctx := cairntest.Ctx(t)
	mustPut(t, c, "k", "v1")
	put := mustPut(t, c, "k", "v2", clientv3.WithPrevKV())
	if put.PrevKv == nil || string(put.PrevKv.Value) != "v1" {
		t.Fatalf("prev kv = %v", put.PrevKv)
	}
	mustPut(t, c, "k", "", clientv3.WithIgnoreValue())
	if get := mustGet(t, c, "k"); string(get.Kvs[0].Value) != "v2" || get.Kvs[0].Version != 3 {
		t.Fatalf("after ignore_value: %+v", get.Kvs[0])
	}
	_, err := c.Put(ctx, "missing", "", clientv3.WithIgnoreValue())
	wantErr(t, err, rpctypes.ErrGRPCKeyNotFound)
	_, err = c.Put(ctx, "missing", "", clientv3.WithIgnoreLease())
	wantErr(t, err, rpctypes.ErrGRPCKeyNotFound)
	_, err = c.Put(ctx, "k", "x", clientv3.WithIgnoreValue())
	wantErr(t, err, rpctypes.ErrGRPCValueProvided)
	_, err = c.Put(ctx, "k", "x", clientv3.WithIgnoreLease(), clientv3.WithLease(5))
	wantErr(t, err, rpctypes.ErrGRPCLeaseProvided)
	_, err = c.Put(ctx, "k", "x", clientv3.WithLease(12345))
	wantErr(t, err, rpctypes.ErrGRPCLeaseNotFound)
	_, err = c.Put(ctx, "", "x")
	wantErr(t, err, rpctypes.ErrGRPCEmptyKey)
}

func TestGetOptions(t *testing.T) {
	c := cairntest.Start(t).Client
	for i, k := range []string{"a", "b", "b1", "b2", "c"} {
		mustPut(t, c, k, fmt.Sprint(5-i)) // revisions 2..6
	}
	mustPut(t, c, "b1", "x") // revision 7: b1 version 2

	cases := []struct {
		name string
		key  string
		opts []clientv3.OpOption
		want string
	}{
		{"prefix", "b", []clientv3.OpOption{clientv3.WithPrefix()}, "b b1 b2"},
		{"range", "a", []clientv3.OpOption{clientv3.WithRange("b2")}, "a b b1"},
		{"from key", "b1", []clientv3.OpOption{clientv3.WithFromKey()}, "b1 b2 c"},
		{"all", "\x00", []clientv3.OpOption{clientv3.WithFromKey()}, "a b b1 b2 c"},
		{"limit", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithLimit(2)}, "a b"},
		{"sort key desc", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}, "c b2 b1 b a"},
		{"sort value asc", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend)}, "c b2 b a b1"},
		{"sort version desc limit", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithSort(clientv3.SortByVersion, clientv3.SortDescend), clientv3.WithLimit(1)}, "b1"},
		{"sort create desc", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend)}, "c b2 b1 b a"},
		{"sort mod asc", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend)}, "a b b2 c b1"},
		{"min mod rev", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithMinModRev(6)}, "b1 c"},
		{"max mod rev", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithMaxModRev(3)}, "a b"},
		{"min create rev", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithMinCreateRev(5)}, "b2 c"},
		{"max create rev", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithMaxCreateRev(3)}, "a b"},
		{"history", "a", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithRev(4)}, "a b b1"},
		{"serializable", "b", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSerializable()}, "b b1 b2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys(mustGet(t, c, tc.key, tc.opts...).Kvs); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	limited := mustGet(t, c, "a", clientv3.WithFromKey(), clientv3.WithLimit(2))
	if !limited.More || limited.Count != 5 {
		t.Fatalf("limit 2 of 5: more=%v count=%d", limited.More, limited.Count)
	}
	old := mustGet(t, c, "b1", clientv3.WithRev(6))
	if string(old.Kvs[0].Value) != "3" || old.Header.Revision != 7 {
		t.Fatalf("b1 at revision 6 = %+v (header %+v)", old.Kvs[0], old.Header)
	}
	cnt := mustGet(t, c, "b", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if cnt.Count != 3 || len(cnt.Kvs) != 0 {
		t.Fatalf("count only: count=%d kvs=%d", cnt.Count, len(cnt.Kvs))
	}
	ko := mustGet(t, c, "b", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if len(ko.Kvs) != 3 || ko.Kvs[0].Value != nil {
		t.Fatalf("keys only: %+v", ko.Kvs)
	}
	_, err := c.Get(cairntest.Ctx(t), "a", clientv3.WithRev(100))
	wantErr(t, err, rpctypes.ErrGRPCFutureRev)
	_, err = c.Get(cairntest.Ctx(t), "")
	wantErr(t, err, rpctypes.ErrGRPCEmptyKey)
}

func TestDelete(t *testing.T) {
	c := cairntest.Start(t).Client
	ctx := cairntest.Ctx(t)
	for _, k := range []string{"a", "b1", "b2", "c"} {
		mustPut(t, c, k, "v-"+k)
	}
	del, err := c.Delete(ctx, "b", clientv3.WithPrefix(), clientv3.WithPrevKV())
	if err != nil {
		t.Fatal(err)
	}
	if del.Deleted != 2 || keys(del.PrevKvs) != "b1 b2" || del.Header.Revision != 6 {
		t.Fatalf("delete prefix: %+v", del)
	}
	// Deleting nothing does not raise the revision.
	del, err = c.Delete(ctx, "zzz")
	if err != nil || del.Deleted != 0 || del.Header.Revision != 6 {
		t.Fatalf("delete of a missing key: %+v, %v", del, err)
	}
	if got := keys(mustGet(t, c, "\x00", clientv3.WithFromKey()).Kvs); got != "a c" {
		t.Fatalf("after delete: %q", got)
	}
	mustPut(t, c, "b1", "again")
	if kv := mustGet(t, c, "b1").Kvs[0]; kv.Version != 1 || kv.CreateRevision != 7 {
		t.Fatalf("recreated key: %+v", kv)
	}
	_, err = c.Delete(ctx, "")
	wantErr(t, err, rpctypes.ErrGRPCEmptyKey)
}

func TestTxn(t *testing.T) {
	c := cairntest.Start(t).Client
	ctx := cairntest.Ctx(t)
	mustPut(t, c, "k", "v") // revision 2

	resp, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.Value("k"), "=", "v"), clientv3.Compare(clientv3.Version("k"), "=", 1)).
		Then(clientv3.OpPut("k", "w"), clientv3.OpPut("other", "o"), clientv3.OpGet("k")).
		Else(clientv3.OpPut("k", "else")).
		Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Succeeded || resp.Header.Revision != 3 {
		t.Fatalf("txn: succeeded=%v revision=%d", resp.Succeeded, resp.Header.Revision)
	}
	// The get inside the txn sees the txn's own put.
	if got := resp.Responses[2].GetResponseRange().Kvs[0]; string(got.Value) != "w" || got.ModRevision != 3 {
		t.Fatalf("read inside txn: %+v", got)
	}
	if kv := mustGet(t, c, "other").Kvs[0]; kv.ModRevision != 3 {
		t.Fatalf("both puts of a txn share one revision: %+v", kv)
	}

	resp, err = c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision("k"), "<", 3)).
		Then(clientv3.OpPut("k", "then")).
		Else(clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision("k"), "=", 2)},
			[]clientv3.Op{clientv3.OpPut("nested", "yes")}, nil)).
		Commit()
	if err != nil || resp.Succeeded {
		t.Fatalf("txn else branch: %+v, %v", resp, err)
	}
	if !resp.Responses[0].GetResponseTxn().Succeeded || string(mustGet(t, c, "nested").Kvs[0].Value) != "yes" {
		t.Fatal("nested txn did not run its success branch")
	}

	// A txn that changes nothing keeps the revision.
	rev := mustGet(t, c, "k").Header.Revision
	resp, err = c.Txn(ctx).If(clientv3.Compare(clientv3.Value("k"), "=", "nope")).Then(clientv3.OpPut("k", "x")).Commit()
	if err != nil || resp.Succeeded || resp.Header.Revision != rev {
		t.Fatalf("failed compare without else: %+v, %v", resp, err)
	}

	_, err = c.Txn(ctx).Then(clientv3.OpPut("d", "1"), clientv3.OpPut("d", "2")).Commit()
	wantErr(t, err, rpctypes.ErrGRPCDuplicateKey)
	_, err = c.Txn(ctx).Then(clientv3.OpDelete("a", clientv3.WithPrefix()), clientv3.OpPut("ab", "2")).Commit()
	wantErr(t, err, rpctypes.ErrGRPCDuplicateKey)
	var ops []clientv3.Op
	for i := 0; i < 129; i++ {
		ops = append(ops, clientv3.OpPut(fmt.Sprint("key", i), "v"))
	}
	_, err = c.Txn(ctx).Then(ops...).Commit()
	wantErr(t, err, rpctypes.ErrGRPCTooManyOps)
	_, err = c.Txn(ctx).If(clientv3.Compare(clientv3.Value(""), "=", "")).Commit()
	wantErr(t, err, rpctypes.ErrGRPCEmptyKey)
}

func TestCompact(t *testing.T) {
	c := cairntest.Start(t).Client
	ctx := cairntest.Ctx(t)
	for i := 0; i < 5; i++ {
		mustPut(t, c, "k", fmt.Sprint(i)) // revisions 2..6
	}
	if _, err := c.Compact(ctx, 4, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(ctx, "k", clientv3.WithRev(3))
	wantErr(t, err, rpctypes.ErrGRPCCompacted)
	if got := mustGet(t, c, "k", clientv3.WithRev(4)); string(got.Kvs[0].Value) != "2" {
		t.Fatalf("at the compaction revision: %+v", got.Kvs)
	}
	_, err = c.Compact(ctx, 4)
	wantErr(t, err, rpctypes.ErrGRPCCompacted)
	_, err = c.Compact(ctx, 100)
	wantErr(t, err, rpctypes.ErrGRPCFutureRev)
}

func TestRequestTooLarge(t *testing.T) {
	c := cairntest.Start(t, func(c *cairn.Config) { c.MaxRequestBytes = 1024 }).Client
	_, err := c.Put(cairntest.Ctx(t), "k", strings.Repeat("x", 2048))
	wantErr(t, err, rpctypes.ErrGRPCRequestTooLarge)
	mustPut(t, c, "k", strings.Repeat("x", 512))
}

func TestRestartKeepsData(t *testing.T) {
	n := cairntest.Start(t)
	for i := 0; i < 10; i++ {
		mustPut(t, n.Client, fmt.Sprint("k", i), fmt.Sprint(i))
	}
	n.Restart()
	get := mustGet(t, n.Client, "k", clientv3.WithPrefix())
	if len(get.Kvs) != 10 || get.Header.Revision != 11 {
		t.Fatalf("after restart: %d keys at revision %d", len(get.Kvs), get.Header.Revision)
	}
	put := mustPut(t, n.Client, "k0", "new")
	if put.Header.Revision != 12 {
		t.Fatalf("revision after restart = %d, want 12", put.Header.Revision)
	}
	// The member published the client URL it serves on now.
	ml, err := n.Client.MemberList(cairntest.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := ml.Members[0].ClientURLs; len(got) != 1 || got[0] != "http://"+n.Endpoint {
		t.Fatalf("client URLs after restart = %v, want [http://%s]", got, n.Endpoint)
	}
}

func TestMemberListAndStatus(t *testing.T) {
	n := cairntest.Start(t)
	ctx := cairntest.Ctx(t)
	ml, err := n.Client.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 1 || ml.Members[0].ID != n.ID() || ml.Members[0].Name != "test" ||
		ml.Members[0].ClientURLs[0] != "http://"+n.Endpoint {
		t.Fatalf("members = %+v", ml.Members)
	}
	st, err := n.Client.Status(ctx, n.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != n.ID() || st.RaftTerm == 0 || st.RaftIndex == 0 || st.RaftAppliedIndex == 0 || st.Version == "" {
		t.Fatalf("status = %+v", st)
	}
}
