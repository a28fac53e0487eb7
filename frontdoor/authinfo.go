package frontdoor

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/cairnkv/cairn/auth"
	"github.com/cairnkv/cairn/proto/cairnpb"
)

// tokenMetadataKey is the gRPC metadata etcd's client sends its token in.
const tokenMetadataKey = "token"

// authInfo returns who sends the request in ctx: the user of its token; with
// ClientCertAuth and no token, the common name of its verified client
// certificate (as etcd's AuthInfoFromTLS); otherwise nobody. With auth off
// a token means nothing, as in etcd. A token this member does not hold is
// etcd's "invalid auth token", which makes etcd's client authenticate
// again.
func (s *Server) authInfo(ctx context.Context) (auth.Info, error) {
	// Not FromIncomingContext, which copies every header of the request
	// into a new map (2% of a leader's CPU on 256 B puts).
	if ts := metadata.ValueFromIncomingContext(ctx, tokenMetadataKey); len(ts) > 0 && ts[0] != "" {
		return s.tokenInfo(ctx, ts[0])
	}
	if s.cfg.ClientCertAuth {
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
				for _, chain := range ti.State.VerifiedChains {
					if len(chain) > 0 && chain[0].Subject.CommonName != "" {
						return auth.Info{User: chain[0].Subject.CommonName}, nil
					}
				}
			}
		}
	}
	return auth.Info{}, nil
}

// tokenInfo returns the user of token and the auth revision its request
// carries: a JWT's own; for a simple token, as etcd's, the member's current
// one (simple tokens do not go stale with the revision; the changes that
// matter drop them, auth.Tokens.Applied).
//
// A simple token is numbered by the raft index of the entry that assigned
// it: a member that has not applied that entry yet (the client
// authenticated at another member a moment ago) first waits for a read
// index, after which it has applied every entry committed before the
// request, so the token's if it is genuine. etcd waits for the index
// itself; a read index bounds the wait by the request timeout, and a
// forged index costs one read index, not a wait until the client gives up.
func (s *Server) tokenInfo(ctx context.Context, token string) (auth.Info, error) {
	if index, ok := auth.ParseToken(token); ok && s.simple != nil && index > s.cfg.Store.AppliedIndex() {
		if _, err := s.linearize(ctx); err != nil {
			return auth.Info{}, err
		}
	}
	st, err := s.authStatus()
	if err != nil || !st.Enabled {
		return auth.Info{}, err
	}
	if s.simple == nil {
		ai, ok := s.tokens.Lookup(token)
		if !ok {
			return auth.Info{}, auth.ErrInvalidAuthToken
		}
		return ai, nil
	}
	user, ok := s.simple.Lookup(token)
	if !ok {
		return auth.Info{}, auth.ErrInvalidAuthToken
	}
	return auth.Info{User: user, Revision: st.Revision}, nil
}

// authStatus reads the auth state as this member applied it last.
func (s *Server) authStatus() (auth.Status, error) {
	sv := s.views.acquire(s.cfg.Store.AppliedIndex())
	defer s.views.release(sv)
	return auth.ReadStatus(sv.v)
}

// authorize decides a read served from v (or an auth question answered
// from it) for the sender ai, with check; nil check only checks that the
// sender may ask at all (auth off, or a known user with a current token).
func authorize(v auth.Reader, ai auth.Info, check func(*auth.Checker) error) error {
	c, err := auth.NewChecker(v, ai)
	if err != nil || check == nil {
		return err
	}
	return check(c)
}

// proposeAs proposes a client's request with its sender in the request
// header: apply decides its permission (auth's invariant 3).
func (s *Server) proposeAs(ctx context.Context, r *pb.InternalRaftRequest) (*cairnpb.Result, error) {
	ai, err := s.authInfo(ctx)
	if err != nil {
		return nil, err
	}
	r.Header = &pb.RequestHeader{Username: ai.User, AuthRevision: ai.Revision}
	return s.propose(ctx, r)
}
