package frontdoor

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

type clusterServer struct {
	pb.UnimplementedClusterServer
	s *Server
}

func (c *clusterServer) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	if r.GetLinearizable() {
		if _, err := c.s.linearize(ctx); err != nil {
			return nil, grpcError(err)
		}
	}
	members, err := c.s.members()
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.MemberListResponse{Header: c.s.clusterHeader(), Members: members}, nil
}

func (c *clusterServer) MemberAdd(ctx context.Context, r *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	urls, err := checkPeerURLs(r.GetPeerURLs())
	if err != nil {
		return nil, err
	}
	members, err := c.s.members()
	if err != nil {
		return nil, grpcError(err)
	}
	for _, m := range members {
		for _, u := range m.GetPeerURLs() {
			if slices.Contains(urls, u) {
				return nil, rpctypes.ErrGRPCPeerURLExist
			}
		}
	}
	if !r.GetIsLearner() {
		if err := c.s.quorumAfter(ctx, 1, 0, 0); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	m := &cairnpb.Member{Id: newMemberID(urls, now), PeerUrls: urls}
	typ := raftpb.ConfChangeAddNode
	if r.GetIsLearner() {
		typ = raftpb.ConfChangeAddLearnerNode
	}
	if err := c.s.proposeConfChange(ctx, typ, m.GetId(), m, false); err != nil {
		return nil, grpcError(err)
	}
	members, err = c.s.members()
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.MemberAddResponse{
		Header:  c.s.clusterHeader(),
		Member:  &pb.Member{ID: m.GetId(), PeerURLs: urls, IsLearner: r.GetIsLearner()},
		Members: members,
	}, nil
}

func (c *clusterServer) MemberRemove(ctx context.Context, r *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	m, err := c.s.member(r.GetID())
	if err != nil {
		return nil, err
	}
	if !m.GetIsLearner() {
		if err := c.s.quorumAfter(ctx, 0, r.GetID(), 0); err != nil {
			return nil, err
		}
	}
	if err := c.s.proposeConfChange(ctx, raftpb.ConfChangeRemoveNode, r.GetID(), nil, false); err != nil {
		return nil, grpcError(err)
	}
	members, err := c.s.members()
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.MemberRemoveResponse{Header: c.s.clusterHeader(), Members: members}, nil
}

func (c *clusterServer) MemberUpdate(ctx context.Context, r *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	urls, err := checkPeerURLs(r.GetPeerURLs())
	if err != nil {
		return nil, err
	}
	if _, err := c.s.member(r.GetID()); err != nil {
		return nil, err
	}
	members, err := c.s.members()
	if err != nil {
		return nil, grpcError(err)
	}
	for _, m := range members {
		if m.GetID() == r.GetID() {
			continue
		}
		for _, u := range m.GetPeerURLs() {
			if slices.Contains(urls, u) {
				return nil, rpctypes.ErrGRPCPeerURLExist
			}
		}
	}
	m := &cairnpb.Member{Id: r.GetID(), PeerUrls: urls}
	if err := c.s.proposeConfChange(ctx, raftpb.ConfChangeUpdateNode, r.GetID(), m, false); err != nil {
		return nil, grpcError(err)
	}
	if members, err = c.s.members(); err != nil {
		return nil, grpcError(err)
	}
	return &pb.MemberUpdateResponse{Header: c.s.clusterHeader(), Members: members}, nil
}

func (c *clusterServer) MemberPromote(ctx context.Context, r *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	m, err := c.s.member(r.GetID())
	if err != nil {
		return nil, err
	}
	if !m.GetIsLearner() {
		return nil, rpctypes.ErrGRPCMemberNotLearner
	}
	if err := c.s.learnerReady(ctx, r.GetID()); err != nil {
		return nil, err
	}
	if err := c.s.proposeConfChange(ctx, raftpb.ConfChangeAddNode, r.GetID(), &cairnpb.Member{Id: r.GetID()}, true); err != nil {
		return nil, grpcError(err)
	}
	members, err := c.s.members()
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.MemberPromoteResponse{Header: c.s.clusterHeader(), Members: members}, nil
}

// clusterHeader is the header of the Cluster service's responses: etcd leaves
// the revision out of them.
func (s *Server) clusterHeader() *pb.ResponseHeader {
	h := s.header(0)
	h.Revision = 0
	return h
}

func (s *Server) members() ([]*pb.Member, error) {
	if s.cfg.Members == nil {
		return nil, nil
	}
	return s.cfg.Members()
}

// member returns the member id, or etcd's "member not found".
func (s *Server) member(id uint64) (*pb.Member, error) {
	members, err := s.members()
	if err != nil {
		return nil, grpcError(err)
	}
	for _, m := range members {
		if m.GetID() == id {
			return m, nil
		}
	}
	return nil, rpctypes.ErrGRPCMemberNotFound
}

// leaderProgress asks the leader's raft actor how every member follows.
func (s *Server) leaderProgress(ctx context.Context) (*cairnpb.ProgressResult, error) {
	lead := s.cfg.Board.Load().Lead
	if lead == 0 {
		return nil, rpctypes.ErrGRPCNoLeader
	}
	pid, err := s.cfg.MemberRaft(lead)
	if err != nil {
		return nil, grpcError(err)
	}
	m, err := s.ask(ctx, func(w replyTarget) {
		s.cfg.System.Root.RequestWithCustomSender(pid, &cairnpb.ProgressRequest{}, w.PID())
	})
	if err != nil {
		return nil, grpcError(err)
	}
	p, ok := m.(*cairnpb.ProgressResult)
	switch {
	case !ok:
		return nil, grpcError(fmt.Errorf("frontdoor: unexpected answer %T to a progress request", m))
	case !p.GetLeader():
		return nil, rpctypes.ErrGRPCNotLeader
	}
	return p, nil
}

// quorumAfter refuses a membership change that would leave the voters
// without an active quorum, as etcd's strict reconfiguration check does:
// adding a voter counts it as not yet active; removing one takes it out of
// both counts; promoting a learner counts it if it is active.
func (s *Server) quorumAfter(ctx context.Context, add, remove, promote uint64) error {
	p, err := s.leaderProgress(ctx)
	if err != nil {
		return err
	}
	voters, active := 0, 0
	for _, m := range p.GetMembers() {
		if m.GetId() == remove || (m.GetLearner() && m.GetId() != promote) {
			continue
		}
		voters++
		if m.GetActive() {
			active++
		}
	}
	if add != 0 {
		voters++
	}
	if active < voters/2+1 {
		return rpctypes.ErrGRPCUnhealthy
	}
	return nil
}

// learnerReady asks the leader whether a learner has caught up (at least 90%
// of the leader's log, etcd's threshold) before it may be promoted.
func (s *Server) learnerReady(ctx context.Context, id uint64) error {
	p, err := s.leaderProgress(ctx)
	if err != nil {
		return err
	}
	for _, m := range p.GetMembers() {
		if m.GetId() != id {
			continue
		}
		if float64(m.GetMatch()) < 0.9*float64(p.GetLeaderMatch()) {
			return rpctypes.ErrGRPCLearnerNotReady
		}
		return s.quorumAfter(ctx, 0, 0, id)
	}
	return rpctypes.ErrGRPCMemberNotFound
}

// proposeConfChange proposes a conf change and waits until this member has
// applied it.
func (s *Server) proposeConfChange(ctx context.Context, typ raftpb.ConfChangeType, id uint64, m *cairnpb.Member, promote bool) error {
	if err := s.waitLeader(ctx); err != nil {
		return err
	}
	msg, err := s.ask(ctx, func(w replyTarget) {
		cctx, err := proto.Marshal(&cairnpb.ConfChangeContext{
			Member:  m,
			Promote: promote,
			Id:      s.nextID.Add(1),
			Origin:  &cairnpb.Origin{MemberId: s.cfg.MemberID, Incarnation: s.cfg.Incarnation, Waiter: w.PID().GetId()},
		})
		if err == nil {
			var cc []byte
			cc, err = proto.Marshal(&raftpb.ConfChange{Type: typ.Enum(), NodeId: proto.Uint64(id), Context: cctx})
			if err == nil {
				s.cfg.System.Root.RequestWithCustomSender(s.cfg.Raft, &cairnpb.ProposeConfChange{ConfChange: cc}, w.PID())
				return
			}
		}
		s.cfg.System.Root.Send(w.PID(), &cairnpb.Result{Error: &cairnpb.Error{
			Code: cairnpb.ErrorCode_ERROR_CODE_INTERNAL, Message: err.Error()}})
	})
	if err != nil {
		return err
	}
	_, err = answerAs[*cairnpb.Result](msg, "a conf change")
	return err
}

// checkPeerURLs validates and normalises the peer URLs of a member.
func checkPeerURLs(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, rpctypes.ErrGRPCMemberBadURLs
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" || u.Path != "" {
			return nil, rpctypes.ErrGRPCMemberBadURLs
		}
		out = append(out, u.String())
	}
	return out, nil
}

// newMemberID computes the ID of an added member as etcd does: from its peer
// URLs and the time of the request (etcd passes no cluster token here).
func newMemberID(peerURLs []string, now time.Time) uint64 {
	urls := slices.Clone(peerURLs)
	sort.Strings(urls)
	b := []byte(strings.Join(urls, "") + fmt.Sprintf("%d", now.Unix()))
	h := sha1.Sum(b)
	return binary.BigEndian.Uint64(h[:8])
}
