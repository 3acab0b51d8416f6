package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/filetrail/filetrail/vtapi"
)

// transportFlags are serve's TLS, admin listener and key-guessing flags.
type transportFlags struct {
	TLSCert        string        `name:"tls-cert" help:"PEM certificate (chain) file: serve HTTPS. Needs --tls-key." env:"FILETRAIL_TLS_CERT" type:"path"`
	TLSKey         string        `name:"tls-key" help:"PEM private key file of --tls-cert." env:"FILETRAIL_TLS_KEY" type:"path"`
	AdminAddr      string        `help:"Serve the admin paths (/admin/..., /metrics) on this separate address (HOST:PORT), and no longer on --addr." env:"FILETRAIL_ADMIN_ADDR"`
	WrongKeyLimit  int           `help:"Wrong or revoked API keys one client address may send per --wrong-key-window before its requests get 429 (0: no limit)." default:"20" env:"FILETRAIL_WRONG_KEY_LIMIT"`
	WrongKeyWindow time.Duration `help:"Window of --wrong-key-limit." default:"1m" env:"FILETRAIL_WRONG_KEY_WINDOW"`
}

// transport is how serveHTTPWith exposes the API.
type transport struct {
	tls            *tls.Config  // nil: plain HTTP
	admin          net.Listener // nil: admin paths on the public listener
	wrongKeyLimit  int
	wrongKeyWindow time.Duration
	cacheBytes     int64 // vtapi.Options.CacheBytes: 0, no response cache
	cacheTTL       time.Duration
}

// transport checks the flags and loads the certificate, so that a bad
// one fails at start-up with a clear error. The admin listener is left to
// the caller.
func (f transportFlags) transport() (transport, error) {
	t := transport{wrongKeyLimit: f.WrongKeyLimit, wrongKeyWindow: f.WrongKeyWindow}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		return t, errors.New("--tls-cert and --tls-key go together")
	}
	if f.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
		if err != nil {
			return t, fmt.Errorf("loading the TLS certificate: %w", err)
		}
		t.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// scheme is the URL scheme the transport serves.
func (t transport) scheme() string {
	if t.tls != nil {
		return "https"
	}
	return "http"
}

// adminListenerPath reports whether the admin listener serves path: the
// admin paths, and the health probes (served on both listeners).
func adminListenerPath(path string) bool {
	return vtapi.IsAdminPath(path) || path == "/healthz" || path == "/readyz"
}
