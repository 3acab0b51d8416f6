package ingest_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/filetrail/filetrail/ingest"
)

const (
	flashMD5  = "f41826e027bdc0d357a60a56dcdf50c8"
	flashSHA1 = "8af45f862cf4c74963053cd9e30b231634b5842c"
)

func TestSightingsFields(t *testing.T) {
	input := strings.Join([]string{
		`{"ip": "108.59.9.32", "url": "http://hnhmrkw.myftp.biz/781h9jb/?x", "md5": "` + strings.ToUpper(flashMD5) + `", "sha1": "` + flashSHA1 + `", "size": 230400, "filename": "flashplayer11_7r176151_415_win.exe", "mime": "application/x-dosexec", "seen_at": 1379288687, "source": "zeek"}`,
		`{"md5": "` + flashMD5 + `", "seen_at": "2013-09-15T23:44:47Z"}`,
		`{"ip": "::ffff:108.59.9.32", "md5": "` + flashMD5 + `", "seen_at": 1379288687.549319, "extra": {"ignored": true}}`,
		`{"ip": "", "md5": "` + flashMD5 + `", "seen_at": "2011-08-12T16:59:22.181050+02:00", "source": ""}`,
	}, "\n")
	c := read(t, "sightings", input, ingest.ReaderOptions{Source: "cli"})
	if len(c.rejects) != 0 {
		t.Fatalf("rejects %+v", c.rejects)
	}
	s := c.sightings()
	if len(s) != 4 {
		t.Fatalf("%d sightings", len(s))
	}
	first := s[0]
	if first.IP != netip.MustParseAddr("108.59.9.32") || first.URL != "http://hnhmrkw.myftp.biz/781h9jb/?x" || first.SHA1 != flashSHA1 ||
		first.Size != 230400 || first.FileName != "flashplayer11_7r176151_415_win.exe" || first.MIME != "application/x-dosexec" ||
		first.SeenAt != 1379288687 || first.Source != "zeek" {
		t.Errorf("first sighting %+v", first)
	}
	if first.MD5 != strings.ToUpper(flashMD5) {
		t.Errorf("the reader changed the md5 %q; normalising is validation's job", first.MD5)
	}
	if s[1].IP.IsValid() || s[1].Source != "cli" || s[1].SeenAt != time.Date(2013, 9, 15, 23, 44, 47, 0, time.UTC).Unix() {
		t.Errorf("second sighting %+v: want no IP, --source, RFC 3339 time", s[1])
	}
	if s[2].IP != netip.MustParseAddr("108.59.9.32") || s[2].SeenAt != 1379288687 {
		t.Errorf("third sighting %+v: want unmapped IP and truncated seconds", s[2])
	}
	if s[3].IP.IsValid() || s[3].SeenAt != time.Date(2011, 8, 12, 14, 59, 22, 0, time.UTC).Unix() || s[3].Source != "cli" {
		t.Errorf("fourth sighting %+v", s[3])
	}
	for i, r := range c.records {
		if r.Line != int64(i+1) {
			t.Errorf("record %d at line %d", i, r.Line)
		}
	}
}

// TestSightingsBadLines checks that bad lines are rejects with their line
// numbers and reasons and do not lose the good lines around them.
func TestSightingsBadLines(t *testing.T) {
	good := func(i int) string {
		return fmt.Sprintf(`{"ip": "74.207.254.18", "md5": "%s", "seen_at": %d}`, flashMD5, 1313161162+i)
	}
	input := strings.Join([]string{
		good(1),
		`{"ip": "74.207.254.18", "md5": "` + flashMD5 + `", "seen_at": 13131`, // cut
		good(2),
		``,
		`{"ip": "74.207.254", "md5": "` + flashMD5 + `", "seen_at": 1313161162}`,
		`{"ip": "74.207.254.18", "md5": "` + flashMD5 + `", "seen_at": "yesterday"}`,
		`{"ip": "74.207.254.18", "md5": "` + flashMD5 + `"}`,
		`{"ip": "74.207.254.18", "md5": "` + flashMD5 + `", "seen_at": 1313161162, "size": "big"}`,
		`["not", "an", "object"]`,
		`   `,
		good(3),
	}, "\n")
	c := read(t, "sightings", input, ingest.ReaderOptions{})
	var seen []int64
	for _, s := range c.sightings() {
		seen = append(seen, s.SeenAt)
	}
	if want := []int64{1313161163, 1313161164, 1313161165}; !slices.Equal(seen, want) {
		t.Errorf("good lines read: %v, want %v", seen, want)
	}
	if got, want := lines(c.rejects), []int64{2, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Errorf("reject lines %v, want %v", got, want)
	}
	want := []string{ingest.ReasonMalformedJSON, ingest.ReasonBadIP, ingest.ReasonBadSeenAt, ingest.ReasonBadSeenAt, ingest.ReasonBadField, ingest.ReasonNotObject}
	if got := reasons(c.rejects); !slices.Equal(got, want) {
		t.Errorf("reasons %q, want %q", got, want)
	}
	if !strings.Contains(c.rejects[1].Detail, `"74.207.254"`) || !strings.Contains(c.rejects[4].Detail, "size") {
		t.Errorf("details do not name the bad values: %q, %q", c.rejects[1].Detail, c.rejects[4].Detail)
	}
	if got := c.rejects[1].Text; !strings.HasPrefix(got, `{"ip": "74.207.254"`) {
		t.Errorf("reject text %q is not the line", got)
	}
}

// TestSightingsLongLines checks that a line of several megabytes is read,
// and that one beyond the limit is a reject that does not stop the reader.
func TestSightingsLongLines(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	input := strings.Join([]string{
		`{"md5": "` + flashMD5 + `", "seen_at": 1, "comment": "` + big + `"}`,
		`{"md5": "` + flashMD5 + `", "seen_at": 2, "comment": "` + big + big + `"}`,
		`{"md5": "` + flashMD5 + `", "seen_at": 3}`,
	}, "\n")
	c := read(t, "sightings", input, ingest.ReaderOptions{MaxLineBytes: 8 << 20})
	var seen []int64
	for _, s := range c.sightings() {
		seen = append(seen, s.SeenAt)
	}
	if !slices.Equal(seen, []int64{1, 3}) {
		t.Errorf("read seen_at %v, want [1 3]", seen)
	}
	if len(c.rejects) != 1 || c.rejects[0].Line != 2 || c.rejects[0].Reason != ingest.ReasonLineTooLong {
		t.Fatalf("rejects %+v, want line 2 too long", c.rejects)
	}
	if n := len(c.rejects[0].Text); n > ingest.MaxRejectText+3 {
		t.Errorf("reject keeps %d bytes of the line", n)
	}

	// The same through the VT reader's NDJSON mode.
	obj := `{"type": "file", "id": "` + strings.Repeat("a", 64) + `", "attributes": {"comment": "%s"}}`
	input = strings.Join([]string{fmt.Sprintf(obj, "short"), fmt.Sprintf(obj, big+big), fmt.Sprintf(obj, big)}, "\n")
	c = read(t, "vt", input, ingest.ReaderOptions{MaxLineBytes: 8 << 20})
	if len(c.files()) != 2 || len(c.rejects) != 1 || c.rejects[0].Line != 2 || c.rejects[0].Reason != ingest.ReasonLineTooLong {
		t.Errorf("vt NDJSON: %d facts, rejects %+v", len(c.files()), c.rejects)
	}
}
