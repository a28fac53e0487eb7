package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{rpctypes.ErrGRPCRequestTooManyRequests, "too many requests"},
		{fmt.Errorf("put: %w", rpctypes.ErrTooManyRequests), "too many requests"},
		{context.DeadlineExceeded, "timeout"},
		{rpctypes.ErrGRPCTimeout, "timeout"},
		{status.Error(codes.Unavailable, "gone"), "unavailable"},
		{status.Error(codes.Internal, "boom"), "boom"},
		{errors.New("plain"), "plain"},
	} {
		if got := errorKind(c.err); got != c.want {
			t.Errorf("errorKind(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p := percentile(d, 0.99); p != 99 {
		t.Errorf("p99 of 1..100 = %d, want 99", p)
	}
	if p := percentile(d, 0.5); p != 50 {
		t.Errorf("p50 of 1..100 = %d, want 50", p)
	}
	if p := percentile(nil, 0.99); p != 0 {
		t.Errorf("p99 of nothing = %d", p)
	}
}
