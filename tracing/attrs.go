package tracing

import (
	"reflect"
	"strconv"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Attribute keys of Cairn's spans.
const (
	KeyAttr      = attribute.Key("cairn.key")
	RangeEndAttr = attribute.Key("cairn.range_end")
	RevisionAttr = attribute.Key("cairn.revision")
	IndexAttr    = attribute.Key("raft.index")
	TermAttr     = attribute.Key("raft.term")
	RaftTypeAttr = attribute.Key("raft.type")
	FromAttr     = attribute.Key("raft.from")
	ToAttr       = attribute.Key("raft.to")
	RequestAttr  = attribute.Key("cairn.request_id")
)

// MessageName names a message in span names and metrics: a raft message by
// its raft type (MsgApp, MsgStorageApply), a protobuf message by its name
// (Propose, RaftBatch), anything else by its Go type.
func MessageName(m any) string {
	switch m := m.(type) {
	case *raftpb.Message:
		return m.GetType().String()
	case proto.Message:
		return string(m.ProtoReflect().Descriptor().Name())
	}
	t := reflect.TypeOf(m)
	if t == nil {
		return "nil"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// MessageAttributes returns the attributes of a message that a span shows:
// key, revision, raft index and term, where the message has them.
func MessageAttributes(m any) []attribute.KeyValue {
	switch m := m.(type) {
	case *raftpb.Message:
		return raftAttributes(m)
	case *cairnpb.RaftBatch:
		out := []attribute.KeyValue{FromAttr.String(memberID(m.GetFrom())), ToAttr.String(memberID(m.GetTo())),
			attribute.Int("raft.messages", len(m.GetMessages()))}
		if ms := m.GetMessages(); len(ms) > 0 {
			out = append(out, TermAttr.Int64(int64(ms[0].GetTerm())), IndexAttr.Int64(int64(ms[0].GetIndex())))
		}
		return out
	case *cairnpb.Propose:
		return []attribute.KeyValue{attribute.Int("cairn.bytes", len(m.GetData()))}
	case *cairnpb.ProposeAsLeader:
		return []attribute.KeyValue{TermAttr.Int64(int64(m.GetTerm()))}
	case *cairnpb.Result:
		if rev := resultRevision(m); rev != 0 {
			return []attribute.KeyValue{RevisionAttr.Int64(rev)}
		}
	case *cairnpb.Applied:
		return []attribute.KeyValue{IndexAttr.Int64(int64(m.GetIndex()))}
	case *cairnpb.ReadState:
		return []attribute.KeyValue{IndexAttr.Int64(int64(m.GetIndex()))}
	case *cairnpb.LeaderChanged:
		return []attribute.KeyValue{TermAttr.Int64(int64(m.GetTerm())), attribute.String("raft.leader", memberID(m.GetLeader()))}
	case *cairnpb.WatchEvents:
		return []attribute.KeyValue{RevisionAttr.Int64(m.GetRevision()), attribute.Int("cairn.events", len(m.GetEvents()))}
	case *cairnpb.CompactHistory:
		return []attribute.KeyValue{RevisionAttr.Int64(m.GetRevision())}
	case *pb.WatchRequest:
		if c := m.GetCreateRequest(); c != nil {
			return []attribute.KeyValue{KeyAttr.String(string(c.GetKey())), RevisionAttr.Int64(c.GetStartRevision())}
		}
	}
	return nil
}

func raftAttributes(m *raftpb.Message) []attribute.KeyValue {
	out := []attribute.KeyValue{
		RaftTypeAttr.String(m.GetType().String()),
		TermAttr.Int64(int64(m.GetTerm())),
		IndexAttr.Int64(int64(m.GetIndex())),
		attribute.Int64("raft.commit", int64(m.GetCommit())),
	}
	if ents := m.GetEntries(); len(ents) > 0 {
		out = append(out, attribute.Int("raft.entries", len(ents)),
			attribute.Int64("raft.first_index", int64(ents[0].GetIndex())),
			attribute.Int64("raft.last_index", int64(ents[len(ents)-1].GetIndex())))
	}
	return out
}

// resultRevision returns the revision of a result's response, 0 if none.
func resultRevision(r *cairnpb.Result) int64 {
	switch {
	case r.GetPut() != nil:
		return r.GetPut().GetHeader().GetRevision()
	case r.GetDeleteRange() != nil:
		return r.GetDeleteRange().GetHeader().GetRevision()
	case r.GetTxn() != nil:
		return r.GetTxn().GetHeader().GetRevision()
	case r.GetCompaction() != nil:
		return r.GetCompaction().GetHeader().GetRevision()
	}
	return 0
}

// RequestAttributes returns the attributes of a client request: its key
// and range end.
func RequestAttributes(req any) []attribute.KeyValue {
	switch r := req.(type) {
	case *pb.PutRequest:
		return []attribute.KeyValue{KeyAttr.String(string(r.GetKey())), attribute.Int("cairn.value_bytes", len(r.GetValue()))}
	case *pb.RangeRequest:
		return keyRange(r.GetKey(), r.GetRangeEnd())
	case *pb.DeleteRangeRequest:
		return keyRange(r.GetKey(), r.GetRangeEnd())
	case *pb.TxnRequest:
		return []attribute.KeyValue{attribute.Int("cairn.txn_ops", len(r.GetSuccess())+len(r.GetFailure())),
			attribute.Int("cairn.txn_compares", len(r.GetCompare()))}
	case *pb.CompactionRequest:
		return []attribute.KeyValue{RevisionAttr.Int64(r.GetRevision())}
	}
	return nil
}

func keyRange(key, end []byte) []attribute.KeyValue {
	if len(end) == 0 {
		return []attribute.KeyValue{KeyAttr.String(string(key))}
	}
	return []attribute.KeyValue{KeyAttr.String(string(key)), RangeEndAttr.String(string(end))}
}

// RequestKey returns the key of an internal raft request, for the apply
// span, and its operation ("put", "delete", "txn", ...).
func RequestKey(r *pb.InternalRaftRequest) (op, key string) {
	switch {
	case r.GetPut() != nil:
		return "put", string(r.GetPut().GetKey())
	case r.GetDeleteRange() != nil:
		return "delete", string(r.GetDeleteRange().GetKey())
	case r.GetTxn() != nil:
		return "txn", ""
	case r.GetCompaction() != nil:
		return "compact", ""
	case r.GetLeaseGrant() != nil:
		return "lease grant", ""
	case r.GetLeaseRevoke() != nil:
		return "lease revoke", ""
	case r.GetLeaseCheckpoint() != nil:
		return "lease checkpoint", ""
	case r.GetClusterMemberAttrSet() != nil:
		return "member attributes", ""
	}
	return "request", ""
}

func memberID(id uint64) string { return strconv.FormatUint(id, 16) }
