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
