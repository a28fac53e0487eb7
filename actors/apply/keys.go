package apply

import (
	"context"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/cairnkv/cairn/storage/mvcc"
)

// KeyCount follows the number of live keys (etcd_debugging_mvcc_keys_total)
// without an in-memory index: when the apply actor starts, or installs a
// snapshot, it opens a read view and a goroutine counts the keys of that
// view in chunks, while the actor adds the keys each committed batch
// creates and deletes. The count is known once the view has been counted.
//
// The apply actor writes it; Keys may be called from any goroutine. The
// zero value is ready; Close must be called before the store closes.
type KeyCount struct {
	mu     sync.Mutex
	gen    int   // of the current count; a cancelled one's result is dropped
	seed   int64 // keys in the view, once counted
	seeded bool
	delta  int64 // keys created minus keys deleted since the view
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// keyCountChunk is how many keys one step of the count reads.
const keyCountChunk = 10000

// Keys returns the number of live keys, and false while it is not known
// yet.
func (k *KeyCount) Keys() (int64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seed + k.delta, k.seeded
}

// recount counts the keys of the store as it is now, in the background.
// Only the apply actor calls it, between batches.
func (k *KeyCount) recount(store *mvcc.Store) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	if k.cancel != nil {
		k.cancel()
	}
	k.gen++
	gen := k.gen
	k.seed, k.seeded, k.delta = 0, false, 0
	v := store.Read()
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer v.Close()
		n, err := countKeys(ctx, v)
		k.mu.Lock()
		defer k.mu.Unlock()
		if err == nil && gen == k.gen {
			k.seed, k.seeded = n, true
		}
	}()
}

// add counts the keys a committed batch created and deleted.
func (k *KeyCount) add(events []*mvccpb.Event) {
	var d int64
	for _, e := range events {
		switch {
		case e.GetType() == mvccpb.DELETE:
			d--
		case e.GetKv().GetVersion() == 1:
			d++
		}
	}
	if d == 0 {
		return
	}
	k.mu.Lock()
	k.delta += d
	k.mu.Unlock()
}

// Close stops a count in progress and waits for it.
func (k *KeyCount) Close() {
	k.mu.Lock()
	k.closed = true
	if k.cancel != nil {
		k.cancel()
	}
	k.mu.Unlock()
	k.wg.Wait()
}

func countKeys(ctx context.Context, v *mvcc.ReadView) (int64, error) {
	var n int64
	from := []byte{0}
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		resp, err := v.Range(&pb.RangeRequest{Key: from, RangeEnd: []byte{0}, KeysOnly: true, Limit: keyCountChunk})
		if err != nil {
			return 0, err
		}
		n += int64(len(resp.Kvs))
		if !resp.More || len(resp.Kvs) == 0 {
			return n, nil
		}
		last := resp.Kvs[len(resp.Kvs)-1].Key
		from = append(append(make([]byte, 0, len(last)+1), last...), 0)
	}
}
