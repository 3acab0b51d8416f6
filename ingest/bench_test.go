package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/filetrail/filetrail/ingest"
)

// BenchmarkVTPage measures the VT reader on a pretty page of the real
// reports repeated, without a store.
func BenchmarkVTPage(b *testing.B) {
	reps := loadReports(b)
	var buf bytes.Buffer
	buf.WriteString("{\n  \"data\": [\n")
	for i := 0; i < 200; i++ {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.Write(reps[i%4].object)
	}
	buf.WriteString("\n  ]\n}\n")
	f, _ := ingest.LookupFormat("vt")
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		sink := &progressSink{in: &countingReader{}}
		if err := f.NewReader(ingest.ReaderOptions{}).Read(context.Background(), bytes.NewReader(buf.Bytes()), sink); err != nil || sink.records != 200 {
			b.Fatal(err, sink.records)
		}
	}
}

// BenchmarkSightings measures the sightings reader without a store.
func BenchmarkSightings(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; i < 10000; i++ {
		fmt.Fprintln(&buf, sightingLine(i+1, "108.59.9.32"))
	}
	f, _ := ingest.LookupFormat("sightings")
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		sink := &progressSink{in: &countingReader{}}
		if err := f.NewReader(ingest.ReaderOptions{}).Read(context.Background(), bytes.NewReader(buf.Bytes()), sink); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSuricata measures the Suricata EVE reader without a store on a
// log of fileinfo events, each with its http event before it, among alert
// and flow events.
func BenchmarkSuricata(b *testing.B) {
	var buf bytes.Buffer
	lines := 0
	for _, l := range eveLines(0, 5000) {
		fmt.Fprintln(&buf, l)
		fmt.Fprintf(&buf, `{"timestamp":"2024-01-01T00:00:00Z","flow_id":%d,"event_type":"flow","src_ip":"10.0.0.1","src_port":40000,"dest_ip":"198.51.100.1","dest_port":80,"proto":"TCP","app_proto":"http","flow":{"pkts_toserver":5,"pkts_toclient":7,"bytes_toserver":600,"bytes_toclient":9000,"start":"2024-01-01T00:00:00Z","end":"2024-01-01T00:00:01Z","age":1,"state":"closed","reason":"timeout","alerted":false}}`+"\n", lines)
		lines += 2
	}
	f, _ := ingest.LookupFormat("suricata")
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		sink := &progressSink{in: &countingReader{}}
		if err := f.NewReader(ingest.ReaderOptions{}).Read(context.Background(), bytes.NewReader(buf.Bytes()), sink); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
