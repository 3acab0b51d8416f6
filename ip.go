package filetrail

import (
	"net/netip"
	"strings"
)

// ParseIP parses an IP address as it appears in an API path or a log and
// returns it in canonical form: IPv4-mapped IPv6 becomes IPv4, zones are
// refused. Its String method gives the canonical text (dotted quad, or RFC
// 5952 lower-case compressed IPv6), which is the IP object's id.
// A bad value gives an InvalidArgument error that names it.
func ParseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, Errorf(CodeInvalidArgument, "%q is not a valid IP address", s)
	}
	return a.Unmap(), nil
}
