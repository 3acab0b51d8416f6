package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/filetrail/filetrail"
)

// Reasons under which the sensor readers skip a record that is well formed
// but is not evidence of a download from a server (Reject.Skip is set).
const (
	SkipUpload        = "upload"
	SkipErrorResponse = "error response"
	SkipPartial       = "partial file"
	SkipCertificate   = "certificate"
	SkipNoHash        = "no file hash"
	SkipNoURL         = "no download URL"
	SkipFailed        = "failed download"
	SkipUnknownSender = "unknown sender"
	SkipUnsupported   = "unsupported protocol"
)

// ErrStopped, as the cause of the cancellation of a reader's context
// (context.WithCancelCause), stops a joining reader after it has resolved
// the records it holds (without their partners), instead of dropping them
// as any other end of the context does. Records dropped that way are read
// again when ingestion resumes from a checkpoint taken before them.
var ErrStopped = errors.New("ingestion stopped")

// stopping reports whether a reader's error asks it to resolve what it
// holds before returning.
func stopping(ctx context.Context, err error) bool {
	return err != nil && errors.Is(context.Cause(ctx), ErrStopped)
}

// holder is implemented by sinks that keep track of the lines whose
// records a joining reader holds back (see Follow): Hold is called when
// the record read at line is queued to wait for its join partner, Release
// once it has been given to the sink (or skipped).
type holder interface {
	Hold(line int64)
	Release(line int64)
}

func hold(s Sink, line int64) {
	if h, ok := s.(holder); ok {
		h.Hold(line)
	}
}

func release(s Sink, line int64) {
	if h, ok := s.(holder); ok {
		h.Release(line)
	}
}

// skip builds the reject that counts a skipped record.
func skip(line int64, reason, detail string, raw []byte) Reject {
	r := newReject(line, reason, detail, raw)
	r.Skip = true
	return r
}

// hasHash reports whether any of the hashes is set.
func hasHash(hs ...string) bool {
	for _, h := range hs {
		if h != "" {
			return true
		}
	}
	return false
}

// downloadURL rebuilds an absolute URL from its parts: target as it is when
// it is already absolute, else scheme://host[:port]target, the port left
// out when it is the scheme's default. host defaults to the server address.
func downloadURL(scheme, host string, server netip.Addr, port int, target string) string {
	if u, err := url.Parse(target); err == nil && u.IsAbs() && u.Host != "" {
		return target
	}
	if host == "" {
		if !server.IsValid() {
			return ""
		}
		host = server.String()
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		if _, err := netip.ParseAddr(host); err == nil {
			host = "[" + host + "]" // an IPv6 literal
		}
	}
	if port > 0 && port != defaultPort(scheme) && !strings.Contains(strings.TrimPrefix(host, "["), "]:") && !hostHasPort(host) {
		host += ":" + strconv.Itoa(port)
	}
	if target != "" && !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	return scheme + "://" + host + target
}

// hostHasPort reports whether host (a name or a bracketed IPv6 literal)
// already names a port.
func hostHasPort(host string) bool {
	if strings.HasPrefix(host, "[") {
		return strings.Contains(host, "]:")
	}
	return strings.Contains(host, ":")
}

func defaultPort(scheme string) int {
	switch scheme {
	case "http":
		return 80
	case "https":
		return 443
	case "ftp":
		return 21
	}
	return 0
}

// urlHostIP returns the address a URL's host names when it is an IP
// literal; the zero Addr for a host name or an unparsable URL.
func urlHostIP(raw string) netip.Addr {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return netip.Addr{}
	}
	host := u.Hostname()
	if host == "" {
		return netip.Addr{}
	}
	ip, err := filetrail.ParseIP(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip
}

// parseAddr parses an address field of a log; the zero Addr when it is
// empty or not an address.
func parseAddr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	ip, err := filetrail.ParseIP(s)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// urlPathName is the last segment of a URL's path, a file name hint.
func urlPathName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	p := u.Path
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// joinHostPort formats an address and port for messages.
func joinHostPort(ip netip.Addr, port int) string {
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

// fifo is a bounded first-in first-out map: adding beyond its capacity
// drops the oldest entry. It keeps the lookup side of a streaming join.
type fifo[K comparable, V any] struct {
	max   int
	m     map[K]V
	order []K
	head  int
}

func newFIFO[K comparable, V any](max int) *fifo[K, V] {
	return &fifo[K, V]{max: max, m: map[K]V{}}
}

func (f *fifo[K, V]) get(k K) (V, bool) { v, ok := f.m[k]; return v, ok }

func (f *fifo[K, V]) put(k K, v V) {
	if _, ok := f.m[k]; ok {
		f.m[k] = v
		return
	}
	for len(f.m) >= f.max && f.head < len(f.order) {
		delete(f.m, f.order[f.head])
		var zero K
		f.order[f.head] = zero
		f.head++
	}
	f.m[k] = v
	f.order = append(f.order, k)
	if f.head > 1024 && f.head*2 > len(f.order) {
		f.order = append([]K(nil), f.order[f.head:]...)
		f.head = 0
	}
}

// pendingQueue holds records waiting for their join partner, in arrival
// order, at most max of them: the oldest is released unjoined when a new
// one would exceed the bound, so memory stays bounded whatever the input.
type pendingQueue[K comparable, V any] struct {
	max   int
	byKey map[K][]uint64
	items map[uint64]pendingItem[K, V]
	low   uint64 // no live item has a smaller sequence number
	next  uint64
}

type pendingItem[K comparable, V any] struct {
	key  K
	v    V
	line int64
}

func newPendingQueue[K comparable, V any](max int) *pendingQueue[K, V] {
	return &pendingQueue[K, V]{max: max, byKey: map[K][]uint64{}, items: map[uint64]pendingItem[K, V]{}}
}

// len is the number of queued records.
func (q *pendingQueue[K, V]) len() int { return len(q.items) }

// add queues v, read at line, under k; it returns the records released to
// make room.
func (q *pendingQueue[K, V]) add(k K, v V, line int64) []V {
	var out []V
	for len(q.items) >= q.max {
		old, ok := q.popOldest()
		if !ok {
			break
		}
		out = append(out, old)
	}
	q.byKey[k] = append(q.byKey[k], q.next)
	q.items[q.next] = pendingItem[K, V]{key: k, v: v, line: line}
	q.next++
	return out
}

// take removes and returns the records queued under k, oldest first.
func (q *pendingQueue[K, V]) take(k K) []V {
	seqs := q.byKey[k]
	if len(seqs) == 0 {
		return nil
	}
	delete(q.byKey, k)
	out := make([]V, 0, len(seqs))
	for _, n := range seqs {
		out = append(out, q.items[n].v)
		delete(q.items, n)
	}
	return out
}

func (q *pendingQueue[K, V]) popOldest() (V, bool) {
	var zero V
	for len(q.items) > 0 && q.low < q.next {
		it, ok := q.items[q.low]
		n := q.low
		q.low++
		if !ok {
			continue
		}
		delete(q.items, n)
		seqs := q.byKey[it.key]
		if len(seqs) <= 1 {
			delete(q.byKey, it.key)
		} else {
			q.byKey[it.key] = seqs[1:]
		}
		return it.v, true
	}
	return zero, false
}

// expire removes and returns the records read before line, oldest first.
func (q *pendingQueue[K, V]) expire(line int64) []V {
	var out []V
	for len(q.items) > 0 {
		for q.low < q.next {
			if _, ok := q.items[q.low]; ok {
				break
			}
			q.low++
		}
		if it, ok := q.items[q.low]; !ok || it.line >= line {
			return out
		}
		v, _ := q.popOldest()
		out = append(out, v)
	}
	return out
}

// drain removes and returns every queued record, oldest first.
func (q *pendingQueue[K, V]) drain() []V {
	var out []V
	for {
		v, ok := q.popOldest()
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

// eachLine calls fn with every non-blank line of r and its number; a line
// over the bound is a reject. It stops at the end of r, at fn's error, or
// when ctx ends.
func eachLine(ctx context.Context, r io.Reader, opts ReaderOptions, sink Sink, fn func(line []byte, num int64) error) error {
	lr := newLineReader(r, opts.maxLine(), max(opts.FirstLine, 1))
	for {
		line, num, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if tooLong {
			sink.Reject(newReject(num, ReasonLineTooLong, fmt.Sprintf("line longer than %d bytes", lr.max), line))
			continue
		}
		if isBlank(line) {
			continue
		}
		if err := fn(line, num); err != nil {
			return err
		}
	}
}

// parseLogTime reads an ISO 8601 timestamp as sensors write it: RFC 3339,
// or with a numeric offset without a colon (+0200), fraction optional.
func parseLogTime(s string) (int64, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("timestamp %q is not an ISO 8601 time", s)
}
