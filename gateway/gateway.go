package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	gw "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	etcdgw "go.etcd.io/etcd/api/v3/etcdserverpb/gw"
	etcdversion "go.etcd.io/etcd/api/v3/version"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
)

// Config of the HTTP side of a client port.
type Config struct {
	// Conn is a connection to the member's gRPC server; the gateway does
	// not close it.
	Conn *grpc.ClientConn
	// Monitor serves every path but /v3/, /v3beta/ and /version.
	Monitor http.Handler
	// ServerVersion, ClusterVersion and StorageVersion are what /version
	// reports.
	ServerVersion, ClusterVersion, StorageVersion string
	// MaxBodyBytes bounds a request's body (for a stream, all of its
	// requests). Zero: no bound.
	MaxBodyBytes int64
}

// New returns the handler of the client port's HTTP requests.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	if cfg.Conn == nil || cfg.Monitor == nil {
		return nil, errors.New("gateway: Conn and Monitor are required")
	}
	// etcd's marshaler (server/embed/serve.go, registerGateway).
	mux := gw.NewServeMux(
		gw.WithMarshalerOption(gw.MIMEWildcard, &gw.HTTPBodyMarshaler{
			Marshaler: &gw.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
			},
		}),
		gw.WithMetadata(func(_ context.Context, r *http.Request) metadata.MD {
			if t := r.Header.Get("Authorization"); t != "" {
				return metadata.Pairs("token", t)
			}
			return nil
		}),
	)
	for _, register := range []func(context.Context, *gw.ServeMux, *grpc.ClientConn) error{
		etcdgw.RegisterKVHandler,
		etcdgw.RegisterWatchHandler,
		etcdgw.RegisterLeaseHandler,
		etcdgw.RegisterClusterHandler,
		etcdgw.RegisterMaintenanceHandler,
		etcdgw.RegisterAuthHandler,
	} {
		if err := register(ctx, mux, cfg.Conn); err != nil {
			return nil, err
		}
	}
	version, _ := json.Marshal(etcdversion.Versions{Server: cfg.ServerVersion, Cluster: cfg.ClusterVersion, Storage: cfg.StorageVersion})
	top := http.NewServeMux()
	top.Handle("/v3/", mux)
	top.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(version)
	})
	top.Handle("/", cfg.Monitor)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v3beta/") {
			r.URL.Path = "/v3/" + strings.TrimPrefix(r.URL.Path, "/v3beta/")
		}
		if cfg.MaxBodyBytes > 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		}
		top.ServeHTTP(w, r)
	}), nil
}
