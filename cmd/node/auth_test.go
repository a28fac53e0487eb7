package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestAuthFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.BcryptCost != 10 || o.cfg.AuthTokenTTL != 300*time.Second || o.cfg.AuthTokens != nil || o.cfg.ClientCertAuth {
		t.Fatalf("defaults: cost %d, ttl %v, tokens %v, cert auth %v", o.cfg.BcryptCost, o.cfg.AuthTokenTTL, o.cfg.AuthTokens, o.cfg.ClientCertAuth)
	}
	o, err = parseFlags([]string{"--bcrypt-cost=4", "--auth-token-ttl=60"}, io.Discard)
	if err != nil || o.cfg.BcryptCost != 4 || o.cfg.AuthTokenTTL != time.Minute {
		t.Fatalf("--bcrypt-cost=4 --auth-token-ttl=60: %+v, %v", o, err)
	}
	for _, bad := range []string{"--bcrypt-cost=3", "--bcrypt-cost=32", "--auth-token-ttl=0", "--auth-token=opaque",
		"--auth-token=jwt,sign-method=XX1", "--auth-token=jwt,sign-method=ES256", "--auth-token=jwt,sign-method=ES256,colour=blue"} {
		name := strings.TrimPrefix(strings.Split(bad, "=")[0], "--")
		if _, err := parseFlags([]string{bad}, io.Discard); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming %s", bad, err, name)
		}
	}
}
