package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sync"
	"time"
)

// Source holds a side's certificate, CA pool and CRL, read again from disk
// when their files change. Safe for concurrent use by handshakes.
type Source struct {
	info Info

	mu     sync.Mutex
	stamps map[string]stamp // of the files last read
	loaded *material
}

// material is one consistent reading of a side's files.
type material struct {
	cert *tls.Certificate
	pool *x509.CertPool // nil: none configured
	crl  map[string]bool
	// server is the configuration a server hands its clients with them.
	server *tls.Config
}

type stamp struct {
	size int64
	mod  time.Time
}

// New validates info, generates the self-signed certificate if asked, and
// reads every file once, so that a mistake is a start-up error.
func New(info Info) (*Source, error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if info.CertFile == "" {
		cert, key, err := selfSigned(info.AutoDir, info.AutoHosts, info.AutoValidity)
		if err != nil {
			return nil, err
		}
		info.CertFile, info.KeyFile = cert, key
	}
	s := &Source{info: info}
	if _, err := s.current(); err != nil {
		return nil, err
	}
	return s, nil
}

// files are those the source reads, in a fixed order.
func (s *Source) files() []string {
	fs := []string{s.info.CertFile, s.info.KeyFile}
	if s.info.TrustedCAFile != "" {
		fs = append(fs, s.info.TrustedCAFile)
	}
	if s.info.CRLFile != "" {
		fs = append(fs, s.info.CRLFile)
	}
	return fs
}

// current returns what the files hold now, reading them again if any of
// them changed since the last reading.
func (s *Source) current() (*material, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamps := map[string]stamp{}
	changed := s.loaded == nil
	for _, f := range s.files() {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		st := stamp{size: fi.Size(), mod: fi.ModTime()}
		stamps[f] = st
		if s.stamps[f] != st {
			changed = true
		}
	}
	if !changed {
		return s.loaded, nil
	}
	m, err := s.read()
	if err != nil {
		// The files changed and cannot be used: refuse handshakes until
		// they can (see the package documentation).
		s.loaded, s.stamps = nil, nil
		return nil, err
	}
	s.loaded, s.stamps = m, stamps
	return m, nil
}

func (s *Source) read() (*material, error) {
	cert, err := tls.LoadX509KeyPair(s.info.CertFile, s.info.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s and key %s: %w", s.info.CertFile, s.info.KeyFile, err)
	}
	m := &material{cert: &cert}
	if f := s.info.TrustedCAFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("trusted CA file %s holds no PEM certificate", f)
		}
	}
	if f := s.info.CRLFile; f != "" {
		if m.crl, err = readCRL(f); err != nil {
			return nil, err
		}
	}
	m.server = s.serverConfigFor(m)
	return m, nil
}

// readCRL returns the revoked serial numbers of the CRL in f (PEM or DER).
func readCRL(f string) (map[string]bool, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	if p, _ := pem.Decode(b); p != nil {
		b = p.Bytes
	}
	l, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("parse CRL %s: %w", f, err)
	}
	revoked := map[string]bool{}
	for _, e := range l.RevokedCertificateEntries {
		revoked[e.SerialNumber.String()] = true
	}
	return revoked, nil
}

// verify checks a verified peer's certificate against the CRL and the
// allowed common name or host name.
func (s *Source) verify(m *material, chain []*x509.Certificate) error {
	for _, c := range chain {
		if m.crl[c.SerialNumber.String()] {
			return fmt.Errorf("certificate with serial %s is revoked", c.SerialNumber)
		}
	}
	if len(chain) == 0 {
		return nil
	}
	leaf := chain[0]
	if cn := s.info.AllowedCN; cn != "" && leaf.Subject.CommonName != cn {
		return fmt.Errorf("certificate common name %q is not the allowed %q", leaf.Subject.CommonName, cn)
	}
	if h := s.info.AllowedHostname; h != "" {
		if err := leaf.VerifyHostname(h); err != nil {
			return fmt.Errorf("certificate is not for the allowed host name: %w", err)
		}
	}
	return nil
}
