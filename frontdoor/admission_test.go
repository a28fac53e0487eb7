package frontdoor

import (
	"context"
	"errors"
	"net"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// TestAdmissionRefusesBeyondLimits holds requests in flight through the
// interceptor and checks that the next one past each limit (member and
// connection, requests and bytes) is refused at once with etcd's error,
// that Maintenance is never refused, and that answered requests give back
// what they held.
func TestAdmissionRefusesBeyondLimits(t *testing.T) {
	s := &Server{inFlight: newInFlight(InFlightLimits{Requests: 3, Bytes: 3000, ConnRequests: 2, ConnBytes: 2900})}
	put := func(size int) *pb.PutRequest { return &pb.PutRequest{Key: []byte("k"), Value: make([]byte, size)} }
	kv := &grpc.UnaryServerInfo{FullMethod: "/etcdserverpb.KV/Put"}
	ctxOf := func(port int) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}})
	}
	type held struct {
		done chan struct{}
		errc chan error
	}
	var release []held
	// hold starts a request that stays in flight until released, and
	// returns its error once the interceptor has admitted or refused it.
	hold := func(port int, req any, info *grpc.UnaryServerInfo) error {
		admitted, done := make(chan struct{}), make(chan struct{})
		errc := make(chan error, 1)
		go func() {
			_, err := s.admitUnary(ctxOf(port), req, info, func(context.Context, any) (any, error) {
				close(admitted)
				<-done
				return nil, nil
			})
			errc <- err
		}()
		select {
		case <-admitted:
			release = append(release, held{done, errc})
			return nil
		case err := <-errc:
			return err
		}
	}
	refused := func(err error) bool { return errors.Is(err, rpctypes.ErrGRPCRequestTooManyRequests) }

	if err := hold(1, put(100), kv); err != nil {
		t.Fatal(err)
	}
	if err := hold(1, put(100), kv); err != nil {
		t.Fatal(err)
	}
	if err := hold(1, put(1), kv); !refused(err) {
		t.Fatalf("third request on a connection limited to 2: %v, want too many requests", err)
	}
	if err := hold(2, put(2850), kv); !refused(err) {
		t.Fatalf("request over the member's bytes: %v, want too many requests", err)
	}
	if err := hold(2, put(100), kv); err != nil {
		t.Fatalf("another connection, within the member's limits: %v", err)
	}
	if err := hold(3, put(1), kv); !refused(err) {
		t.Fatalf("fourth request on a member limited to 3: %v, want too many requests", err)
	}
	if err := hold(3, &pb.StatusRequest{}, &grpc.UnaryServerInfo{FullMethod: "/etcdserverpb.Maintenance/Status"}); err != nil {
		t.Fatalf("Maintenance on a full member: %v", err)
	}
	if st := s.InFlight(); st.Requests != 3 || st.Connections != 2 || st.Refused != 3 {
		t.Fatalf("in flight %+v, want 3 requests on 2 connections and 3 refused", st)
	}
	for _, h := range release {
		close(h.done)
		if err := <-h.errc; err != nil { // the interceptor has returned, and released
			t.Fatal(err)
		}
	}
	if st := s.InFlight(); st.Requests != 0 || st.Bytes != 0 || st.Connections != 0 {
		t.Fatalf("after every answer, %+v remain in flight", st)
	}
	if err := hold(1, put(2950), kv); !refused(err) {
		t.Fatalf("request over the connection's bytes: %v, want too many requests", err)
	}
}

func TestInFlightLimitsValidate(t *testing.T) {
	if err := (InFlightLimits{}).Validate(3 << 19); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (InFlightLimits{ConnBytes: 1 << 20}).Validate(2 << 20); err == nil {
		t.Error("per-connection bytes below max-request-bytes accepted")
	}
	if err := (InFlightLimits{Bytes: -1, ConnBytes: -1}).Validate(64 << 20); err != nil {
		t.Errorf("no bounds: %v", err)
	}
}
