package frontdoor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/actors/reply"
	"github.com/cairnkv/cairn/proto/cairnpb"
	"github.com/cairnkv/cairn/tracing"
)

var (
	errNoLeader = &actorError{code: cairnpb.ErrorCode_ERROR_CODE_NO_LEADER, msg: "no leader"}
	errTimeout  = &actorError{code: cairnpb.ErrorCode_ERROR_CODE_TIMEOUT, msg: "request timed out"}
	errTooLarge = &actorError{code: cairnpb.ErrorCode_ERROR_CODE_REQUEST_TOO_LARGE, msg: "request is too large"}
)

// waitLeader returns once a leader is known, or errNoLeader after an election
// timeout without one.
func (s *Server) waitLeader(ctx context.Context) error {
	if s.cfg.Board.Load().Lead != 0 {
		return nil // the common case, without the board's lock
	}
	var timer *time.Timer
	for {
		changed := s.cfg.Board.LeaderChanged()
		if s.cfg.Board.Load().Lead != 0 {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(s.cfg.ElectionTimeout)
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
			return errNoLeader
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ask sends msg to an actor and waits for its answer, within the request
// timeout. A wait that outlives the timeout (not the client's context) is
// etcd's "request timed out".
func (s *Server) ask(ctx context.Context, send func(w replyTarget)) (any, error) {
	return s.askWithin(ctx, s.cfg.RequestTimeout, send)
}

// askWithin is ask with another timeout.
func (s *Server) askWithin(ctx context.Context, timeout time.Duration, send func(w replyTarget)) (any, error) {
	w := reply.New(s.cfg.System)
	send(w)
	m, err := w.WaitTimeout(ctx, timeout)
	if err != nil {
		if errors.Is(err, reply.ErrTimeout) {
			return nil, errTimeout
		}
		return nil, err
	}
	return m, nil
}

// propose proposes r through raft and returns the apply actor's result.
func (s *Server) propose(ctx context.Context, r *pb.InternalRaftRequest) (*cairnpb.Result, error) {
	if size := s.requestSize(r); size > s.cfg.MaxRequestBytes {
		return nil, errTooLarge
	}
	return s.proposeProposal(ctx, &cairnpb.Proposal{Request: r})
}

// proposeProposal proposes p, filling in its id, origin and trace context,
// and returns the apply actor's result.
func (s *Server) proposeProposal(ctx context.Context, p *cairnpb.Proposal) (*cairnpb.Result, error) {
	r := p.GetRequest()
	if err := s.waitLeader(ctx); err != nil {
		return nil, err
	}
	req := tracing.RequestFrom(ctx)
	req.Step("wait for leader")
	s.pending.Add(1)
	defer s.pending.Add(-1)
	m, err := s.ask(ctx, func(w replyTarget) {
		p.Id = s.nextID.Add(1)
		p.Origin = &cairnpb.Origin{
			MemberId:    s.cfg.MemberID,
			Incarnation: s.cfg.Incarnation,
			Waiter:      w.PID().GetId(),
		}
		p.Trace = s.cfg.Tracer.Carrier(ctx)
		if r.GetTxn() != nil {
			// Every member bounds the txn's ranges by this member's bound,
			// so that all decide alike whether it applies.
			p.MaxResponseBytes = max(s.cfg.MaxResponseBytes, 0)
		}
		req.Add(slog.Uint64("proposal-id", p.Id))
		data, err := proto.Marshal(p)
		if err != nil {
			// Marshaling a valid message cannot fail; answer the waiter so
			// that the caller sees the error at once.
			s.cfg.System.Root.Send(w.PID(), &cairnpb.Result{Error: &cairnpb.Error{
				Code: cairnpb.ErrorCode_ERROR_CODE_INTERNAL, Message: err.Error()}})
			return
		}
		s.send(ctx, s.cfg.Raft, &cairnpb.Propose{Data: data}, w)
	})
	req.Step("raft agreement and apply")
	if err != nil || notCommitted(m) {
		s.failed.Add(1)
	}
	if err != nil {
		return nil, err
	}
	res, err := answerAs[*cairnpb.Result](m, "a proposal")
	if err != nil {
		return nil, err
	}
	return res, nil
}

// etcdHeaderBytes is what etcd's request header adds to an encoded request
// before etcd compares its size with max-request-bytes: etcd stamps every
// proposal with an ID (the low 16 bits of the member ID, then 48 bits of
// time and counter). Counting the same bytes refuses exactly the requests
// etcd refuses.
func etcdHeaderBytes(memberID uint64) int {
	return proto.Size(&pb.InternalRaftRequest{Header: &pb.RequestHeader{ID: etcdRequestID(memberID)}})
}

// etcdRequestID is an ID of the size etcd stamps on this member's requests.
func etcdRequestID(memberID uint64) uint64 { return uint64(uint16(memberID))<<48 | 1<<47 }

// requestSize is the size etcd would compare with max-request-bytes: a
// client's request carries its user and auth revision (proposeAs) in the
// same header as etcd's ID.
func (s *Server) requestSize(r *pb.InternalRaftRequest) int {
	h := r.GetHeader()
	if h == nil {
		return proto.Size(r) + s.headerBytes
	}
	r.Header = &pb.RequestHeader{ID: etcdRequestID(s.cfg.MemberID), Username: h.GetUsername(), AuthRevision: h.GetAuthRevision()}
	n := proto.Size(r)
	r.Header = h // the caller's request, not yet shared
	return n
}

// readIndexRequest is every read index request: it has no fields, and
// messages are not modified once sent.
var readIndexRequest = &cairnpb.ReadIndexRequest{}

// replyTarget is where an actor sends its answer.
type replyTarget = *reply.Waiter
