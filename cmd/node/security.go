package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/cairnkv/cairn/tlsconf"
)

// securityOptions are etcd's TLS flags, for clients and for peers.
type securityOptions struct {
	client, peer tlsconf.Info
	// clientTLS and peerTLS are set once the flags are checked, when that
	// side serves TLS (an https URL).
	clientTLS, peerTLS *tlsconf.Source
}

// addSecurityFlags defines the TLS flags on fs and returns the function
// that checks them once parsed, given the parsed URLs and data directory.
func addSecurityFlags(fs *flag.FlagSet, o *securityOptions) func(o *options) error {
	c, p := &o.client, &o.peer
	fs.StringVar(&c.CertFile, "cert-file", "", "Path to the client server TLS cert file.")
	fs.StringVar(&c.KeyFile, "key-file", "", "Path to the client server TLS key file.")
	fs.BoolVar(&c.ClientCertAuth, "client-cert-auth", false, "Enable client cert authentication.")
	fs.StringVar(&c.CRLFile, "client-crl-file", "", "Path to the client certificate revocation list file.")
	fs.StringVar(&c.TrustedCAFile, "trusted-ca-file", "", "Path to the client server TLS trusted CA cert file.")
	fs.BoolVar(&c.AutoTLS, "auto-tls", false, "Client TLS using generated certificates.")
	fs.StringVar(&p.CertFile, "peer-cert-file", "", "Path to the peer server TLS cert file.")
	fs.StringVar(&p.KeyFile, "peer-key-file", "", "Path to the peer server TLS key file.")
	fs.BoolVar(&p.ClientCertAuth, "peer-client-cert-auth", false, "Enable peer client cert authentication.")
	fs.StringVar(&p.TrustedCAFile, "peer-trusted-ca-file", "", "Path to the peer server TLS trusted CA file.")
	fs.StringVar(&p.CRLFile, "peer-crl-file", "", "Path to the peer certificate revocation list file.")
	fs.BoolVar(&p.AutoTLS, "peer-auto-tls", false, "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.")
	fs.StringVar(&p.AllowedCN, "peer-cert-allowed-cn", "", "Allowed CN for inter peer authentication.")
	fs.StringVar(&p.AllowedHostname, "peer-cert-allowed-hostname", "", "Allowed TLS hostname for inter peer authentication.")
	validity := fs.Uint("self-signed-cert-validity", 1, "The validity period of the client and peer certificates that are automatically generated, in years, with --auto-tls and --peer-auto-tls.")
	minVersion := fs.String("tls-min-version", "TLS1.2", "Minimum TLS version supported: TLS1.2 or TLS1.3.")
	maxVersion := fs.String("tls-max-version", "", "Maximum TLS version supported: TLS1.2 or TLS1.3. Default: the newest Go supports.")
	ciphers := fs.String("cipher-suites", "", "Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).")

	return func(opts *options) error {
		var err error
		if c.MinVersion, err = tlsconf.ParseVersion(*minVersion); err != nil {
			return fmt.Errorf("tls-min-version: %w", err)
		}
		if c.MaxVersion, err = tlsconf.ParseVersion(*maxVersion); err != nil {
			return fmt.Errorf("tls-max-version: %w", err)
		}
		if c.CipherSuites, err = tlsconf.ParseCipherSuites(*ciphers); err != nil {
			return fmt.Errorf("cipher-suites: %w", err)
		}
		p.MinVersion, p.MaxVersion, p.CipherSuites = c.MinVersion, c.MaxVersion, c.CipherSuites
		years := time.Duration(*validity) * 365 * 24 * time.Hour
		c.AutoValidity, p.AutoValidity = years, years
		c.AutoDir = filepath.Join(opts.cfg.DataDir, "fixtures", "client")
		p.AutoDir = filepath.Join(opts.cfg.DataDir, "fixtures", "peer")
		if c.AutoHosts, err = urlHosts(opts.listenClientURLs); err != nil {
			return err
		}
		if p.AutoHosts, err = urlHosts(append([]string{opts.listenPeerURL}, opts.cfg.AdvertisePeerURLs...)); err != nil {
			return err
		}

		if anyHTTPS(opts.listenClientURLs) || anyHTTPS(opts.observe.listenMetricsURLs) {
			// Metrics are served with the clients' TLS, as in etcd.
			if !c.Configured() {
				return errors.New("listen-client-urls, listen-metrics-urls: an https URL needs --cert-file and --key-file, or --auto-tls")
			}
			if o.clientTLS, err = tlsconf.New(*c); err != nil {
				return fmt.Errorf("client TLS: %w", err)
			}
		} else if c.Configured() || c.TrustedCAFile != "" || c.ClientCertAuth {
			return errors.New("client TLS flags are set but no listen-client-urls or listen-metrics-urls is https: clients would be served in plaintext")
		}

		if anyHTTPS([]string{opts.listenPeerURL}) {
			if !p.Configured() {
				return errors.New("listen-peer-urls: an https URL needs --peer-cert-file and --peer-key-file, or --peer-auto-tls")
			}
			if o.peerTLS, err = tlsconf.New(*p); err != nil {
				return fmt.Errorf("peer TLS: %w", err)
			}
		} else if p.Configured() || p.TrustedCAFile != "" || p.ClientCertAuth {
			return errors.New("peer TLS flags are set but listen-peer-urls is not https: members would talk in plaintext")
		}
		return nil
	}
}

// tlsListener serves TLS on l if u (the URL l listens on) is https.
func (o *securityOptions) tlsListener(u *url.URL, l net.Listener) (net.Listener, error) {
	if u.Scheme != "https" {
		return l, nil
	}
	if o.clientTLS == nil {
		// parseFlags refuses this; never serve https in plaintext.
		return nil, fmt.Errorf("%s: no client TLS configured", u)
	}
	return tls.NewListener(l, o.clientTLS.ServerConfig()), nil
}

func anyHTTPS(urls []string) bool {
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "https" {
			return true
		}
	}
	return false
}

// urlHosts returns the hosts of urls, for a generated certificate.
func urlHosts(urls []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		if h := u.Hostname(); h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out, nil
}
