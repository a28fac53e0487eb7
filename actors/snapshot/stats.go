package snapshot

import (
	"sync/atomic"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Stats are the bytes of snapshot chunks a member holds, as a sender sizes
// its chunks (the keys and values they carry), for the status page. The
// senders and the receiver given the same Stats write them, once per chunk
// sent, acknowledged or written; any goroutine may read them.
type Stats struct {
	// Sending is the bytes of the chunks senders have sent and not had
	// acknowledged: at most Window chunks per transfer.
	Sending atomic.Int64
	// Receiving is the bytes of the chunk the receiver is writing now.
	Receiving atomic.Int64
}

// chunkBytes is what c counts for: its keys and values.
func chunkBytes(c *cairnpb.SnapshotChunk) int64 {
	var n int64
	for _, kv := range c.GetKvs() {
		n += int64(len(kv.GetKey()) + len(kv.GetValue()))
	}
	return n
}
