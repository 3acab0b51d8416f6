package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

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
	maxHeaderBytes    = 64 << 10
)

type serveCmd struct {
	storeFlag       `embed:""`
	Addr            string        `help:"Address to listen on (HOST:PORT)." default:"127.0.0.1:8080" env:"FILETRAIL_ADDR"`
	PublicURL       string        `help:"Scheme and host clients reach the server at (e.g. https://filetrail.example.org); links in responses start with it. Default: the Host of each request." env:"FILETRAIL_PUBLIC_URL"`
	ShutdownTimeout time.Duration `help:"How long a shutdown waits for in-flight requests." default:"30s" env:"FILETRAIL_SHUTDOWN_TIMEOUT"`
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
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	return serveHTTP(a, ln, st, c.PublicURL, c.ShutdownTimeout)
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

// serveHTTP serves the API over st on ln until a.ctx ends, then shuts down
// gracefully: it stops accepting connections and waits up to
// shutdownTimeout for the requests in flight to finish.
func serveHTTP(a *app, ln net.Listener, st store, publicURL string, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           routes(vtapi.New(st, vtapi.Options{PublicURL: publicURL, Logger: a.log, Ingest: httpIngest(st), Analyze: a.analyze, MaxLargeUploadBytes: a.maxUpload()})),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		// Requests keep a context of their own: the end of a.ctx starts
		// the shutdown but does not cancel the requests in flight.
		BaseContext: func(net.Listener) context.Context { return context.Background() },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("listening", "url", "http://"+ln.Addr().String(), "public_url", publicURL)
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-a.ctx.Done():
	}
	a.log.Info("shutting down", "grace", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	a.log.Info("stopped")
	return nil
}
