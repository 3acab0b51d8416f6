package stitch

import (
	"bytes"
	stdgzip "compress/gzip"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	kpgzip "github.com/klauspost/compress/gzip"
)

func TestCombineMatchesCRCOfConcatenation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 2, 3, 7, 8, 255, 256, 4095, 65536, 1 << 20}
	for _, la := range lengths {
		for _, lb := range lengths {
			a, b := randomBytes(rng, la), randomBytes(rng, lb)
			want := crc32.ChecksumIEEE(append(append([]byte{}, a...), b...))
			got := Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(lb))
			if got != want {
				t.Fatalf("Combine for lengths %d+%d = %08x, want %08x", la, lb, got, want)
			}
		}
	}
}

// piece is one step of a member: a plain run or a document to fragment.
type piece struct {
	fragment bool
	data     []byte
}

// build stitches pieces into a member and returns it with the plain text
// it must decompress to.
func build(t testing.TB, pieces []piece) (member, plain []byte) {
	var w Writer
	w.Reset([]byte("prefix kept"))
	for _, p := range pieces {
		plain = append(plain, p.data...)
		if !p.fragment {
			w.Plain(p.data)
			continue
		}
		f, err := Parse(Compress(nil, p.data))
		if err != nil {
			t.Fatal(err)
		}
		if int(f.Size) != len(p.data) || f.CRC != crc32.ChecksumIEEE(p.data) {
			t.Fatalf("fragment header: size %d crc %08x, want %d %08x", f.Size, f.CRC, len(p.data), crc32.ChecksumIEEE(p.data))
		}
		w.Fragment(f)
	}
	out := w.Finish()
	if !bytes.HasPrefix(out, []byte("prefix kept")) {
		t.Fatalf("Reset lost the bytes before the member")
	}
	return out[len("prefix kept"):], plain
}

// decoders are the gzip readers the test runs in process; the vtapi tests
// add external ones (zlib through Python, curl, chromium).
var decoders = map[string]func(io.Reader) (io.Reader, error){
	"compress/gzip": func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) },
	"klauspost/compress/gzip": func(r io.Reader) (io.Reader, error) {
		return kpgzip.NewReader(r)
	},
}

func checkDecodes(t testing.TB, member, plain []byte) {
	t.Helper()
	for name, newReader := range decoders {
		zr, err := newReader(bytes.NewReader(member))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%s: decompressed %d bytes differ from the %d plain bytes", name, len(got), len(plain))
		}
	}
}

func TestMemberDecompressesToThePlainConcatenation(t *testing.T) {
	docs := realDocuments(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		var pieces []piece
		for range rng.IntN(12) {
			switch rng.IntN(4) {
			case 0:
				pieces = append(pieces, piece{fragment: true, data: docs[rng.IntN(len(docs))]})
			case 1:
				pieces = append(pieces, piece{fragment: true, data: randomBytes(rng, rng.IntN(3000))})
			case 2:
				pieces = append(pieces, piece{data: randomBytes(rng, rng.IntN(2*storedRunMax))})
			default:
				pieces = append(pieces, piece{data: bytes.Repeat([]byte(`{"a":1},`), rng.IntN(5000))})
			}
		}
		member, plain := build(t, pieces)
		checkDecodes(t, member, plain)
		if i == 0 {
			t.Logf("%d pieces: %d plain bytes, %d gzip bytes", len(pieces), len(plain), len(member))
		}
	}
}

func TestEmptyMember(t *testing.T) {
	member, plain := build(t, nil)
	checkDecodes(t, member, plain)
}

func TestFragmentsCompress(t *testing.T) {
	for _, doc := range realDocuments(t) {
		enc := Compress(nil, doc)
		if len(enc) >= len(doc)/2 {
			t.Errorf("a %d-byte VT report compressed to %d bytes: not compressed", len(doc), len(enc))
		}
	}
}

func TestParseRefusesShortInput(t *testing.T) {
	for _, enc := range [][]byte{nil, {1, 2, 3}, make([]byte, headerSize+len(syncFlush)-1)} {
		if _, err := Parse(enc); err != ErrCorrupt {
			t.Errorf("Parse(%d bytes) = %v, want ErrCorrupt", len(enc), err)
		}
	}
}

func FuzzMember(f *testing.F) {
	f.Add([]byte(`{"data":[`), []byte(`{"type":"file"}`), uint8(3))
	f.Fuzz(func(t *testing.T, run, doc []byte, shape uint8) {
		var pieces []piece
		for i := range 8 {
			pieces = append(pieces, piece{fragment: shape&(1<<i) != 0, data: [][]byte{run, doc}[i%2]})
		}
		member, plain := build(t, pieces)
		checkDecodes(t, member, plain)
	})
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(64) + ' ') // text-like, so it compresses somewhat
	}
	return b
}

// realDocuments returns the attributes of real VirusTotal reports from the
// project's test data: the documents stores fragment in production.
func realDocuments(t testing.TB) [][]byte {
	paths, err := filepath.Glob("../../testdata/vt-file-objects/[0-9a-f]*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no VT reports under testdata/vt-file-objects: %v", err)
	}
	var docs [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	return docs
}

func TestDecompressRoundTripsAndChecksTheHeader(t *testing.T) {
	for _, doc := range realDocuments(t) {
		enc := Compress(nil, doc)
		got, err := Decompress(enc)
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("Decompress(Compress(doc)) = %d bytes, %v; want the %d-byte doc", len(got), err, len(doc))
		}
		enc[0] ^= 1 // the CRC no longer matches
		if _, err := Decompress(enc); err != ErrCorrupt {
			t.Errorf("Decompress with a wrong CRC = %v, want ErrCorrupt", err)
		}
	}
}
