package vtapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/filetrail/filetrail"
)

// statusByCode is the HTTP status of each error code (API.md §5). It is the
// one place where application error codes become statuses.
var statusByCode = map[filetrail.Code]int{
	filetrail.CodeBadRequest:             http.StatusBadRequest,
	filetrail.CodeInvalidArgument:        http.StatusBadRequest,
	filetrail.CodeAuthenticationRequired: http.StatusUnauthorized,
	filetrail.CodeWrongCredentials:       http.StatusUnauthorized,
	filetrail.CodeForbidden:              http.StatusForbidden,
	filetrail.CodeNotFound:               http.StatusNotFound,
	filetrail.CodeAlreadyExists:          http.StatusConflict,
	filetrail.CodeQuotaExceeded:          http.StatusTooManyRequests,
	filetrail.CodeTransient:              http.StatusServiceUnavailable,
	filetrail.CodeDeadlineExceeded:       http.StatusGatewayTimeout,
	filetrail.CodeInternal:               http.StatusInternalServerError,
}

// Messages of the errors the API raises itself.
const (
	msgNoKey         = "X-Apikey header is missing"
	msgWrongKey      = "Wrong API key"
	msgForbidden     = "You are not authorized to perform the requested operation"
	msgInternal      = "An internal error occurred"
	msgDeadline      = "The request took too long"
	msgCanceled      = "The request was canceled"
	msgBodyTooLarge  = "Request body too large"
	msgLimitTooLarge = "Limit can't be larger than 40"
)

// apiError is the error a client sees.
type apiError struct {
	Status  int
	Code    filetrail.Code
	Message string
	// Internal marks an error whose cause is hidden from the client and
	// must be logged.
	Internal bool
}

// toAPIError classifies any error of a request into the VT error sent
// back:
//   - a deadline in the error chain is 504 DeadlineExceededError, a
//     cancellation 503 TransientError;
//   - a body over its limit (*http.MaxBytesError) is 413 BadRequestError;
//   - an error carrying a code gets the status of statusByCode and its own
//     message, except that a Transient or internal error of a request whose
//     context has ended is reported as that end (504 or 503);
//   - anything else, and CodeInternal, is 500 InternalError with a generic
//     message (Internal is set so that the cause is logged).
func toAPIError(ctx context.Context, err error) apiError {
	deadline := apiError{Status: http.StatusGatewayTimeout, Code: filetrail.CodeDeadlineExceeded, Message: msgDeadline}
	canceled := apiError{Status: http.StatusServiceUnavailable, Code: filetrail.CodeTransient, Message: msgCanceled}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return deadline
	case errors.Is(err, context.Canceled):
		return canceled
	case errors.As(err, &tooLarge):
		return apiError{Status: http.StatusRequestEntityTooLarge, Code: filetrail.CodeBadRequest, Message: msgBodyTooLarge}
	}
	code := filetrail.ErrorCode(err)
	status, known := statusByCode[code]
	if !known || code == filetrail.CodeInternal || code == filetrail.CodeTransient {
		switch ctxErr := ctx.Err(); {
		case errors.Is(ctxErr, context.DeadlineExceeded):
			return deadline
		case ctxErr != nil:
			return canceled
		}
	}
	if !known || code == filetrail.CodeInternal {
		return apiError{Status: http.StatusInternalServerError, Code: filetrail.CodeInternal, Message: msgInternal, Internal: true}
	}
	return apiError{Status: status, Code: code, Message: filetrail.ErrorMessage(err)}
}

// quotaRefusal is the error of a request the key's quota refused. It
// unwraps to a QuotaExceededError and tells when to retry.
type quotaRefusal struct {
	err        *filetrail.Error
	retryAfter time.Duration
}

func newQuotaRefusal(a filetrail.Admission) *quotaRefusal {
	return &quotaRefusal{
		err:        filetrail.Errorf(filetrail.CodeQuotaExceeded, "Quota exceeded: the %s quota of this API key is used up", a.Window),
		retryAfter: a.RetryAfter,
	}
}

func (q *quotaRefusal) Error() string { return q.err.Error() }
func (q *quotaRefusal) Unwrap() error { return q.err }

// retryAfterSeconds is the Retry-After header value: whole seconds,
// rounded up, at least 1.
func (q *quotaRefusal) retryAfterSeconds() string {
	s := int64(math.Ceil(q.retryAfter.Seconds()))
	return strconv.FormatInt(max(s, 1), 10)
}

// fail answers a request with the VT error for err. Internal errors are
// logged with their cause (the client only sees a generic message), other
// server-side failures (503, 504) as warnings.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(r.Context(), err)
	switch {
	case e.Internal:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	case e.Status >= 500:
		s.log.WarnContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "error", err)
	}
	var refusal *quotaRefusal
	if errors.As(err, &refusal) {
		w.Header().Set("Retry-After", refusal.retryAfterSeconds())
	}
	s.writeError(w, r, e)
}

// writeError sends {"error":{"code":..,"message":..}} with the error's status.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, e apiError) {
	bd := getBody(acceptsGzip(r.Header.Values("Accept-Encoding")))
	defer putBody(bd)
	b := append(bd.b, `{"error":{"code":`...)
	b = appendString(b, string(e.Code))
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	bd.b = append(b, `}}`...)
	bd.send(w, e.Status)
}
