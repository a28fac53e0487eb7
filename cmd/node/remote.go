package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairnkv/cairn/actors/transport"
	"github.com/cairnkv/cairn/tlsconf"
)

// maxPeerMessageBytes bounds one gRPC message between members. The raft
// actor sends at most a few MiB per message (raft's MaxSizePerMsg, or one
// entry of up to max-request-bytes; snapshot chunks of about 1 MiB), and
// remoting packs up to peerWriterBatch of them into one gRPC message. gRPC's
// default of 4 MiB would silently drop larger batches.
const (
	peerWriterBatch     = 16
	maxPeerMessageBytes = 256 << 20
	// peerWriterQueue bounds the messages waiting for one peer's
	// connection; remoting's default is a million.
	peerWriterQueue = 4096
)

// startRemote starts actor remoting on listenURL, advertising the address
// of advertiseURL (which other members derive from its peer URL). With
// peerTLS (an https peer URL) members serve and dial each other over TLS
// only: a process without a certificate the member trusts cannot connect,
// and so cannot send it raft messages or tell it that it was removed.
func startRemote(system *actor.ActorSystem, listenURL, advertiseURL string, peerTLS *tlsconf.Source) (*remote.Remote, error) {
	u, err := url.Parse(listenURL)
	if err != nil {
		return nil, err
	}
	host, portText, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, err
	}
	advertised, err := transport.PeerAddress(advertiseURL)
	if err != nil {
		return nil, err
	}
	// remote.Start panics on a port that is taken: find out first.
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("listen for peers on %s: %w", u.Host, err)
	}
	l.Close()

	dialCreds, serverCreds := insecure.NewCredentials(), insecure.NewCredentials()
	if peerTLS != nil {
		dialCreds, serverCreds = credentials.NewTLS(peerTLS.ClientConfig()), credentials.NewTLS(peerTLS.ServerConfig())
	}
	cfg := remote.Configure(host, port,
		remote.WithAdvertisedHost(advertised),
		remote.WithEndpointWriterBatchSize(peerWriterBatch),
		remote.WithEndpointWriterQueueSize(peerWriterQueue),
		// WithDialOptions replaces remoting's defaults, insecure
		// credentials included.
		// transport.PeerCodec: raft entries cross without a copy of
		// their own on either side.
		remote.WithDialOptions(
			grpc.WithTransportCredentials(dialCreds),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxPeerMessageBytes), grpc.MaxCallSendMsgSize(maxPeerMessageBytes),
				grpc.ForceCodecV2(transport.PeerCodec())),
		),
		remote.WithServerOptions(grpc.Creds(serverCreds), grpc.MaxRecvMsgSize(maxPeerMessageBytes), grpc.MaxSendMsgSize(maxPeerMessageBytes),
			grpc.ForceServerCodecV2(transport.PeerCodec())),
	)
	// A failed connection blocks the peer's writer for MaxRetryCount x 2s
	// and then reports the peer unreachable: one retry keeps that short.
	cfg.MaxRetryCount = 1
	r := remote.NewRemote(system, cfg)
	r.Start()
	return r, nil
}
