package vtapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/filetrail/filetrail"
)

// IngestFunc ingests one pushed input: body in the named format ("auto"
// or empty to detect it) with source naming records that name none. It
// returns a JSON-marshalable summary of what it did. A bad format name is
// an error with code InvalidArgument; a read error of body is returned as
// it is (in its chain), so that a body over the size limit becomes 413.
type IngestFunc func(ctx context.Context, format, source string, body io.Reader) (any, error)

// DefaultMaxIngestBytes bounds a POST /admin/v1/ingest body when
// Options.MaxIngestBytes is 0.
const DefaultMaxIngestBytes = 1 << 30

// DefaultIngestTimeout bounds a POST /admin/v1/ingest request when
// Options.IngestTimeout is 0.
const DefaultIngestTimeout = 30 * time.Minute

// ingestPath is the route of pushed evidence.
const ingestPath = "/admin/v1/ingest"

// ingestHandler answers POST /admin/v1/ingest?format=F&source=NAME: an
// admin key is required (401 without a valid key, 403 for a non-admin
// one), the body is streamed to the Ingest hook (never held in memory)
// and bounded by MaxIngestBytes (413 past it; records read before the
// limit may already be applied, and ingesting again is harmless), and the
// hook's summary is answered as JSON with 200. Without a hook the route
// is 404. The request's own deadline is IngestTimeout, not the API's
// RequestTimeout, and the server's read and write deadlines are pushed
// back to it.
func (s *server) ingestHandler(w http.ResponseWriter, r *http.Request) {
	if s.ingest == nil {
		s.fail(w, r, filetrail.Errorf(filetrail.CodeNotFound, "Path %q not found", ingestPath))
		return
	}
	r, key, cancel, ok := s.beginAdminPost(w, r, s.ingestTimeout)
	if !ok {
		return
	}
	defer cancel()
	ctx := r.Context()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.fail(w, r, filetrail.Errorf(filetrail.CodeBadRequest, "Malformed query string: %v", err))
		return
	}
	format, source := q.Get("format"), q.Get("source")
	if len(source) > filetrail.MaxSourceLength {
		s.fail(w, r, filetrail.Errorf(filetrail.CodeInvalidArgument, "source longer than %d bytes", filetrail.MaxSourceLength))
		return
	}
	if err := s.admit(ctx, key); err != nil {
		s.fail(w, r, err)
		return
	}
	sum, err := s.ingest(ctx, format, source, longBody(w, r, s.maxIngestBytes))
	s.writesDone() // some batches may be stored even when the request failed
	if err != nil {
		s.failBody(w, r, err)
		return
	}
	b, err := json.Marshal(sum)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, b)
}

// beginAdminPost checks that r is a POST by a valid admin key (400 for
// another method, 401 without a valid key, 403 for a non-admin one) and
// returns r with a deadline of timeout, the key, and the deadline's cancel,
// which the caller must call. When ok is false the client has been answered.
func (s *server) beginAdminPost(w http.ResponseWriter, r *http.Request, timeout time.Duration) (_ *http.Request, key filetrail.Key, cancel context.CancelFunc, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.fail(w, r, filetrail.Errorf(filetrail.CodeBadRequest, "Method %s is not allowed here: use POST", truncate(r.Method, 20)))
		return r, key, nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	r = r.WithContext(ctx)
	key, err := s.authenticate(ctx, r)
	if err == nil && !key.Admin {
		err = filetrail.Errorf(filetrail.CodeForbidden, msgForbidden)
	}
	if err != nil {
		cancel()
		s.fail(w, r, err)
		return r, key, nil, false
	}
	return r, key, cancel, true
}

// longBody returns r's body bounded to limit bytes, for a handler that may
// spend the whole of its request's deadline reading it: the connection's
// read deadline is pushed back to the request's deadline and its write
// deadline to ten seconds after it (where the writer supports it).
func longBody(w http.ResponseWriter, r *http.Request, limit int64) io.ReadCloser {
	deadline, _ := r.Context().Deadline()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(deadline) // not every writer supports it
	_ = rc.SetWriteDeadline(deadline.Add(10 * time.Second))
	return http.MaxBytesReader(w, r.Body, limit)
}

// failBody answers err, met while reading a body from longBody; a body over
// its limit also closes the connection, whose rest is not read.
func (s *server) failBody(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		w.Header().Set("Connection", "close")
	}
	s.fail(w, r, err)
}
