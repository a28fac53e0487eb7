package apply

import (
	"github.com/asynkron/protoactor-go/actor"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// noteLease records, for the lessor, the lease change a request made: a
// grant, a revoke or checkpoints that applied without error.
func (a *applyActor) noteLease(r *pb.InternalRaftRequest, res *cairnpb.Result) {
	if a.cfg.Lessor == nil || res.GetError() != nil {
		return
	}
	switch {
	case r.GetLeaseGrant() != nil:
		a.leases = append(a.leases, &cairnpb.LeaseChange{
			Kind: cairnpb.LeaseChange_KIND_GRANT, Id: r.GetLeaseGrant().GetID(), Ttl: r.GetLeaseGrant().GetTTL(),
		})
	case r.GetLeaseRevoke() != nil:
		a.leases = append(a.leases, &cairnpb.LeaseChange{
			Kind: cairnpb.LeaseChange_KIND_REVOKE, Id: r.GetLeaseRevoke().GetID(),
		})
	case r.GetLeaseCheckpoint() != nil:
		for _, c := range r.GetLeaseCheckpoint().GetCheckpoints() {
			a.leases = append(a.leases, &cairnpb.LeaseChange{
				Kind: cairnpb.LeaseChange_KIND_CHECKPOINT, Id: c.GetID(), Remaining: c.GetRemaining_TTL(),
			})
		}
	}
}

// sendLeases tells the lessor the lease changes of the batch committed up to
// last. Sent before the batch's answers, so that a client that learns of its
// grant and then asks the same member's lessor finds the lease tracked.
func (a *applyActor) sendLeases(ctx actor.Context, last uint64) {
	if len(a.leases) == 0 {
		return
	}
	ctx.Send(a.cfg.Lessor, &cairnpb.LeasesApplied{Index: last, Changes: a.leases})
	a.leases = nil
}
