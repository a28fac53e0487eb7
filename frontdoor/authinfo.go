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
// certificate (as etcd's AuthInfoFromTLS); otherwise nobody. A token this
// member does not hold is etcd's "invalid auth token", which makes etcd's
// client authenticate again.
func (s *Server) authInfo(ctx context.Context) (auth.Info, error) {
	// Not FromIncomingContext, which copies every header of the request
	// into a new map (2% of a leader's CPU on 256 B puts).
	if ts := metadata.ValueFromIncomingContext(ctx, tokenMetadataKey); len(ts) > 0 && ts[0] != "" {
		ai, ok := s.tokens.Lookup(ts[0])
		if !ok {
			return auth.Info{}, auth.ErrInvalidAuthToken
		}
		return ai, nil
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
