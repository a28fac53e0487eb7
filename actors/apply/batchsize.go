package apply

import "go.etcd.io/raft/v3/raftpb"

// perEntryBatchBytes is what applying one entry writes to the batch beyond
// the bytes of its request and its puts' records (below): the state record
// and the framing of small records.
const perEntryBatchBytes = 256

// perPutBatchBytes and twice the key's length are what one put writes to the
// batch beyond its key and value: the key again in its latest and
// revision-log records, the three records' fixed parts and framing (storage/
// mvcc's TestBatchWithSize checks that a put fits).
const perPutBatchBytes = 128

// batchSizeHint is the size to open the batch for ents with: about what
// applying them writes (each entry's request, which holds its puts' keys and
// values, and per put its keys twice more and fixed overheads; putKeys are
// the keys the entries may put). pebble's batch doubles its buffer as it
// grows, so a batch sized up front holds about the entries' bytes instead of
// up to twice that. A batch that needs more (a delete of many keys) still
// grows.
func batchSizeHint(ents []*raftpb.Entry, putKeys [][]byte) int {
	n := 0
	for _, e := range ents {
		n += len(e.GetData()) + perEntryBatchBytes
	}
	for _, k := range putKeys {
		n += 2*len(k) + perPutBatchBytes
	}
	return n
}
