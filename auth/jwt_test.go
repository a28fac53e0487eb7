package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func writeKeys(t *testing.T, priv any) (pubFile, privFile string) {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubDer, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
	if err != nil {
		t.Fatal(err)
	}
	privFile, pubFile = filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDer}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pubFile, privFile
}

func TestJWTSignedVerifiedElsewhereAndRefused(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for method, key := range map[string]any{"ES256": ec, "RS256": rs} {
		pub, priv := writeKeys(t, key)
		signer, err := ParseJWT("pub-key=" + pub + ",priv-key=" + priv + ",sign-method=" + method + ",ttl=1m")
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		verifier, err := ParseJWT("pub-key=" + pub + ",sign-method=" + method)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		tok, err := signer.Issue(Info{User: "alice", Revision: 7})
		if err != nil {
			t.Fatal(err)
		}
		if ai, ok := verifier.Lookup(tok); !ok || ai != (Info{User: "alice", Revision: 7}) {
			t.Fatalf("%s: a member with the public key read %+v, %v", method, ai, ok)
		}
		if _, err := verifier.Issue(Info{User: "a"}); err != ErrVerifyOnly {
			t.Fatalf("%s: a verify-only member issued a token: %v", method, err)
		}
		// A changed claim breaks the signature.
		parts := strings.Split(tok, ".")
		forged := parts[0] + "." + jwtSegment(t, `{"username":"root","revision":7,"exp":9999999999}`) + "." + parts[2]
		if _, ok := verifier.Lookup(forged); ok {
			t.Fatalf("%s: a forged token was accepted", method)
		}
		expired, err := jwt.NewWithClaims(signer.method, jwt.MapClaims{
			"username": "alice", "revision": 7, "exp": time.Now().Add(-time.Minute).Unix(),
		}).SignedString(signer.sign)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := verifier.Lookup(expired); ok {
			t.Fatalf("%s: an expired token was accepted", method)
		}
	}
	if _, err := ParseJWT("sign-method=ES256"); err == nil {
		t.Fatal("jwt without keys accepted")
	}
	if _, err := ParseJWT("sign-method=XX1"); err == nil {
		t.Fatal("unknown sign method accepted")
	}
}

func jwtSegment(t *testing.T, s string) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}
