package ingest

import (
	"net/netip"
	"testing"
)

func TestDownloadURL(t *testing.T) {
	v4 := netip.MustParseAddr("198.51.100.7")
	v6 := netip.MustParseAddr("2001:db8::7")
	for _, tc := range []struct {
		scheme, host string
		server       netip.Addr
		port         int
		target, want string
	}{
		{"http", "a.example.test", v4, 80, "/x?y=1", "http://a.example.test/x?y=1"},
		{"http", "a.example.test", v4, 8080, "/x", "http://a.example.test:8080/x"},
		{"http", "a.example.test:8081", v4, 8081, "/x", "http://a.example.test:8081/x"},
		{"http", "", v4, 80, "/x", "http://198.51.100.7/x"},
		{"http", "", v6, 8000, "/x", "http://[2001:db8::7]:8000/x"},
		{"http", "2001:db8::7", v6, 80, "/x", "http://[2001:db8::7]/x"},
		{"http", "[2001:db8::7]:81", v6, 81, "/x", "http://[2001:db8::7]:81/x"},
		{"http", "proxy.test", v4, 3128, "http://files.example.test/x.zip", "http://files.example.test/x.zip"},
		{"ftp", "", v4, 0, "pub/a.bin", "ftp://198.51.100.7/pub/a.bin"},
		{"ftp", "", v4, 0, "ftp://198.51.100.7/pub/a.bin", "ftp://198.51.100.7/pub/a.bin"},
		{"http", "", netip.Addr{}, 80, "/x", ""},
	} {
		if got := downloadURL(tc.scheme, tc.host, tc.server, tc.port, tc.target); got != tc.want {
			t.Errorf("downloadURL(%q, %q, %v, %d, %q) = %q, want %q", tc.scheme, tc.host, tc.server, tc.port, tc.target, got, tc.want)
		}
	}
}

func TestURLHostIP(t *testing.T) {
	for in, want := range map[string]string{
		"http://94.156.68.152/ah":         "94.156.68.152",
		"http://[2001:db8::1]:8080/x":     "2001:db8::1",
		"http://[::ffff:192.0.2.1]/x":     "192.0.2.1",
		"http://evil.example.test/x":      "",
		"/tmp/local.sh":                   "",
		"http://0x5e.0x9c.0x44.0x98/ah":   "",
		"https://203.0.113.50:8443/a?b=c": "203.0.113.50",
	} {
		got := ""
		if ip := urlHostIP(in); ip.IsValid() {
			got = ip.String()
		}
		if got != want {
			t.Errorf("urlHostIP(%q) = %q, want %q", in, got, want)
		}
	}
}
