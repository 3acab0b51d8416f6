package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/filetrail/filetrail/internal/fastfront"
	"github.com/filetrail/filetrail/vtapi"
	"github.com/filetrail/filetrail/web"
)

// HTTP server limits. The API's own per-request store timeout
// (vtapi.DefaultRequestTimeout) is shorter than writeTimeout, so a slow
// request gets a JSON 504 rather than a cut connection.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 16 << 10
)

type serveCmd struct {
	storeFlag       `embed:""`
	Addr            string        `help:"Address to listen on (HOST:PORT)." default:"127.0.0.1:8080" env:"FILETRAIL_ADDR"`
	PublicURL       string        `help:"Scheme and host clients reach the server at (e.g. https://filetrail.example.org); links in responses start with it. Default: the Host of each request." env:"FILETRAIL_PUBLIC_URL"`
	ShutdownTimeout time.Duration `help:"How long a shutdown waits for in-flight requests." default:"30s" env:"FILETRAIL_SHUTDOWN_TIMEOUT"`
	CacheMiB        int64         `name:"response-cache-mib" help:"MiB of memory for whole object and list responses, so hot pages are sent from memory (counts against --memory-limit-mib); 0 disables the cache." default:"48" env:"FILETRAIL_RESPONSE_CACHE_MIB"`
	MemoryLimitMiB  int64         `name:"memory-limit-mib" help:"Soft limit of the Go heap in MiB: past it garbage is collected more often (SQLite's page caches come on top). 0: no limit. Ignored when GOMEMLIMIT is set." default:"96" env:"FILETRAIL_MEMORY_LIMIT_MIB"`
	CacheTTL        time.Duration `name:"response-cache-ttl" help:"Longest time a cached response is served without knowing it is current; past it, it is served again while the store has seen no write since it was built (checked at most every tenth of this time). Evidence pushed to this server empties the cache at once; other writers (a separate ingest process, other replicas) show within this time." default:"1s" env:"FILETRAIL_RESPONSE_CACHE_TTL"`
	transportFlags  `embed:""`
	analysisFlags   `embed:""`
}

func (c *serveCmd) Run(a *app) error {
	st, err := openStore(a.ctx, c.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	if a.analyze, err = c.uploadAnalyzer(a); err != nil {
		return err
	}
	t, err := c.transport()
	if err != nil {
		return err
	}
	t.cacheBytes, t.cacheTTL = c.CacheMiB<<20, c.CacheTTL
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && c.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(c.MemoryLimitMiB << 20)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	if c.AdminAddr != "" {
		if t.admin, err = net.Listen("tcp", c.AdminAddr); err != nil {
			ln.Close()
			return err
		}
	}
	return serveHTTPWith(a, ln, st, c.PublicURL, c.ShutdownTimeout, t)
}

// routes mounts the web interface at /gui/ (and /gui) next to the API
// handler, which answers every other path. It routes by prefix only, so
// the API keeps answering non-canonical paths itself (an http.ServeMux
// would redirect them).
func routes(apiHandler http.Handler) http.Handler {
	gui := web.Handler(web.Options{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/gui" || strings.HasPrefix(p, web.Prefix) {
			gui.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}

// serveHTTP serves the API over st on ln until a.ctx ends, with the
// default transport: plain HTTP, admin paths on ln too.
func serveHTTP(a *app, ln net.Listener, st store, publicURL string, shutdownTimeout time.Duration) error {
	return serveHTTPWith(a, ln, st, publicURL, shutdownTimeout, transport{})
}

// serveHTTPWith serves the API over st on ln (and the admin paths on
// t.admin when set, see transport) until a.ctx ends, then shuts down
// gracefully: it stops accepting connections and waits up to
// shutdownTimeout for the requests in flight to finish.
//
// Plain HTTP is served by fastfront (HTTP/1.1; on ln, response cache hits
// are written without net/http), TLS by net/http (with HTTP/2).
func serveHTTPWith(a *app, ln net.Listener, st store, publicURL string, shutdownTimeout time.Duration, t transport) error {
	api := vtapi.New(st, vtapi.Options{PublicURL: publicURL, Logger: a.log, Ingest: httpIngest(st), Analyze: a.analyze, MaxLargeUploadBytes: a.maxUpload(), WrongKeyLimit: t.wrongKeyLimit, WrongKeyWindow: t.wrongKeyWindow,
		CacheBytes: t.cacheBytes, CacheTTL: t.cacheTTL})
	public := routes(api)
	if t.admin != nil {
		public = routes(vtapi.Only(api, func(p string) bool { return !vtapi.IsAdminPath(p) }))
	}
	servers := []listenerServer{t.server(a, public, api.(vtapi.CachedAnswerer))}
	listeners := []net.Listener{ln}
	if t.admin != nil {
		servers = append(servers, t.server(a, vtapi.Only(api, adminListenerPath), nil))
		listeners = append(listeners, t.admin)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	a.log.Info("listening", "url", t.scheme()+"://"+ln.Addr().String(), "public_url", publicURL)
	if t.admin != nil {
		a.log.Info("admin listening", "url", t.scheme()+"://"+t.admin.Addr().String())
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serving: %w", err)
	case <-a.ctx.Done():
		a.log.Info("shutting down", "grace", shutdownTimeout)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			serveErr = cmp.Or(serveErr, fmt.Errorf("shutting down: %w", err))
		}
	}
	if serveErr != nil {
		return serveErr
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving: %w", err)
		}
	}
	a.log.Info("stopped")
	return nil
}

// A listenerServer serves one listener until shut down.
type listenerServer interface {
	// Serve serves ln; after Shutdown it returns nil or
	// http.ErrServerClosed.
	Serve(ln net.Listener) error
	// Shutdown stops accepting connections and waits, until ctx ends,
	// for the requests in flight.
	Shutdown(ctx context.Context) error
}

// server is the server of h for the transport: fastfront for plain HTTP
// (cache answers the response cache's hits without net/http; nil: none),
// net/http over TLS. Every phase of a request is bounded.
func (t transport) server(a *app, h http.Handler, cache vtapi.CachedAnswerer) listenerServer {
	if t.tls == nil {
		return fastfront.New(fastfront.Options{
			Handler: h, Cache: cache,
			ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout,
			MaxHeaderBytes: maxHeaderBytes,
			Logger:         a.log,
		})
	}
	return tlsServer{&http.Server{
		Handler:           h,
		TLSConfig:         t.tls,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		// Requests keep a context of their own: the end of a.ctx starts
		// the shutdown but does not cancel the requests in flight.
		BaseContext: func(net.Listener) context.Context { return context.Background() },
	}}
}

// tlsServer is a net/http server serving HTTPS with its TLSConfig.
type tlsServer struct{ *http.Server }

func (s tlsServer) Serve(ln net.Listener) error { return s.ServeTLS(ln, "", "") }

// Shutdown is http.Server's, closing the connections left when ctx ends.
func (s tlsServer) Shutdown(ctx context.Context) error {
	err := s.Server.Shutdown(ctx)
	if err != nil {
		s.Close()
	}
	return err
}
