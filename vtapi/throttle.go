package vtapi

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/filetrail/filetrail"
)

// DefaultWrongKeyWindow is the window of Options.WrongKeyLimit when
// Options.WrongKeyWindow is 0.
const DefaultWrongKeyWindow = time.Minute

// maxThrottledClients bounds the client addresses the wrong-key throttle
// remembers at once.
const maxThrottledClients = 10000

// msgThrottled is the message of a request refused by the wrong-key
// throttle.
const msgThrottled = "Too many wrong API keys from this address: retry later"

// throttle counts the requests with a wrong or revoked key of each client
// address in fixed windows. Once an address has sent limit of them in one
// window, every request of it that needs a key is refused until the window
// ends, valid keys included: an attacker guessing keys learns nothing from
// its later guesses. It remembers at most maxThrottledClients addresses;
// past that, expired records are dropped first, then arbitrary ones.
type throttle struct {
	limit   int
	window  time.Duration
	mu      sync.Mutex
	clients map[netip.Addr]*strikes
}

// strikes are the wrong keys of one client address in its current window.
type strikes struct {
	n     int
	start time.Time
}

// newThrottle returns a throttle allowing limit wrong keys per window, or
// nil (no throttling) when limit is not positive.
func newThrottle(limit int, window time.Duration) *throttle {
	if limit <= 0 {
		return nil
	}
	if window <= 0 {
		window = DefaultWrongKeyWindow
	}
	return &throttle{limit: limit, window: window, clients: map[netip.Addr]*strikes{}}
}

// clientAddr is the address a request's wrong keys are counted against:
// the remote IP, and for IPv6 its /64 (one host usually holds a whole
// /64). ok is false when the remote address cannot be parsed.
func clientAddr(remoteAddr string) (addr netip.Addr, ok bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a, true
}

// wait returns how long the client at a must wait before a key of it is
// looked at again; 0 when it may send one now.
func (t *throttle) wait(a netip.Addr, now time.Time) time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.clients[a]
	if e == nil || e.n < t.limit {
		return 0
	}
	return max(e.start.Add(t.window).Sub(now), 0)
}

// strike records one wrong key of the client at a.
func (t *throttle) strike(a netip.Addr, now time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.clients[a]
	if e != nil && !now.Before(e.start.Add(t.window)) {
		e = nil // window over: start a new one
	}
	if e == nil {
		t.makeRoom(now)
		e = &strikes{start: now}
		t.clients[a] = e
	}
	e.n++
}

// makeRoom drops records until one more fits: expired ones first, then
// arbitrary ones. t.mu is held.
func (t *throttle) makeRoom(now time.Time) {
	if len(t.clients) < maxThrottledClients {
		return
	}
	for a, e := range t.clients {
		if !now.Before(e.start.Add(t.window)) {
			delete(t.clients, a)
		}
	}
	for a := range t.clients {
		if len(t.clients) < maxThrottledClients {
			break
		}
		delete(t.clients, a)
	}
}

// throttled returns a 429 QuotaExceededError (with its Retry-After) when
// the client of r has sent too many wrong keys, else nil.
func (s *server) throttled(r *http.Request) error {
	a, ok := clientAddr(r.RemoteAddr)
	if !ok {
		return nil
	}
	d := s.throttle.wait(a, s.now())
	if d <= 0 {
		return nil
	}
	s.metrics.quotaRefusals.WithLabelValues("wrong_key").Inc()
	return &quotaRefusal{err: filetrail.Errorf(filetrail.CodeQuotaExceeded, msgThrottled), retryAfter: d}
}

// strike counts a wrong or revoked key against the client of r.
func (s *server) strike(r *http.Request) {
	if a, ok := clientAddr(r.RemoteAddr); ok {
		s.throttle.strike(a, s.now())
	}
}
