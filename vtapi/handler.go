// Package vtapi serves filetrail's VirusTotal API v3 compatible HTTP API
// (/api/v3/..., see API.md) over a filetrail.Store, plus /healthz, /readyz
// and /metrics.
//
// Every /api/v3 request goes through the same steps, in this order:
// routing (an unknown path is 404 NotFoundError, a method other than GET or
// HEAD is 400 BadRequestError; neither needs a key), authentication (401),
// privilege (403), validation of the request (400), the key's quota (429,
// with Retry-After) and then the work. Requests refused before the quota
// step are not counted against it. Store errors become VT errors in one
// place (toAPIError).
package vtapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/filetrail/filetrail"
)

// Options configure the API handler.
type Options struct {
	// PublicURL is the scheme and host clients use, e.g.
	// https://ft.example.org (a trailing slash is ignored). Every link in a
	// response starts with it. Empty: the scheme and Host of each request.
	PublicURL string
	// Logger receives internal errors and recovered panics; nil discards.
	Logger *slog.Logger
	// Now is the clock for quotas and the key cache; nil is time.Now.
	Now func() time.Time
	// Registry receives the API's metrics; nil is a private registry. The
	// /metrics endpoint serves Registry when it is also a
	// prometheus.Gatherer, else prometheus.DefaultGatherer.
	Registry prometheus.Registerer
	// KeyCacheTTL is how long a key record is reused before the store is
	// asked again (a revoked key keeps working for at most this long); 0 is
	// DefaultKeyCacheTTL, negative disables the cache.
	KeyCacheTTL time.Duration
	// RequestTimeout bounds the store work of each request; past it the
	// request fails with 504 DeadlineExceededError. 0 is
	// DefaultRequestTimeout, negative means no bound but the request's own
	// context.
	RequestTimeout time.Duration
	// Ingest, when set, serves POST /admin/v1/ingest (pushed evidence, admin
	// keys only); nil answers that path with 404.
	Ingest IngestFunc
	// MaxIngestBytes bounds an ingest request body; 0 is
	// DefaultMaxIngestBytes.
	MaxIngestBytes int64
	// IngestTimeout bounds an ingest request; 0 is DefaultIngestTimeout.
	IngestTimeout time.Duration
	// Analyze, when set, serves the upload endpoints (POST /api/v3/files,
	// GET /api/v3/files/upload_url, GET /api/v3/analyses/{id}; admin keys
	// only); nil answers them with 404.
	Analyze AnalyzeFunc
	// MaxUploadBytes bounds a POST /api/v3/files sample; 0 is
	// DefaultMaxUploadBytes. MaxLargeUploadBytes bounds one posted to an
	// upload URL; 0 is DefaultMaxLargeUploadBytes.
	MaxUploadBytes, MaxLargeUploadBytes int64
	// WrongKeyLimit, when positive, throttles key guessing: once a client
	// address (an IPv6 /64) has sent this many wrong or revoked keys within
	// WrongKeyWindow (0 is DefaultWrongKeyWindow), its requests that need
	// a key get 429 QuotaExceededError with Retry-After until the window
	// ends. 0 or negative: no throttling.
	WrongKeyLimit  int
	WrongKeyWindow time.Duration
	// CacheBytes, when positive, keeps up to that many bytes of successful
	// object and list responses in memory, each for CacheTTL (0 is
	// DefaultCacheTTL) after it was built or, when the store is a
	// filetrail.ChangeCounter, after the store was last seen unchanged
	// since then; evidence written through this server's own endpoints
	// empties the cache at once. Other writers to the store (a separate
	// ingest process, other replicas) become visible within CacheTTL.
	// 0 or negative: no cache.
	CacheBytes int64
	CacheTTL   time.Duration
}

// DefaultCacheTTL is the CacheTTL when none is given.
const DefaultCacheTTL = time.Second

// DefaultRequestTimeout is the RequestTimeout when none is given.
const DefaultRequestTimeout = 30 * time.Second

type server struct {
	store     filetrail.Store
	publicURL string
	log       *slog.Logger
	now       func() time.Time
	timeout   time.Duration
	keys      *keyCache
	metrics   *metrics
	mux       *http.ServeMux
	notFound  http.Handler
	metadata  []byte // the /api/v3/metadata response, built once
	// POST /admin/v1/ingest (see ingestHandler).
	ingest         IngestFunc
	maxIngestBytes int64
	ingestTimeout  time.Duration
	uploads        *uploads       // nil without Options.Analyze (upload.go)
	throttle       *throttle      // nil without Options.WrongKeyLimit (throttle.go)
	cache          *responseCache // nil without Options.CacheBytes (cache.go)
	patterns       []string       // every route registered, in order
	// observers record a request answered by a route, by pattern (see
	// instrument); set by routes, then only read.
	observers map[string]func(status int, elapsed time.Duration)
}

// New returns the HTTP handler of the API over store. It serves
// /api/v3/..., /healthz (the process is alive), /readyz (the store answers
// Ping: 200, else 503) and /metrics (Prometheus). Every other response is
// JSON with Content-Type application/json, gzip-compressed when the client
// accepts it. New panics only when opts.Registry already holds a different
// collector under one of the API's metric names.
func New(store filetrail.Store, opts Options) http.Handler {
	s := &server{
		store:     store,
		publicURL: strings.TrimRight(opts.PublicURL, "/"),
		log:       opts.Logger,
		now:       opts.Now,
		timeout:   opts.RequestTimeout,
		metrics:   newMetrics(opts.Registry),
		mux:       http.NewServeMux(),
		metadata:  buildMetadata(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeout == 0 {
		s.timeout = DefaultRequestTimeout
	}
	ttl := opts.KeyCacheTTL
	if ttl == 0 {
		ttl = DefaultKeyCacheTTL
	}
	s.keys = newKeyCache(ttl)
	s.ingest = opts.Ingest
	s.maxIngestBytes = cmp.Or(opts.MaxIngestBytes, DefaultMaxIngestBytes)
	s.ingestTimeout = cmp.Or(opts.IngestTimeout, DefaultIngestTimeout)
	s.uploads = newUploads(opts)
	s.throttle = newThrottle(opts.WrongKeyLimit, opts.WrongKeyWindow)
	var changeCount func(context.Context) (uint64, error)
	if cc, ok := store.(filetrail.ChangeCounter); ok {
		changeCount = cc.ChangeCount
	}
	s.cache = newResponseCache(opts.CacheBytes, cmp.Or(opts.CacheTTL, DefaultCacheTTL), changeCount)
	s.routes()
	return s
}

// routes registers every route. Patterns carry no method: handlers check
// it themselves so that a wrong method gets a JSON error. The catch-all
// "/" answers unknown paths with 404 NotFoundError.
func (s *server) routes() {
	s.observers = map[string]func(int, time.Duration){}
	handle := func(pattern string, h http.HandlerFunc) {
		s.patterns = append(s.patterns, pattern)
		s.mux.Handle(pattern, s.instrument(pattern, h))
	}
	for _, k := range objectKinds {
		base := "/api/v3/" + k.collection + "/{id}"
		handle(base, s.cachedAPI(false, s.objectHandler(k)))
		for _, rel := range k.relationships {
			handle(base+"/"+rel.name, s.cachedAPI(rel.premium, s.listHandler(k, rel, false)))
			handle(base+"/relationships/"+rel.name, s.cachedAPI(rel.premium, s.listHandler(k, rel, true)))
		}
	}
	handle("/api/v3/metadata", s.api(false, func(*apiRequest) (work, error) {
		return func(_ context.Context, out *body) error { out.b = append(out.b, s.metadata...); return nil }, nil
	}))
	handle(ingestPath, s.ingestHandler)
	s.uploadRoutes(handle)
	handle("/healthz", s.getOnly(s.healthz))
	handle("/readyz", s.getOnly(s.readyz))
	handle("/metrics", s.getOnly(s.metrics.handler.ServeHTTP))
	s.notFound = s.instrument("unknown", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, filetrail.Errorf(filetrail.CodeNotFound, "Path %q not found", truncate(r.URL.Path, 200)))
	})
	s.mux.Handle("/", s.notFound)
}

// ServeHTTP answers paths that are not in canonical form (".." or "//"
// segments) with 404 NotFoundError, where http.ServeMux would redirect
// with a non-JSON body, refuses bodies over their route's limit with 413
// (limits.go), closes the connection after an error to a request with a
// body (closeOnError), and routes the rest.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.EscapedPath(); r.Method == http.MethodConnect || cleanPath(p) != p {
		s.notFound.ServeHTTP(w, r)
		return
	}
	if s.refuseLargeBody(w, r) {
		return
	}
	if r.ContentLength != 0 {
		w = closeOnError{w}
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath is the canonical form of a path as http.ServeMux computes it:
// rooted, without "." or ".." elements or repeated slashes, keeping a
// trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// instrument wraps a route's handler with panic recovery (500
// InternalError, logged) and its metrics.
func (s *server) instrument(route string, h http.HandlerFunc) http.Handler {
	observe := s.metrics.route(route)
	s.observers[route] = observe
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "route", route, "method", r.Method, "path", r.URL.Path, "panic", v)
				if sw.status != 0 {
					// Part of the response is out: abort the connection
					// rather than let the client take it as complete.
					panic(http.ErrAbortHandler)
				}
				s.writeError(sw, r, apiError{Status: http.StatusInternalServerError, Code: filetrail.CodeInternal, Message: msgInternal})
			}
			observe(sw.status, time.Since(start))
		}()
		h(sw, r)
	})
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// getOnly refuses methods other than GET and HEAD with 400 BadRequestError.
func (s *server) getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.fail(w, r, filetrail.Errorf(filetrail.CodeBadRequest, "Method %s is not allowed here: use GET", truncate(r.Method, 20)))
			return
		}
		h(w, r)
	}
}

// apiRequest is an authenticated /api/v3 request, for a route's prepare
// step.
type apiRequest struct {
	r     *http.Request
	query url.Values
	key   filetrail.Key
	base  string // absolute URL prefix of links: scheme and host
}

// prepareFunc validates a request and returns the work that answers it.
// It runs before the quota is counted, so it must not call the store.
type prepareFunc func(req *apiRequest) (work, error)

// work assembles the JSON response of a request in out.
type work func(ctx context.Context, out *body) error

// api wraps an /api/v3 route: method check, authentication, privilege,
// query parsing, the route's validation, quota, then the work, each step
// failing with its own VT error.
func (s *server) api(premium bool, prepare prepareFunc) http.HandlerFunc {
	return s.apiRoute(premium, false, prepare)
}

// cachedAPI is api for a route whose successful responses depend only on
// the request's URL, host, encoding, the key's premium privilege and the
// store: they are served from the response cache when it holds them. Every
// step before the work (authentication, privilege, validation, quota)
// still runs for each request.
func (s *server) cachedAPI(premium bool, prepare prepareFunc) http.HandlerFunc {
	return s.apiRoute(premium, true, prepare)
}

func (s *server) apiRoute(premium, cacheable bool, prepare prepareFunc) http.HandlerFunc {
	return s.getOnly(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		key, err := s.authenticate(ctx, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if premium && !key.Premium {
			s.fail(w, r, filetrail.Errorf(filetrail.CodeForbidden, msgForbidden))
			return
		}
		gzip, base := acceptsGzip(r.Header.Values("Accept-Encoding")), s.base(r)
		var cacheKey string
		var tag buildTag
		if cacheable && s.cache != nil {
			// Only successful responses are cached, and validation depends
			// on nothing the key does not hold: a request found in the
			// cache is valid. It still counts against its quota.
			cacheKey = responseCacheKey(base, r.URL.EscapedPath(), r.URL.RawQuery, key.Premium, gzip)
			if b, _, ok := s.cache.get(ctx, cacheKey, s.now()); ok {
				s.metrics.cacheHits.Inc()
				if err := s.admit(ctx, key); err != nil {
					s.fail(w, r, err)
					return
				}
				sendEncoded(w, http.StatusOK, gzip, b)
				return
			}
			s.metrics.cacheMisses.Inc()
			tag = s.cache.begin(ctx, s.now())
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			s.fail(w, r, filetrail.Errorf(filetrail.CodeBadRequest, "Malformed query string: %v", err))
			return
		}
		do, err := prepare(&apiRequest{r: r, query: q, key: key, base: base})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx, cancel := s.bounded(ctx)
		defer cancel()
		r = r.WithContext(ctx) // so that fail tells a timeout from other errors
		if err := s.admit(ctx, key); err != nil {
			s.fail(w, r, err)
			return
		}
		out := getBody(gzip)
		defer putBody(out)
		if err := do(ctx, out); err != nil {
			s.fail(w, r, err)
			return
		}
		enc := out.encoded()
		if cacheKey != "" {
			s.cache.put(cacheKey, r.Pattern, tag, enc, s.now())
		}
		sendEncoded(w, http.StatusOK, out.gzip, enc)
	})
}

// responseCacheKey is everything a cachedAPI response depends on besides
// the store: links' base, the escaped path, the raw query, the key's
// premium privilege and the encoding.
func responseCacheKey(base, escapedPath, rawQuery string, premium, gzip bool) string {
	flags := "--"
	switch {
	case premium && gzip:
		flags = "pg"
	case premium:
		flags = "p-"
	case gzip:
		flags = "-g"
	}
	return flags + base + escapedPath + "?" + rawQuery
}

// writesDone empties the response cache after evidence was written through
// this server.
func (s *server) writesDone() {
	if s.cache != nil {
		s.cache.invalidate()
	}
}

// bounded returns ctx limited by the request timeout, for a request's store
// work. Steps that need no store (a response cache hit, a cached key) do not
// pay for the timer, and a ctx already bounded as tightly is returned as it
// is, so nested store steps share one timer.
func (s *server) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= s.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// deadlineOr returns err, marked as the deadline's when ctx's deadline has
// passed: a store may report the interruption in its own words.
func deadlineOr(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// base is the absolute URL prefix of the links of a response.
func (s *server) base(r *http.Request) string {
	return s.linkBase(r.TLS != nil, r.Host)
}

// linkBase is the absolute URL prefix of the links of a response to a
// request to host, over TLS or not.
func (s *server) linkBase(tls bool, host string) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, []byte(`{"status":"ok"}`))
}

// readyz answers 200 when the store answers Ping, else 503 TransientError.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.bounded(r.Context())
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "store not ready", "error", err)
		s.writeError(w, r, apiError{Status: http.StatusServiceUnavailable, Code: filetrail.CodeTransient, Message: "The store is unavailable"})
		return
	}
	writeJSON(w, r, http.StatusOK, []byte(`{"status":"ready"}`))
}
