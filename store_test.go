package filetrail

import (
	"net/netip"
	"testing"
)

func TestPageRequestCheck(t *testing.T) {
	files := &Cursor{Kind: CursorFiles, ID: "d41d8cd98f00b204e9800998ecf8427e"}
	if err := (PageRequest{Limit: 1, After: files}).Check(CursorFiles); err != nil {
		t.Errorf("valid request: %v", err)
	}
	for name, req := range map[string]PageRequest{
		"zero limit":     {Limit: 0},
		"limit too high": {Limit: MaxPageLimit + 1},
		"foreign cursor": {Limit: 10, After: files},
	} {
		if err := req.Check(CursorIPs); ErrorCode(err) != CodeInvalidArgument {
			t.Errorf("%s: error = %v, want InvalidArgumentError", name, err)
		}
	}
}

func TestIPKey(t *testing.T) {
	key, err := IPKey(netip.MustParseAddr("::ffff:192.0.2.1"))
	if err != nil || key != "192.0.2.1" {
		t.Errorf("IPKey(mapped) = %q, %v", key, err)
	}
	if _, err := IPKey(netip.Addr{}); ErrorCode(err) != CodeInvalidArgument {
		t.Errorf("IPKey(zero) error = %v", err)
	}
}
