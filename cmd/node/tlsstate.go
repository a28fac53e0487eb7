package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"google.golang.org/grpc/credentials"
)

// tlsStateCredentials hands gRPC requests the TLS state of their connection
// (credentials.TLSInfo in the peer), for --client-cert-auth. The client
// listeners already speak TLS (tls.NewListener, which keeps certificate
// reloading in tlsconf): on a *tls.Conn it only completes the handshake and
// reports its state; on a plain connection (an http:// URL of the same
// member) it reports none, as gRPC's insecure credentials do.
type tlsStateCredentials struct{}

func (tlsStateCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return conn, insecureInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
	}
	// gRPC bounds the whole server handshake with its connection timeout
	// (the conn's deadline), so the background context waits no longer.
	if err := tc.HandshakeContext(context.Background()); err != nil {
		return nil, nil, err
	}
	return tc, credentials.TLSInfo{
		State:          tc.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

func (tlsStateCredentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("tlsStateCredentials: server side only")
}

func (tlsStateCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (c tlsStateCredentials) Clone() credentials.TransportCredentials { return c }

func (tlsStateCredentials) OverrideServerName(string) error { return nil }

// insecureInfo is the AuthInfo of a plain connection.
type insecureInfo struct{ credentials.CommonAuthInfo }

func (insecureInfo) AuthType() string { return "insecure" }
