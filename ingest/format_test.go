package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/filetrail/filetrail/ingest"
)

func TestDetectFormat(t *testing.T) {
	reps := loadReports(t)
	for name, tc := range map[string]struct{ head, want string }{
		"pretty GET body":      {string(reps[0].body), "vt"},
		"compact GET body":     {compact(t, reps[0].body), "vt"},
		"bare object":          {"\n\n" + string(reps[1].object), "vt"},
		"page":                 {`{"data": [` + string(reps[2].object) + `]}`, "vt"},
		"error body":           {`{"error": {"code": "NotFoundError", "message": "x"}}`, "vt"},
		"attributes first":     {`{"attributes": {"md5": "` + reps[0].md5 + `"}, "type": "file"}`, "vt"},
		"cut head":             {string(reps[3].body)[:200], "vt"},
		"sighting":             {`{"ip": "108.59.9.32", "url": "http://x/", "md5": "` + flashMD5 + `", "seen_at": 1}` + "\n" + `{"md5": "`, "sightings"},
		"sighting, hash later": {`{"source": "zeek", "url": "http://x/", "filename": "a", "sha1": "` + flashSHA1 + `"}`, "sightings"},
		"zeek tsv":             {"#separator \\x09\n#set_separator\t,\n", "zeek"},
		"zeek json":            {`{"_path":"files","ts":1379288667.69,"fuid":"F1","md5":"` + flashMD5 + `"}`, "zeek"},
		"zeek json, no path":   {`{"ts":1379288667.69,"uid":"C1","id.orig_h":"10.0.0.1","method":"GET"}`, "zeek"},
		"suricata eve":         {`{"timestamp":"2011-08-12T16:59:22.181050+0200","flow_id":1,"event_type":"fileinfo","src_ip":"74.207.254.18"}`, "suricata"},
		"cowrie":               {`{"eventid":"cowrie.session.connect","src_ip":"1.2.3.4","timestamp":"2021-01-01T00:00:00.000000Z"}`, "cowrie"},
		"urlhaus comments":     {"################\n# abuse.ch URLhaus Database Dump (CSV - payloads) #\n", "urlhaus"},
		"urlhaus rows":         {`"2019-05-22 07:34:13","http://1.2.3.4/x","exe","` + flashMD5 + `","",""` + "\n", "urlhaus"},
	} {
		f, err := ingest.DetectFormat([]byte(tc.head))
		if err != nil || f.Name != tc.want {
			t.Errorf("%s: detected %q, %v; want %q", name, f.Name, err, tc.want)
		}
	}
	for name, head := range map[string]string{
		"csv":        "a,b,c\n1,2,3\n",
		"other json": `{"timestamp":"2011-08-12T16:59:22.181050+0200","flow_id":1}`,
		"array":      `[{"md5": "` + flashMD5 + `"}]`,
		"text":       "hello",
	} {
		if f, err := ingest.DetectFormat([]byte(head)); !errors.Is(err, ingest.ErrUnknownFormat) {
			t.Errorf("%s: detected %q, %v; want ErrUnknownFormat", name, f.Name, err)
		}
	}
}

// TestRunAuto checks that Run detects each input's format and that empty
// inputs and unknown formats are handled.
func TestRunAuto(t *testing.T) {
	reps := loadReports(t)
	ctx := context.Background()
	rec := &batchRecorder{}
	w := ingest.NewWriter(rec, ingest.WriterOptions{})
	inputs := []ingest.Input{
		{Name: "report.json", R: strings.NewReader(string(reps[0].body))},
		{Name: "s.ndjson", R: strings.NewReader(sightingLine(1, "74.207.254.18") + "\n" + sightingLine(2, "74.207.254.18"))},
		{Name: "empty", R: strings.NewReader("\n  \n")},
	}
	for _, in := range inputs {
		if err := ingest.Run(ctx, w, in, ingest.AutoFormat, ingest.ReaderOptions{}); err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := w.Summary(); s.FileFacts != 1 || s.Sightings != 2 || s.Rejected != 0 {
		t.Errorf("summary %+v", s)
	}
	err := ingest.Run(ctx, w, ingest.Input{Name: "conn.log", R: strings.NewReader("ts,uid\n1,C1\n")}, ingest.AutoFormat, ingest.ReaderOptions{})
	if !errors.Is(err, ingest.ErrUnknownFormat) || !strings.Contains(err.Error(), "conn.log") {
		t.Errorf("unknown format error %v", err)
	}
	if err := ingest.Run(ctx, w, ingest.Input{Name: "x", R: strings.NewReader("{}")}, "nosuch", ingest.ReaderOptions{}); err == nil {
		t.Error("an unknown format name was accepted")
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progressSink counts records and notes how much input had been read when
// the first record arrived.
type progressSink struct {
	in        *countingReader
	records   int
	rejects   int
	readFirst int64
}

func (p *progressSink) Record(context.Context, ingest.Record) error {
	if p.records == 0 {
		p.readFirst = p.in.n
	}
	p.records++
	return nil
}

func (p *progressSink) Reject(ingest.Reject) { p.rejects++ }

// generated returns a reader of a large input made on the fly: head, then
// n items made by item joined by sep, then tail.
func generated(head string, n int, item func(int) string, sep, tail string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		var err error
		_, err = io.WriteString(pw, head)
		for i := 0; i < n && err == nil; i++ {
			if i > 0 {
				_, err = io.WriteString(pw, sep)
			}
			if err == nil {
				_, err = io.WriteString(pw, item(i))
			}
		}
		if err == nil {
			_, err = io.WriteString(pw, tail)
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// TestStreaming checks that a large single page document and a large NDJSON
// input are read as streams: records come out long before the input has
// been read, so memory does not grow with the input.
func TestStreaming(t *testing.T) {
	const n = 40000
	for _, tc := range []struct {
		name, format    string
		head, sep, tail string
		item            func(int) string
	}{
		{"pretty page", "vt", "{\n  \"data\": [\n", ",\n", "\n  ],\n  \"links\": {\"self\": \"https://h.test/api/v3/files\"}\n}\n",
			func(i int) string {
				return fmt.Sprintf("    {\n      \"type\": \"file\",\n      \"id\": \"%064x\",\n      \"attributes\": {\"size\": %d}\n    }", i+1, i)
			}},
		{"NDJSON sightings", "sightings", "", "\n", "\n",
			func(i int) string { return sightingLine(i+1, "108.59.9.32") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &countingReader{r: generated(tc.head, n, tc.item, tc.sep, tc.tail)}
			f, err := ingest.LookupFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			sink := &progressSink{in: in}
			if err := f.NewReader(ingest.ReaderOptions{}).Read(context.Background(), in, sink); err != nil {
				t.Fatal(err)
			}
			if sink.records != n || sink.rejects != 0 {
				t.Fatalf("%d records, %d rejects; want %d, 0", sink.records, sink.rejects, n)
			}
			// The total is several megabytes; the first record must come
			// after at most a buffer or two.
			if sink.readFirst > 1<<20 || in.n < 3<<20 {
				t.Errorf("first record after %d of %d bytes: the input was not streamed", sink.readFirst, in.n)
			}
		})
	}
}
