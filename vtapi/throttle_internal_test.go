package vtapi

import (
	"net/netip"
	"testing"
	"time"
)

// The throttle refuses an address once it has limit strikes in a window,
// until the window ends, and never another address.
func TestThrottleWindow(t *testing.T) {
	now := time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)
	th := newThrottle(3, time.Minute)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range 3 {
		if d := th.wait(a, now); d != 0 {
			t.Fatalf("after %d strikes: wait %v, want 0", i, d)
		}
		th.strike(a, now.Add(time.Duration(i)*time.Second))
	}
	if d := th.wait(a, now.Add(10*time.Second)); d != 50*time.Second {
		t.Fatalf("after 3 strikes: wait %v, want 50s (to the end of the window)", d)
	}
	if d := th.wait(b, now); d != 0 {
		t.Fatalf("other address: wait %v, want 0", d)
	}
	if d := th.wait(a, now.Add(time.Minute)); d != 0 {
		t.Fatalf("window over: wait %v, want 0", d)
	}
	th.strike(a, now.Add(time.Minute))
	if d := th.wait(a, now.Add(time.Minute)); d != 0 {
		t.Fatalf("one strike in a new window: wait %v, want 0", d)
	}
}

// The throttle's memory is bounded however many addresses strike.
func TestThrottleBounded(t *testing.T) {
	now := time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)
	th := newThrottle(1, time.Hour)
	for i := range maxThrottledClients + 500 {
		th.strike(addrN(i), now)
	}
	if n := len(th.clients); n > maxThrottledClients {
		t.Fatalf("%d addresses remembered, bound %d", n, maxThrottledClients)
	}
	if th.wait(addrN(maxThrottledClients+499), now) == 0 {
		t.Fatal("the latest address is not throttled")
	}
}

// Strikes count per IPv4 address and per IPv6 /64; an IPv4-mapped
// address is its IPv4 address.
func TestClientAddr(t *testing.T) {
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:4000", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:4000", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:4000", "2001:db8:1:2::"},
		{"[fe80::1%eth0]:4000", "fe80::"},
	} {
		a, ok := clientAddr(c.remote)
		if !ok || a.String() != c.want {
			t.Errorf("clientAddr(%s) = %v, %v; want %s", c.remote, a, ok, c.want)
		}
	}
	if _, ok := clientAddr("not an address"); ok {
		t.Error("an unparsable remote address gave a client address")
	}
}

// addrN is the i-th address of 10.0.0.0/8.
func addrN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}
