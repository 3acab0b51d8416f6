package magic

import (
	"os"
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	pe, err := os.ReadFile("../../testdata/binaries/gcc-386-mingw-exec")
	if err != nil {
		t.Fatal(err)
	}
	elf, err := os.ReadFile("../../testdata/binaries/gcc-amd64-linux-exec")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data         []byte
		descPrefix   string
		mime         string
		descContains string
	}{
		{pe, "PE32 executable (console) Intel 80386", "application/vnd.microsoft.portable-executable", ""},
		// From a descriptor libmagic reports the ELF interpreter.
		{elf, "ELF 64-bit LSB executable, x86-64", "application/x-executable", "interpreter"},
		{[]byte("hello, plain words\n"), "ASCII text", "text/plain", ""},
	} {
		r, err := Bytes(tc.data, All)
		if err != nil {
			t.Fatal(err)
		}
		// Each answer alone is the same as with the other.
		d, err := Bytes(tc.data, Description)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Bytes(tc.data, MIME)
		if err != nil {
			t.Fatal(err)
		}
		if d != (Result{Description: r.Description}) || m != (Result{MIME: r.MIME}) {
			t.Errorf("alone: %+v and %+v, together %+v", d, m, r)
		}
		if !strings.HasPrefix(r.Description, tc.descPrefix) || !strings.Contains(r.Description, tc.descContains) {
			t.Errorf("description %q, want prefix %q containing %q", r.Description, tc.descPrefix, tc.descContains)
		}
		if r.MIME != tc.mime {
			t.Errorf("MIME %q, want %q", r.MIME, tc.mime)
		}
	}
}
