package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Info says where a side's certificates are and how peers are checked: one
// for clients (--cert-file ...), one for peers (--peer-cert-file ...).
type Info struct {
	// CertFile and KeyFile are the PEM certificate (with any intermediates
	// after it) and private key this side presents.
	CertFile, KeyFile string
	// TrustedCAFile is the PEM bundle of CAs that certificates of the other
	// side must chain to. On a server it also requires client certificates,
	// as etcd does.
	TrustedCAFile string
	// ClientCertAuth has a server require and verify client certificates.
	ClientCertAuth bool
	// CRLFile is a PEM or DER certificate revocation list: a server refuses
	// connections whose certificate chain has a revoked serial number.
	CRLFile string
	// AllowedCN and AllowedHostname, when set, have a server accept only
	// client certificates with that common name, or valid for that host
	// name (etcd's --peer-cert-allowed-cn and --peer-cert-allowed-hostname).
	AllowedCN, AllowedHostname string

	// AutoTLS uses a self-signed certificate, generated into AutoDir (kept
	// for the next start) for AutoHosts, when CertFile is empty. Dialing
	// with it does not verify the other side's certificate, which is
	// self-signed too (as etcd's --peer-auto-tls).
	AutoTLS   bool
	AutoDir   string
	AutoHosts []string
	// AutoValidity is how long a generated certificate is valid. Default
	// one year (etcd's --self-signed-cert-validity).
	AutoValidity time.Duration

	// MinVersion and MaxVersion bound the TLS versions (0: TLS 1.2 and the
	// newest Go supports); CipherSuites, if not empty, are the TLS 1.2
	// cipher suites allowed.
	MinVersion, MaxVersion uint16
	CipherSuites           []uint16
}

// Configured reports whether i names a certificate or asks for one.
func (i *Info) Configured() bool { return i.CertFile != "" || i.KeyFile != "" || i.AutoTLS }

// Validate checks i, naming the field at fault.
func (i *Info) Validate() error {
	if (i.CertFile == "") != (i.KeyFile == "") {
		return errors.New("cert-file and key-file must be given together")
	}
	if i.CertFile == "" && !i.AutoTLS {
		return errors.New("a certificate is required: cert-file and key-file, or auto-tls")
	}
	if i.AutoTLS && i.CertFile == "" && i.AutoDir == "" {
		return errors.New("auto-tls needs a directory for the certificate")
	}
	if i.MaxVersion != 0 && i.MinVersion > i.MaxVersion {
		return errors.New("tls-min-version must not be above tls-max-version")
	}
	if len(i.CipherSuites) > 0 && i.MinVersion == tls.VersionTLS13 {
		// TLS 1.3's suites are not configurable (as etcd says).
		return errors.New("cipher-suites cannot be set when only TLS 1.3 is allowed")
	}
	return nil
}

// ParseVersion parses etcd's TLS version names: "" (the default), "TLS1.2"
// or "TLS1.3".
func ParseVersion(s string) (uint16, error) {
	switch s {
	case "":
		return 0, nil
	case "TLS1.2":
		return tls.VersionTLS12, nil
	case "TLS1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q (TLS1.2 or TLS1.3)", s)
}

// ParseCipherSuites parses a comma-separated list of cipher suite names as
// Go (and etcd) name them, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
// Insecure suites are refused.
func ParseCipherSuites(s string) ([]uint16, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	known := map[string]uint16{}
	for _, c := range tls.CipherSuites() {
		known[c.Name] = c.ID
	}
	var out []uint16
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		id, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("unknown or insecure cipher suite %q", name)
		}
		out = append(out, id)
	}
	return out, nil
}
