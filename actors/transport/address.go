package transport

import (
	"fmt"
	"net/url"
)

// PeerAddress returns the actor system address of a member advertising
// peerURL: its host:port.
func PeerAddress(peerURL string) (string, error) {
	u, err := url.Parse(peerURL)
	if err != nil {
		return "", fmt.Errorf("transport: peer URL %q: %w", peerURL, err)
	}
	if u.Host == "" || u.Port() == "" {
		return "", fmt.Errorf("transport: peer URL %q has no host:port", peerURL)
	}
	return u.Host, nil
}
