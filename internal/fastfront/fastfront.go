// Package fastfront serves the API over HTTP/1.1 with fasthttp: requests
// the response cache answers (vtapi.CachedAnswerer) are written straight
// from the cached bytes, and every other request goes to the API's
// net/http handler through a bridge.
//
// Why: Go's net/http spends more CPU per request than the rest of a cache
// hit put together (its request and header maps, a context and a
// background read per request). On the hot request, a cached page of
// downloaded_files, a net/http server that only writes the bytes reaches
// about half of nginx's rate, and fasthttp about nginx's (bench/run.sh,
// docs/PERFORMANCE.md).
//
// The bridge is written here rather than taken from fasthttpadaptor,
// which reads every request body into memory before calling the handler
// (uploads and ingestion bodies reach hundreds of MiB) and does not let
// a handler move the connection's read deadline: the bridge streams the
// body and supports http.ResponseController's deadlines.
package fastfront

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/filetrail/filetrail/vtapi"
)

// Options configure a Server.
type Options struct {
	// Handler answers every request Cache does not.
	Handler http.Handler
	// Cache answers cached responses; nil: Handler answers everything.
	Cache vtapi.CachedAnswerer
	// ReadHeaderTimeout bounds reading a request's headers (from its
	// first byte on a kept-alive connection), ReadTimeout the whole
	// request, body included, WriteTimeout writing a response,
	// IdleTimeout the wait for the next request on a kept-alive
	// connection.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; a request over
	// it gets 431. It is also each connection's read buffer.
	MaxHeaderBytes int
	// Logger receives the server's errors and the handler's panics.
	Logger *slog.Logger
}

// Server serves HTTP/1.1 on listeners; HTTP/2 is not spoken.
type Server struct {
	fs      *fasthttp.Server
	handler http.Handler
	cache   vtapi.CachedAnswerer
	log     *slog.Logger
}

// New returns a Server for opts.
func New(opts Options) *Server {
	s := &Server{handler: opts.Handler, cache: opts.Cache, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.fs = &fasthttp.Server{
		Handler:      s.serve,
		ErrorHandler: s.protocolError,
		// The header timeout runs from the request's first byte; once the
		// headers are in, a request with a body gets the rest of
		// ReadTimeout to send it.
		ReadTimeout: opts.ReadHeaderTimeout,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if !hasBody(h) {
				return fasthttp.RequestConfig{}
			}
			return fasthttp.RequestConfig{ReadTimeout: opts.ReadTimeout}
		},
		WriteTimeout:   opts.WriteTimeout,
		IdleTimeout:    opts.IdleTimeout,
		ReadBufferSize: opts.MaxHeaderBytes,
		// Bodies are streamed to the handler, which bounds each route's
		// own (vtapi's limits): fasthttp refuses none. fasthttp reads up
		// to MaxRequestBodySize bytes of a body before it calls the
		// handler and streams the rest: one byte, so that the handler
		// answers (a wrong key, a body over its route's limit) as soon as
		// the body starts.
		StreamRequestBody:            true,
		MaxRequestBodySize:           1,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		// fasthttp's errors quote a refused request's bytes, whose
		// headers may hold an API key: they are left out of the log.
		SecureErrorLogMessage: true,
		Logger:                logger{s.log},
	}
	return s
}

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	return s.fs.Serve(ln)
}

// Shutdown stops accepting connections, closes the idle ones and waits,
// until ctx ends, for the requests in flight to be answered.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.fs.ShutdownWithContext(ctx)
}

// serve answers one request: from the cache when it can, else through
// the bridge.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	if !validHost(ctx.Request.Header.Host()) {
		writeProtocolError(ctx, http.StatusBadRequest, "Malformed Host header")
		ctx.SetConnectionClose()
		return
	}
	if s.cache != nil && (ctx.IsGet() || ctx.IsHead()) && !hasBody(&ctx.Request.Header) && s.answerCached(ctx) {
		return
	}
	s.bridge(ctx)
}

// hasBody reports whether a request has a body: a positive Content-Length,
// or a chunked one (-1). A request with neither has none (fasthttp's -2).
func hasBody(h *fasthttp.RequestHeader) bool {
	n := h.ContentLength()
	return n > 0 || n == -1
}

var (
	headerVary            = []byte("Vary")
	headerContentEncoding = []byte("Content-Encoding")
	valueAcceptEncoding   = []byte("Accept-Encoding")
	valueGzip             = []byte("gzip")
	valueJSON             = []byte("application/json")
)

// validHost reports whether a Host header is one net/http accepts: the
// characters of a host name, an IP literal and a port (RFC 3986), and
// percent-encoding, as golang.org/x/net/http/httpguts.ValidHostHeader
// (its one use here does not warrant the module).
func validHost(h []byte) bool {
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// answerCached answers ctx from the cache and reports whether it did. The
// response has the headers vtapi's own answer has (CachedAnswerer).
func (s *Server) answerCached(ctx *fasthttp.RequestCtx) bool {
	h := &ctx.Request.Header
	path, query, _ := bytes.Cut(h.RequestURI(), []byte("?"))
	var accept []string
	for _, v := range h.PeekAll("Accept-Encoding") {
		accept = append(accept, string(v))
	}
	body, gzip, ok := s.cache.CachedAnswer(&vtapi.CachedRequest{
		Path:           string(path),
		RawQuery:       string(query),
		Host:           string(h.Host()),
		TLS:            ctx.IsTLS(),
		APIKey:         string(h.Peek("X-Apikey")),
		AcceptEncoding: accept,
		RemoteAddr:     ctx.RemoteAddr().String(),
	})
	if !ok {
		return false
	}
	rh := &ctx.Response.Header
	rh.SetContentTypeBytes(valueJSON)
	rh.SetCanonical(headerVary, valueAcceptEncoding)
	if gzip {
		rh.SetCanonical(headerContentEncoding, valueGzip)
	}
	ctx.Response.SetBodyRaw(body) // cached bodies never change
	return true
}

// bridge answers ctx with the net/http handler.
func (s *Server) bridge(ctx *fasthttp.RequestCtx) {
	rctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := netHTTPRequest(rctx, ctx)
	if err != nil {
		writeProtocolError(ctx, http.StatusBadRequest, "Malformed request target")
		return
	}
	w := &responseWriter{ctx: ctx, header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			}
			abort(ctx)
		}
	}()
	s.handler.ServeHTTP(w, r)
	w.finish()
}

// abort drops ctx's connection without a response, as net/http does when
// a handler panics: the client cannot take a partial answer as complete.
func abort(ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(net.Conn) {}) // the connection is closed once this returns
}

// netHTTPRequest is ctx's request as net/http would give it to a handler,
// with its body streamed, under rctx.
func netHTTPRequest(rctx context.Context, ctx *fasthttp.RequestCtx) (*http.Request, error) {
	h := &ctx.Request.Header
	target := string(h.RequestURI())
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, err
	}
	r := (&http.Request{
		Method:     string(h.Method()),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, h.Len()),
		Host:       string(h.Host()),
		RemoteAddr: ctx.RemoteAddr().String(),
		RequestURI: target,
		TLS:        ctx.TLSConnectionState(),
		Body:       http.NoBody,
	}).WithContext(rctx)
	if !h.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	for k, v := range h.All() {
		switch name := string(k); name {
		case "Host":
		case "Transfer-Encoding":
			r.TransferEncoding = append(r.TransferEncoding, string(v))
		default:
			r.Header[name] = append(r.Header[name], string(v))
		}
	}
	switch n := h.ContentLength(); {
	case n > 0:
		r.ContentLength = int64(n)
	case n == -1: // chunked
		r.ContentLength = -1
	}
	if r.ContentLength != 0 {
		if stream := ctx.RequestBodyStream(); stream != nil {
			r.Body = io.NopCloser(stream)
		} else {
			r.Body = io.NopCloser(bytes.NewReader(ctx.Request.Body()))
		}
	}
	return r, nil
}

// responseWriter collects a handler's response and hands it to fasthttp
// when the handler returns. Every response of the API is a complete
// document of bounded size, so nothing is streamed.
type responseWriter struct {
	ctx    *fasthttp.RequestCtx
	header http.Header
	status int
	body   []byte
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

// SetReadDeadline moves the connection's read deadline, for
// http.ResponseController (long uploads push theirs back).
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	return w.ctx.Conn().SetReadDeadline(t)
}

// SetWriteDeadline is accepted for http.ResponseController; fasthttp sets
// the write deadline (WriteTimeout) when it writes the response.
func (w *responseWriter) SetWriteDeadline(time.Time) error { return nil }

// finish hands the response to fasthttp. The body's length is fasthttp's
// Content-Length; a HEAD response keeps the handler's.
func (w *responseWriter) finish() {
	res := &w.ctx.Response
	res.SetStatusCode(cmp.Or(w.status, http.StatusOK)) // 200 when the handler wrote nothing
	for k, vs := range w.header {
		switch k {
		case "Content-Length": // fasthttp's, below
		case "Connection":
			if slices.Contains(vs, "close") {
				res.SetConnectionClose()
			}
		default:
			for _, v := range vs {
				res.Header.Add(k, v)
			}
		}
	}
	res.SetBodyRaw(w.body)
	if w.ctx.IsHead() && len(w.body) == 0 {
		if n, err := strconv.Atoi(w.header.Get("Content-Length")); err == nil {
			res.Header.SetContentLength(n)
		}
	}
}

// protocolError answers a request fasthttp could not read (malformed,
// headers over MaxHeaderBytes, too slow) with a VT error, as the API
// answers every error.
func (s *Server) protocolError(ctx *fasthttp.RequestCtx, err error) {
	var tooLarge *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		writeProtocolError(ctx, http.StatusRequestHeaderFieldsTooLarge, "Request headers too large")
	case errors.As(err, &netErr) && netErr.Timeout():
		writeProtocolError(ctx, http.StatusRequestTimeout, "Request not received in time")
	default:
		writeProtocolError(ctx, http.StatusBadRequest, "Malformed HTTP request")
	}
	ctx.SetConnectionClose()
}

// writeProtocolError writes a VT BadRequestError with status.
func writeProtocolError(ctx *fasthttp.RequestCtx, status int, message string) {
	body, _ := json.Marshal(map[string]map[string]string{"error": {"code": "BadRequestError", "message": message}})
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// logger passes fasthttp's messages to slog.
type logger struct{ log *slog.Logger }

func (l logger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "component", "http")
}
