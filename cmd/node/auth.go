package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/cairnkv/cairn/auth"
)

// authOptions are etcd's auth flags.
type authOptions struct {
	token    string
	tokenTTL uint
	cost     uint
}

// addAuthFlags defines etcd's auth flags on fs and returns the function that
// checks them once parsed and sets them in the member's config.
func addAuthFlags(fs *flag.FlagSet, a *authOptions) func(o *options) error {
	fs.StringVar(&a.token, "auth-token", "simple", "Specify auth token type and its options: 'simple', or 'jwt,pub-key=FILE,priv-key=FILE,sign-method=RS256|ES256|EdDSA|...[,ttl=5m]'.")
	fs.UintVar(&a.tokenTTL, "auth-token-ttl", 300, "The lifetime in seconds of the auth token, renewed by each use.")
	fs.UintVar(&a.cost, "bcrypt-cost", uint(auth.DefaultBcryptCost), "Specify bcrypt algorithm cost factor for auth password hashing (4 to 31).")
	return func(o *options) error {
		kind, jwtOpts, _ := strings.Cut(a.token, ",")
		switch kind {
		case "simple":
		case "jwt":
			j, err := auth.ParseJWT(jwtOpts)
			if err != nil {
				return fmt.Errorf("auth-token: %w", err)
			}
			o.cfg.AuthTokens = j
		default:
			return fmt.Errorf("auth-token: unknown token type %q (simple)", kind)
		}
		if !auth.ValidBcryptCost(int(a.cost)) {
			return fmt.Errorf("bcrypt-cost (%d) must be between 4 and 31", a.cost)
		}
		if a.tokenTTL == 0 {
			return errors.New("auth-token-ttl must be positive")
		}
		o.cfg.BcryptCost = int(a.cost)
		o.cfg.AuthTokenTTL = time.Duration(a.tokenTTL) * time.Second
		if o.security.clientTLS != nil && o.security.client.ClientCertAuth {
			// As etcd: a verified client certificate's common name is the
			// user of a request without a token.
			o.cfg.ClientCertAuth = true
			o.cfg.GRPCServerOptions = append(o.cfg.GRPCServerOptions, grpc.Creds(tlsStateCredentials{}))
		}
		return nil
	}
}
