package frontdoor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/storage/mvcc"
)

// The Lease service. Grants and revocations are raft proposals like writes.
// Keep-alives and time-to-live questions go to the leader's lessor (the
// only one that times leases), wherever the client is connected, as etcd
// forwards them to the leader. Leases lists the local state machine's.

type leaseServer struct {
	pb.UnimplementedLeaseServer
	s *Server
}

func (l *leaseServer) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	if r.GetTTL() > mvcc.MaxLeaseTTL {
		// etcd's lessor refuses it when applying; refusing it here saves an
		// entry and answers the same.
		return nil, rpctypes.ErrGRPCLeaseTTLTooLarge
	}
	g := &pb.LeaseGrantRequest{ID: r.GetID(), TTL: max(r.GetTTL(), l.s.cfg.MinLeaseTTL)}
	for g.ID == 0 {
		// Only positive IDs, as etcd chooses them.
		g.ID = int64(l.s.leaseIDs.next() & math.MaxInt64)
	}
	res, err := l.s.proposeAs(ctx, &pb.InternalRaftRequest{LeaseGrant: g})
	if err != nil {
		return nil, grpcError(err)
	}
	resp := res.GetLeaseGrant()
	l.s.fill(resp.Header)
	return resp, nil
}

func (l *leaseServer) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	res, err := l.s.proposeAs(ctx, &pb.InternalRaftRequest{LeaseRevoke: r})
	if err != nil {
		return nil, grpcError(err)
	}
	resp := res.GetLeaseRevoke()
	l.s.fill(resp.Header)
	return resp, nil
}

// LeaseKeepAlive renews each lease the client names, one after the other,
// and answers each with the lease's TTL, or TTL 0 when the lease does not
// exist or has expired (etcd's answer; the client then gives the lease up).
func (l *leaseServer) LeaseKeepAlive(stream grpc.BidiStreamingServer[pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse]) error {
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// The header is taken before the renewal, as etcd does, so that its
		// revision is never above that of a revoke the renewal raced with.
		resp := &pb.LeaseKeepAliveResponse{ID: req.GetID(), Header: l.s.header(0)}
		ttl, err := l.s.renewLease(ctx, req.GetID())
		if err != nil {
			return grpcError(err)
		}
		resp.TTL = ttl
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (l *leaseServer) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	ai, err := l.s.authInfo(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	m, err := l.s.askLessor(ctx, &cairnpb.LeaseLookup{Id: r.GetID()})
	if err != nil {
		return nil, grpcError(err)
	}
	res, err := answerAs[*cairnpb.LeaseLookupResult](m, "a lease lookup")
	if err != nil {
		return nil, grpcError(err)
	}
	if !res.GetFound() {
		// etcd answers a lease that does not exist with TTL -1, not an error.
		return &pb.LeaseTimeToLiveResponse{Header: l.s.header(0), ID: r.GetID(), TTL: -1}, nil
	}
	resp := &pb.LeaseTimeToLiveResponse{ID: r.GetID(), TTL: res.GetRemaining(), GrantedTTL: res.GetGrantedTtl()}
	// Linearizable, and at least as new as the lessor's answer. The lessor
	// forgets a revoked lease only once apply tells it, after the revoke is
	// visible to reads: a client that saw the revoke's deletes must not be
	// told the lease still exists, so the state machine has the last word.
	err = l.s.read(ctx, false, func(v *mvcc.ReadView) error {
		if _, _, err := v.Lease(r.GetID()); err != nil {
			return err
		}
		if !r.GetKeys() {
			return nil
		}
		resp.Keys = [][]byte{}
		bound := l.s.listBound()
		// As etcd: the keys are shown only to a user who may read each.
		return authorize(v, ai, func(c *auth.Checker) error {
			return v.LeaseKeys(r.GetID(), func(k []byte) error {
				if err := c.Read(k, nil); err != nil {
					return err
				}
				if err := bound.add(len(k) + sliceOverhead); err != nil {
					return err
				}
				resp.Keys = append(resp.Keys, bytes.Clone(k))
				return nil
			})
		})
	})
	if errors.Is(err, mvcc.ErrLeaseNotFound) {
		return &pb.LeaseTimeToLiveResponse{Header: l.s.header(0), ID: r.GetID(), TTL: -1}, nil
	}
	if err != nil {
		return nil, grpcError(err)
	}
	resp.Header = l.s.header(0)
	return resp, nil
}

// LeaseLeases lists the leases of the local state machine, in ID order
// (etcd lists its local lessor's).
func (l *leaseServer) LeaseLeases(ctx context.Context, _ *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	ai, err := l.s.authInfo(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &pb.LeaseLeasesResponse{Leases: []*pb.LeaseStatus{}}
	err = l.s.read(ctx, true, func(v *mvcc.ReadView) error {
		resp.Header = l.s.header(v.Rev())
		// As etcd: a user who is not root must be able to read every key
		// of every lease.
		if err := authorize(v, ai, func(c *auth.Checker) error {
			if c.Admin() == nil {
				return nil
			}
			return v.Leases(func(id, _, _ int64) error {
				return v.LeaseKeys(id, func(k []byte) error { return c.Read(k, nil) })
			})
		}); err != nil {
			return err
		}
		bound := l.s.listBound()
		return v.Leases(func(id, _, _ int64) error {
			if err := bound.add(leaseStatusBytes); err != nil {
				return err
			}
			resp.Leases = append(resp.Leases, &pb.LeaseStatus{ID: id})
			return nil
		})
	})
	if err != nil {
		return nil, grpcError(err)
	}
	return resp, nil
}

// renewLease renews a lease at the leader's lessor and returns its TTL, 0
// when it does not exist or has expired.
func (s *Server) renewLease(ctx context.Context, id int64) (int64, error) {
	m, err := s.askLessor(ctx, &cairnpb.LeaseRenew{Id: id})
	if err != nil {
		return 0, err
	}
	res, err := answerAs[*cairnpb.LeaseRenewResult](m, "a lease renewal")
	if err != nil {
		return 0, err
	}
	return res.GetTtl(), nil
}

// lessorRetryDelay is how long a question to the leader's lessor waits
// before it is asked again when that lessor does not lead (yet) and the
// leader has not changed (etcd waits 50ms between forwarding attempts).
const lessorRetryDelay = 50 * time.Millisecond

// askLessor asks msg of the leader's lessor and returns its answer (a
// LeaseRenewResult or LeaseLookupResult), asking again, the new leader's
// lessor if leadership moves, while the answer is LEADER_CHANGED; all within
// the request timeout.
func (s *Server) askLessor(ctx context.Context, msg proto.Message) (any, error) {
	tctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	timedOut := func(err error) error {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return errTimeout
		}
		return err
	}
	for {
		if err := s.waitLeader(tctx); err != nil {
			return nil, timedOut(err)
		}
		changed := s.cfg.Board.LeaderChanged()
		// nil while the leader's address is unknown: ask again shortly.
		if pid := s.cfg.Lessor(s.cfg.Board.Load().Lead); pid != nil {
			m, err := s.ask(tctx, func(w replyTarget) {
				s.cfg.System.Root.RequestWithCustomSender(pid, msg, w.PID())
			})
			if err != nil {
				return nil, timedOut(err)
			}
			if lessorErrorCode(m) != cairnpb.ErrorCode_ERROR_CODE_LEADER_CHANGED {
				return m, nil
			}
		}
		t := time.NewTimer(lessorRetryDelay)
		select {
		case <-changed:
		case <-t.C:
		case <-tctx.Done():
		}
		t.Stop()
		if tctx.Err() != nil {
			return nil, timedOut(tctx.Err())
		}
	}
}

func lessorErrorCode(m any) cairnpb.ErrorCode {
	switch r := m.(type) {
	case *cairnpb.LeaseRenewResult:
		return r.GetError().GetCode()
	case *cairnpb.LeaseLookupResult:
		return r.GetError().GetCode()
	}
	return cairnpb.ErrorCode_ERROR_CODE_UNSPECIFIED
}

// idGenerator makes lease IDs unique across members and restarts exactly as
// etcd's idutil.Generator does: the low 16 bits of the member ID, then 40
// bits of the start time in milliseconds and an 8-bit counter, which
// together advance by one per ID.
type idGenerator struct {
	prefix uint64
	suffix atomic.Uint64
}

const (
	idTimeBits    = 40
	idCounterBits = 8
	idSuffixBits  = idTimeBits + idCounterBits
)

func newIDGenerator(memberID uint64, now time.Time) *idGenerator {
	g := &idGenerator{prefix: uint64(uint16(memberID)) << idSuffixBits}
	g.suffix.Store(lowBits(uint64(now.UnixMilli()), idTimeBits) << idCounterBits)
	return g
}

func (g *idGenerator) next() uint64 {
	return g.prefix | lowBits(g.suffix.Add(1), idSuffixBits)
}

func lowBits(x uint64, n uint) uint64 { return x & (math.MaxUint64 >> (64 - n)) }

// Listings of leases and of a lease's keys are held whole until answered,
// as a range is, and are bounded like one by MaxResponseBytes: etcd builds
// them whole whatever their size. The bytes counted are what the response
// holds in memory, not its encoding (smaller).
const (
	// sliceOverhead is a key's slice header in the response.
	sliceOverhead = 24
	// leaseStatusBytes is one LeaseStatus: its pointer, and the message
	// (protobuf-go's state, sizeCache, unknown fields and ID).
	leaseStatusBytes = 8 + 64
)

// listBound counts the bytes of a listing against MaxResponseBytes.
type listBound struct{ left int64 }

func (s *Server) listBound() *listBound {
	if s.cfg.MaxResponseBytes <= 0 {
		return &listBound{left: math.MaxInt64}
	}
	return &listBound{left: s.cfg.MaxResponseBytes}
}

// add takes n bytes, or fails with the error of a response over
// max-response-bytes.
func (b *listBound) add(n int) error {
	if b.left -= int64(n); b.left < 0 {
		return errListTooLarge
	}
	return nil
}

var errListTooLarge = status.Error(codes.ResourceExhausted,
	"etcdserver: the listing is larger than max-response-bytes; etcd has no such bound, and Cairn answers no listing that would not fit its memory budget")
