package vtapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/filetrail/filetrail"
)

// CachedRequest is a GET or HEAD request without a body, as a transport
// other than net/http read it, for CachedAnswer.
type CachedRequest struct {
	// Path is the request target's path exactly as sent (escaped), and
	// RawQuery the text after its first "?".
	Path, RawQuery string
	Host           string   // the Host header
	TLS            bool     // the request came over TLS
	APIKey         string   // the x-apikey header, "" when absent
	AcceptEncoding []string // the values of every Accept-Encoding header
	RemoteAddr     string   // the client's "IP:port"
}

// A CachedAnswerer answers requests from its response cache without
// net/http. The handler New returns is one.
type CachedAnswerer interface {
	// CachedAnswer returns the body of the response ServeHTTP would send
	// to req from the response cache, counted in the metrics as
	// ServeHTTP counts it. That response is 200 with Content-Type
	// application/json, Vary: Accept-Encoding, and Content-Encoding:
	// gzip when gzip is true. When ok is false nothing was done or
	// counted: ServeHTTP must answer req.
	//
	// ok is false for every request a cache hit would not answer, and
	// also for those that a hit answers only after something CachedAnswer
	// leaves to ServeHTTP: a key not in the key cache (read from the
	// store), a key with a quota (counted in the store), a throttled
	// client (refused), a path or host with characters that net/http
	// would escape or refuse.
	CachedAnswer(req *CachedRequest) (body []byte, gzip bool, ok bool)
}

var _ CachedAnswerer = (*server)(nil)

// CachedAnswer implements CachedAnswerer. It takes the steps of a cache
// hit in apiRoute, each only when it has no side effect, and leaves the
// request to ServeHTTP at the first that would have one.
func (s *server) CachedAnswer(req *CachedRequest) (body []byte, gzip bool, ok bool) {
	start := time.Now()
	if s.cache == nil || !plainTarget(req.Path, false) || (s.publicURL == "" && !plainTarget(req.Host, true)) {
		return nil, false, false
	}
	secret := strings.TrimSpace(req.APIKey)
	if secret == "" {
		return nil, false, false
	}
	now := s.now()
	if a, ok := clientAddr(req.RemoteAddr); ok && s.throttle.wait(a, now) > 0 {
		return nil, false, false
	}
	e, cached := s.keys.get(filetrail.HashSecret(secret), now)
	if !cached || !e.found || e.key.Revoked() || !e.key.Quota.Unlimited() {
		return nil, false, false
	}
	gzip = acceptsGzip(req.AcceptEncoding)
	key := responseCacheKey(s.linkBase(req.TLS, req.Host), req.Path, req.RawQuery, e.key.Premium, gzip)
	body, route, ok := s.cache.get(context.Background(), key, now)
	if !ok {
		return nil, false, false
	}
	s.metrics.cacheHits.Inc()
	if observe := s.observers[route]; observe != nil {
		observe(http.StatusOK, time.Since(start))
	}
	return body, gzip, true
}

// plainTarget reports whether p is a non-empty path (host: a Host header)
// made only of characters that a net/http request keeps as they are: its
// URL's EscapedPath is then p itself, so p gives the cache key net/http's
// request for the same target gives. Everything else is left to ServeHTTP.
func plainTarget(p string, host bool) bool {
	if p == "" || (!host && p[0] != '/') {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == ':':
		case !host && (c == '/' || c == '@' || c == '=' || c == ','):
		case host && (c == '[' || c == ']'):
		default:
			return false
		}
	}
	return true
}
