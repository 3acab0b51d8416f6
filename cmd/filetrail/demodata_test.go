package main

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// demoSighting is one line of testdata/demo/sightings.ndjson, seen_at kept
// as written.
type demoSighting struct {
	IP       string          `json:"ip"`
	URL      string          `json:"url"`
	SHA256   string          `json:"sha256"`
	SHA1     string          `json:"sha1"`
	MD5      string          `json:"md5"`
	Size     int64           `json:"size"`
	FileName string          `json:"filename"`
	MIME     string          `json:"mime"`
	SeenAt   json.RawMessage `json:"seen_at"`
	Source   string          `json:"source"`
}

func readDemoSightings(t *testing.T) []demoSighting {
	t.Helper()
	f, err := os.Open("../../testdata/demo/sightings.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []demoSighting
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s demoSighting
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDemoSightingsMatchLogs checks that every demo sighting is copied
// field by field from the real sensor logs in testdata: no invented edge,
// no invented value (derivation in testdata/SOURCES.md).
func TestDemoSightingsMatchLogs(t *testing.T) {
	files := readZeek(t, "../../testdata/zeek/zat-tsv-2013/files.log")
	httpLog := readZeek(t, "../../testdata/zeek/zat-tsv-2013/http.log")
	var eve []map[string]any
	eveBytes, err := os.ReadFile("../../testdata/suricata/ctu13-eve-excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(eveBytes)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		eve = append(eve, ev)
	}

	sightings := readDemoSightings(t)
	zeekFuids := map[string]bool{}
	for i, s := range sightings {
		switch s.Source {
		case "zeek":
			ts := string(s.SeenAt)
			j := slices.IndexFunc(files, func(r map[string]string) bool { return r["md5"] == s.MD5 && r["ts"] == ts })
			if j < 0 {
				t.Errorf("line %d: no files.log row with md5 %s and ts %s", i+1, s.MD5, ts)
				continue
			}
			f := files[j]
			zeekFuids[f["fuid"]] = true
			name := s.FileName
			if name == "" {
				name = "-"
			}
			if f["tx_hosts"] != s.IP || f["sha1"] != s.SHA1 || f["mime_type"] != s.MIME || f["filename"] != name || f["seen_bytes"] != strconv.FormatInt(s.Size, 10) || f["missing_bytes"] != "0" || s.SHA256 != "" {
				t.Errorf("line %d differs from files.log row %v", i+1, f)
			}
			k := slices.IndexFunc(httpLog, func(r map[string]string) bool {
				return slices.Contains(strings.Split(r["resp_fuids"], ","), f["fuid"])
			})
			if k < 0 {
				t.Errorf("line %d: no http.log row carries fuid %s", i+1, f["fuid"])
				continue
			}
			h := httpLog[k]
			if h["uid"] != f["conn_uids"] || h["id.resp_h"] != s.IP || "http://"+h["host"]+h["uri"] != s.URL || h["response_body_len"] != strconv.FormatInt(s.Size, 10) {
				t.Errorf("line %d differs from http.log row %v", i+1, h)
			}
		case "suricata":
			j := slices.IndexFunc(eve, func(ev map[string]any) bool {
				fi, _ := ev["fileinfo"].(map[string]any)
				return ev["event_type"] == "fileinfo" && fi["sha256"] == s.SHA256
			})
			if j < 0 {
				t.Errorf("line %d: no fileinfo event with sha256 %s", i+1, s.SHA256)
				continue
			}
			ev := eve[j]
			fi := ev["fileinfo"].(map[string]any)
			h := ev["http"].(map[string]any)
			if ev["src_ip"] != s.IP || ev["src_port"] != float64(80) || "http://"+h["hostname"].(string)+h["url"].(string) != s.URL ||
				fi["md5"] != s.MD5 || fi["sha1"] != s.SHA1 || fi["size"] != float64(s.Size) || h["http_content_type"] != s.MIME {
				t.Errorf("line %d differs from the fileinfo event %v", i+1, ev)
			}
			logged, err := time.Parse("2006-01-02T15:04:05.999999-0700", ev["timestamp"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var written string
			if err := json.Unmarshal(s.SeenAt, &written); err != nil {
				t.Fatalf("line %d: seen_at %s: %v", i+1, s.SeenAt, err)
			}
			if w, err := time.Parse(time.RFC3339Nano, written); err != nil || !w.Equal(logged) {
				t.Errorf("line %d: seen_at %s is not the event's timestamp %s", i+1, written, logged)
			}
		default:
			t.Errorf("line %d: unknown source %q", i+1, s.Source)
		}
	}
	// Every file the logs show 108.59.9.32 sending is in the demo.
	for _, f := range files {
		if f["tx_hosts"] == "108.59.9.32" && !zeekFuids[f["fuid"]] {
			t.Errorf("files.log row %s (108.59.9.32) missing from the demo", f["fuid"])
		}
	}
	if len(zeekFuids) != 7 {
		t.Errorf("%d Zeek files in the demo, want the 7 from 108.59.9.32", len(zeekFuids))
	}
}
