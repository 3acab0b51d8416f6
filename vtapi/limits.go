package vtapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/filetrail/filetrail"
)

// maxBodylessBytes bounds the body of a request to a route that reads
// none (every route but ingestion and uploads).
const maxBodylessBytes = 64 << 10

// bodyLimit is the largest body a request to path may carry.
func (s *server) bodyLimit(path string) int64 {
	switch {
	case path == ingestPath:
		return s.maxIngestBytes
	case s.uploads != nil && path == "/api/v3/files":
		return s.uploads.maxSmall + 64<<10 // multipart framing
	case s.uploads != nil && strings.HasPrefix(path, uploadsPrefix):
		return s.uploads.maxLarge + 64<<10
	}
	return maxBodylessBytes
}

// refuseLargeBody answers a request whose declared Content-Length is over
// its route's limit with 413 BadRequestError and closes the connection,
// before any authentication or reading, and reports whether it did. A body
// of unknown length is bounded as it is read instead (http.MaxBytesReader
// in the routes that read one; the others never read it).
func (s *server) refuseLargeBody(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength <= s.bodyLimit(r.URL.Path) {
		return false
	}
	w.Header().Set("Connection", "close")
	s.writeError(w, r, apiError{Status: http.StatusRequestEntityTooLarge, Code: filetrail.CodeBadRequest, Message: msgBodyTooLarge})
	return true
}

// closeOnError closes the connection after an error response to a
// request with a body: the server would otherwise read the rest of an
// unread body (up to 256 KiB, as slowly as the client sends it) before
// answering, to keep the connection alive.
type closeOnError struct{ http.ResponseWriter }

func (w closeOnError) WriteHeader(code int) {
	if code >= 400 {
		w.Header().Set("Connection", "close")
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w closeOnError) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// IsAdminPath reports whether a request path belongs to operations rather
// than to API clients: /admin and everything under /admin/, and /metrics.
// A server with a separate admin listener serves these paths there only.
func IsAdminPath(path string) bool {
	return path == "/admin" || strings.HasPrefix(path, "/admin/") || path == "/metrics"
}

// Only returns a handler that passes to h the requests whose (decoded)
// URL path keep accepts and answers the others with 404 NotFoundError in
// VT JSON, as h answers an unknown path.
func Only(h http.Handler, keep func(path string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !keep(r.URL.Path) {
			var s server // writeError uses no server state
			s.writeError(w, r, apiError{Status: http.StatusNotFound, Code: filetrail.CodeNotFound, Message: "Path " + strconv.Quote(truncate(r.URL.Path, 200)) + " not found"})
			return
		}
		h.ServeHTTP(w, r)
	})
}
