package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// alpnH2 is HTTP/2's protocol name: gRPC clients refuse a TLS server that
// does not negotiate it. Servers offer HTTP/1.1 after it, for the HTTP
// clients of the metrics and health endpoints (curl, Prometheus).
const alpnH2 = "h2"

var serverProtos = []string{alpnH2, "http/1.1"}

// RequiresClientCert reports whether the server side asks every client for
// a verified certificate: with client-cert-auth, or a trusted CA file, as
// etcd does.
func (s *Source) RequiresClientCert() bool {
	return s.info.ClientCertAuth || s.info.TrustedCAFile != ""
}

// ServerConfig returns the configuration to serve with. Each handshake
// takes the files' current contents.
func (s *Source) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: s.minVersion(),
		NextProtos: serverProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.serverConfig()
		},
	}
}

func (s *Source) serverConfig() (*tls.Config, error) {
	m, err := s.current()
	if err != nil {
		return nil, err
	}
	return m.server, nil
}

// serverConfigFor builds the configuration served with m.
func (s *Source) serverConfigFor(m *material) *tls.Config {
	c := s.base()
	c.NextProtos = serverProtos
	c.Certificates = []tls.Certificate{*m.cert}
	if s.RequiresClientCert() {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = m.pool // nil: the system's roots
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		return s.verify(m, cs.PeerCertificates)
	}
	return c
}

// ClientConfig returns the configuration to dial with: this side's
// certificate for servers that ask for one, and the server's certificate
// verified against the trusted CA file (or the system's roots), for the
// host name dialed. With auto-tls and no CA file it does not verify, as
// etcd's peers do with self-signed certificates.
func (s *Source) ClientConfig() *tls.Config {
	c := s.base()
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		m, err := s.current()
		if err != nil {
			return nil, err
		}
		return m.cert, nil
	}
	if s.info.TrustedCAFile == "" && s.info.AutoTLS {
		c.InsecureSkipVerify = true
		return c
	}
	// Verified here rather than by crypto/tls, so that a rotated CA file
	// counts from the next handshake on.
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		m, err := s.current()
		if err != nil {
			return err
		}
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tlsconf: the server sent no certificate")
		}
		opts := x509.VerifyOptions{DNSName: cs.ServerName, Roots: m.pool, Intermediates: x509.NewCertPool()}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("tlsconf: server certificate: %w", err)
		}
		return nil
	}
	return c
}

func (s *Source) base() *tls.Config {
	return &tls.Config{
		MinVersion:   s.minVersion(),
		MaxVersion:   s.info.MaxVersion,
		CipherSuites: s.info.CipherSuites,
		NextProtos:   []string{alpnH2},
	}
}

func (s *Source) minVersion() uint16 {
	if s.info.MinVersion == 0 {
		return tls.VersionTLS12
	}
	return s.info.MinVersion
}
