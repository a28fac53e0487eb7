package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// requestTimeout bounds one client request: a request to a paused or
// cut-off member gives up after it, with an unknown outcome.
const requestTimeout = 2 * time.Second

// leaseTTL outlives every run, so that no lease expires on its own: the
// model knows only grants and revokes.
const leaseTTL = 3600

// client issues random operations through one member's endpoint and
// records them in h.
type client struct {
	id  int
	cli *clientv3.Client
	rng *rand.Rand
	h   *history
	seq int
	// seen is the last record the client read of each key: the expected
	// mod revision or value of its compare-and-swaps.
	seen [numKeys]kv
	// epoch counts the members the client has been pointed at (see
	// retarget): serializable reads never go back through one member.
	epoch atomic.Int64
	// answered counts the operations with a definite outcome; more is
	// signalled after each.
	answered atomic.Int64
	more     chan struct{}
}

// waitAnswers waits until the client has had n more definite outcomes,
// for at most timeout: that its member serves.
func (c *client) waitAnswers(n int64, timeout time.Duration) error {
	target := c.answered.Load() + n
	deadline := time.After(timeout)
	for c.answered.Load() < target {
		select {
		case <-c.more:
		case <-deadline:
			return fmt.Errorf("client %d: %d definite outcomes in %v, want %d", c.id, n-(target-c.answered.Load()), timeout, n)
		}
	}
	return nil
}

// retarget points the client at another member's endpoint (its member was
// removed and the process killed first, so nothing after this answers from
// the old member).
func (c *client) retarget(endpoint string) {
	c.epoch.Add(1)
	c.cli.SetEndpoints(endpoint)
}

func newClient(id int, cli *clientv3.Client, seed uint64, h *history) *client {
	return &client{id: id, cli: cli, rng: rand.New(rand.NewPCG(seed, uint64(id))), h: h, more: make(chan struct{}, 1)}
}

// run issues operations until ctx ends.
func (c *client) run(ctx context.Context) {
	for ctx.Err() == nil {
		c.once(ctx)
	}
}

// once issues one operation of a weighted random kind.
func (c *client) once(ctx context.Context) {
	key := c.rng.IntN(numKeys)
	c.seq++
	value := fmt.Sprintf("c%d-%d", c.id, c.seq)
	lease := 1 + c.rng.IntN(numLeases)
	var in input
	switch n := c.rng.IntN(100); {
	case n < 25:
		in = input{Kind: opPut, Key: key, Value: value}
	case n < 33:
		in = input{Kind: opPut, Key: key, Value: value, Lease: lease}
	case n < 53:
		in = input{Kind: opGet, Key: key}
	case n < 63:
		c.serializableGet(ctx, key)
		return
	case n < 78:
		in = input{Kind: opCAS, Key: key, Value: value, CmpModRev: c.seen[key].ModRev}
		if c.rng.IntN(2) == 0 {
			in.CmpByValue, in.CmpValue = true, c.seen[key].Value
		}
	case n < 88:
		in = input{Kind: opDelete, Key: key}
	case n < 94:
		in = input{Kind: opGrant, Lease: lease}
	default:
		in = input{Kind: opRevoke, Lease: lease}
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	call := c.h.now()
	out := c.do(rctx, in)
	ret := c.h.now()
	if ctx.Err() != nil && out.Unknown {
		// Cut off by the end of the run: still recorded, as unknown.
		out = output{Unknown: true}
	}
	c.h.add(c.id, in, call, out, ret)
	if !out.Unknown {
		c.answered.Add(1)
		select {
		case c.more <- struct{}{}:
		default:
		}
	}
	if in.Kind == opGet && !out.Unknown || in.Kind == opCAS && !out.Unknown && !out.Succeeded && out.Err == "" {
		c.seen[in.Key] = out.KV
	}
}

// do issues in and returns what the client learnt.
func (c *client) do(ctx context.Context, in input) output {
	key := keyName(in.Key)
	switch in.Kind {
	case opPut:
		var opts []clientv3.OpOption
		if in.Lease != 0 {
			opts = append(opts, clientv3.WithLease(clientv3.LeaseID(leaseID(in.Lease))))
		}
		resp, err := c.cli.Put(ctx, key, in.Value, opts...)
		if err != nil {
			return failed(err)
		}
		return output{Rev: resp.Header.Revision}
	case opGet:
		resp, err := c.cli.Get(ctx, key)
		if err != nil {
			return failed(err)
		}
		return output{Rev: resp.Header.Revision, KV: first(resp.Kvs)}
	case opDelete:
		resp, err := c.cli.Delete(ctx, key)
		if err != nil {
			return failed(err)
		}
		return output{Rev: resp.Header.Revision, Deleted: resp.Deleted}
	case opCAS:
		cmp := clientv3.Compare(clientv3.ModRevision(key), "=", in.CmpModRev)
		if in.CmpByValue {
			cmp = clientv3.Compare(clientv3.Value(key), "=", in.CmpValue)
		}
		resp, err := c.cli.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, in.Value)).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return failed(err)
		}
		out := output{Rev: resp.Header.Revision, Succeeded: resp.Succeeded}
		if !resp.Succeeded && len(resp.Responses) == 1 {
			out.KV = first(resp.Responses[0].GetResponseRange().GetKvs())
		}
		return out
	case opGrant:
		// The etcd client's Grant lets the server choose the ID; the
		// model needs to know it, so the request names it.
		_, err := pb.NewLeaseClient(c.cli.ActiveConnection()).LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: leaseID(in.Lease), TTL: leaseTTL})
		if err != nil {
			return failed(rpctypes.Error(err))
		}
		return output{}
	case opRevoke:
		if _, err := c.cli.Revoke(ctx, clientv3.LeaseID(leaseID(in.Lease))); err != nil {
			return failed(err)
		}
		return output{}
	}
	panic(fmt.Sprintf("robustness: operation %v", in.Kind))
}

// serializableGet reads key from the client's member alone and records it
// apart (it may be stale, see checkSerializable).
func (c *client) serializableGet(ctx context.Context, key int) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	epoch := c.epoch.Load()
	resp, err := c.cli.Get(rctx, keyName(key), clientv3.WithSerializable())
	if err != nil || c.epoch.Load() != epoch {
		// An error changes nothing: nothing to check. A read across a
		// retarget may have been answered by either member.
		return
	}
	c.h.addSerial(serialRead{Client: c.id, Epoch: epoch, Key: key, KV: first(resp.Kvs), Rev: resp.Header.Revision})
}

// failed is the output of an error: the two lease errors are definite
// outcomes, and every other error leaves the outcome unknown. (Even an
// error that says the request was not sent cannot be told apart from one
// that came back after it was proposed.)
func failed(err error) output {
	switch msg := err.Error(); {
	case strings.Contains(msg, rpctypes.ErrLeaseNotFound.Error()):
		return output{Err: errLeaseNotFound}
	case strings.Contains(msg, rpctypes.ErrLeaseExist.Error()):
		return output{Err: errLeaseExists}
	}
	return output{Unknown: true}
}

// first is the record of the first key-value of a range (absent if none).
func first(kvs []*mvccpb.KeyValue) kv {
	if len(kvs) == 0 {
		return kv{}
	}
	x := kvs[0]
	return kv{Value: string(x.Value), ModRev: x.ModRevision, CreateRev: x.CreateRevision, Version: x.Version, Lease: leaseOf(x.Lease)}
}
