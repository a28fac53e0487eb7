package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenProvider issues the tokens Authenticate answers with and tells whose
// a token is, on its own member: JWT. (Simple tokens are assigned through
// raft instead: Tokens.)
type TokenProvider interface {
	Issue(Info) (string, error)
	Lookup(token string) (Info, bool)
}

// ErrVerifyOnly is the error of Authenticate on a member given only a
// public key: it verifies tokens, and issues none (etcd's).
var ErrVerifyOnly = errors.New("auth: token signing attempted with verify-only key")

// JWT is etcd's JWT token provider: tokens signed with the configured key,
// carrying the user, the auth revision and an expiry, so that every member
// with the key verifies them (and none holds them in memory).
type JWT struct {
	method jwt.SigningMethod
	sign   any // private key; nil: verify only
	verify any // public key
	ttl    time.Duration
}

// DefaultJWTTTL is etcd's default ttl option of JWT tokens.
const DefaultJWTTTL = 5 * time.Minute

// ParseJWT parses the options of etcd's --auth-token jwt,... (without the
// leading "jwt"): sign-method (required), pub-key and priv-key (files,
// PEM; HMAC methods take the secret from priv-key), ttl (a duration,
// default 5m).
func ParseJWT(opts string) (*JWT, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(opts, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("auth: jwt option %q is not key=value", kv)
		}
		switch k {
		case "sign-method", "pub-key", "priv-key", "ttl":
			m[k] = v
		default:
			return nil, fmt.Errorf("auth: unknown jwt option %q (sign-method, pub-key, priv-key, ttl)", k)
		}
	}
	j := &JWT{ttl: DefaultJWTTTL, method: jwt.GetSigningMethod(m["sign-method"])}
	if j.method == nil {
		return nil, fmt.Errorf("auth: jwt sign-method %q is not one of RS256, PS256, ES256, EdDSA, HS256 or the like", m["sign-method"])
	}
	if s := m["ttl"]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("auth: jwt ttl %q is not a positive duration", s)
		}
		j.ttl = d
	}
	var pub, priv []byte
	var err error
	if f := m["pub-key"]; f != "" {
		if pub, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("auth: jwt pub-key: %w", err)
		}
	}
	if f := m["priv-key"]; f != "" {
		if priv, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("auth: jwt priv-key: %w", err)
		}
	}
	if err := j.keys(pub, priv); err != nil {
		return nil, err
	}
	return j, nil
}

// keys parses the PEM keys of j's method.
func (j *JWT) keys(pub, priv []byte) error {
	if _, ok := j.method.(*jwt.SigningMethodHMAC); ok {
		if len(priv) == 0 {
			return errors.New("auth: jwt " + j.method.Alg() + " needs its secret in priv-key")
		}
		j.sign, j.verify = priv, priv
		return nil
	}
	var parsePub func([]byte) (crypto.PublicKey, error)
	var parsePriv func([]byte) (crypto.Signer, error)
	switch j.method.(type) {
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		parsePub = func(b []byte) (crypto.PublicKey, error) { return jwt.ParseRSAPublicKeyFromPEM(b) }
		parsePriv = func(b []byte) (crypto.Signer, error) { return jwt.ParseRSAPrivateKeyFromPEM(b) }
	case *jwt.SigningMethodECDSA:
		parsePub = func(b []byte) (crypto.PublicKey, error) { return jwt.ParseECPublicKeyFromPEM(b) }
		parsePriv = func(b []byte) (crypto.Signer, error) { return jwt.ParseECPrivateKeyFromPEM(b) }
	case *jwt.SigningMethodEd25519:
		parsePub = jwt.ParseEdPublicKeyFromPEM
		parsePriv = func(b []byte) (crypto.Signer, error) {
			k, err := jwt.ParseEdPrivateKeyFromPEM(b)
			if err != nil {
				return nil, err
			}
			return k.(crypto.Signer), nil
		}
	default:
		return fmt.Errorf("auth: jwt sign-method %s is not supported", j.method.Alg())
	}
	var pk crypto.PublicKey
	if len(pub) > 0 {
		k, err := parsePub(pub)
		if err != nil {
			return fmt.Errorf("auth: jwt pub-key: %w", err)
		}
		pk = k
	}
	if len(priv) > 0 {
		s, err := parsePriv(priv)
		if err != nil {
			return fmt.Errorf("auth: jwt priv-key: %w", err)
		}
		if pk != nil && !publicEqual(pk, s.Public()) {
			return errors.New("auth: jwt public and private keys don't match")
		}
		j.sign, pk = s, s.Public()
	}
	if pk == nil {
		return errors.New("auth: jwt needs pub-key, priv-key or both")
	}
	j.verify = pk
	return nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	switch k := a.(type) {
	case *rsa.PublicKey:
		return k.Equal(b)
	case *ecdsa.PublicKey:
		return k.Equal(b)
	case ed25519.PublicKey:
		return k.Equal(b)
	}
	return false
}

// Issue signs a token for info, valid for the ttl.
func (j *JWT) Issue(info Info) (string, error) {
	if j.sign == nil {
		return "", ErrVerifyOnly
	}
	return jwt.NewWithClaims(j.method, jwt.MapClaims{
		"username": info.User,
		"revision": info.Revision,
		"exp":      time.Now().Add(j.ttl).Unix(),
	}).SignedString(j.sign)
}

// Lookup verifies a token's signature and expiry and returns its claims.
func (j *JWT) Lookup(token string) (Info, bool) {
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return j.verify, nil },
		jwt.WithValidMethods([]string{j.method.Alg()}), jwt.WithExpirationRequired())
	if err != nil || !parsed.Valid {
		return Info{}, false
	}
	claims, ok := parsed.Claims.(jwt.MapClaims)
	if !ok {
		return Info{}, false
	}
	user, ok1 := claims["username"].(string)
	rev, ok2 := claims["revision"].(float64)
	if !ok1 || !ok2 || user == "" {
		return Info{}, false
	}
	return Info{User: user, Revision: uint64(rev)}, true
}
