package analyze_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain removes the corpus built for the golden tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if corpusDir != "" {
		os.RemoveAll(corpusDir)
	}
	os.Exit(code)
}

// inCI reports whether the tests run in CI, where the reference tools are
// installed and a missing one is a failure, not a skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// needTool returns the path of a reference tool; outside CI a missing tool
// skips the test (loudly), in CI it fails it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("reference tool %s is not installed (CI installs it)", name)
		}
		t.Skipf("SKIPPED: reference tool %s is not installed; install the Debian packages listed in docs/ANALYSIS.md", name)
	}
	return p
}

// corpusFile is one binary of the golden corpus.
type corpusFile struct {
	Path   string
	Name   string // stable label
	Signed bool
}

var (
	corpusOnce  sync.Once
	corpusFiles []corpusFile
	corpusDir   string
	corpusNotes []string
)

// corpus returns the golden corpus: the project's testdata binaries, the
// Go toolchain's debug/pe and debug/elf test binaries, Windows programs
// built with the Go toolchain, and (when the MinGW cross-compiler is
// installed) MinGW-built EXE/DLL with a version resource, ordinal imports
// and exports, plus osslsigncode-signed copies signed with a throw-away key.
func corpus(t *testing.T) []corpusFile {
	t.Helper()
	corpusOnce.Do(func() {
		dir, err := os.MkdirTemp("", "analyze-corpus-")
		if err != nil {
			t.Fatal(err)
		}
		corpusDir = dir
		add := func(path, name string, signed bool) {
			corpusFiles = append(corpusFiles, corpusFile{Path: path, Name: name, Signed: signed})
		}
		own, _ := filepath.Glob("../testdata/binaries/*")
		for _, p := range own {
			add(p, "testdata/"+filepath.Base(p), false)
		}
		goroot := runtime.GOROOT()
		for _, sub := range []string{"pe", "elf"} {
			ps, _ := filepath.Glob(filepath.Join(goroot, "src", "debug", sub, "testdata", "*"))
			for _, p := range ps {
				if strings.HasSuffix(p, ".c") || strings.HasSuffix(p, ".gz") {
					continue
				}
				add(p, "goroot/"+sub+"/"+filepath.Base(p), false)
			}
		}
		for _, arch := range []string{"amd64", "386", "arm64"} {
			out := filepath.Join(dir, "go-windows-"+arch+".exe")
			if err := buildGoWindows(dir, arch, out); err != nil {
				corpusNotes = append(corpusNotes, "go build windows/"+arch+": "+err.Error())
				continue
			}
			add(out, "built/go-windows-"+arch+".exe", false)
		}
		built := buildMinGW(dir)
		for _, p := range built {
			add(p, "built/"+filepath.Base(p), false)
		}
		for _, p := range signCopies(dir, append(built, filepath.Join(dir, "go-windows-amd64.exe"))) {
			add(p, "built/"+filepath.Base(p), true)
		}
	})
	if len(corpusFiles) == 0 {
		t.Fatal("empty corpus")
	}
	for _, n := range corpusNotes {
		if inCI() {
			// CI installs MinGW and osslsigncode: a smaller corpus there
			// would hide regressions.
			t.Fatal("corpus:", n)
		}
		t.Log("corpus (SKIPPED part):", n)
	}
	return corpusFiles
}

func run(dir string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &toolError{name: name, err: err, out: string(out)}
	}
	return nil
}

type toolError struct {
	name, out string
	err       error
}

func (e *toolError) Error() string { return e.name + ": " + e.err.Error() + ": " + e.out }

const goHello = `package main

import "fmt"

func main() { fmt.Println("hello from the analysis corpus") }
`

func buildGoWindows(dir, arch, out string) error {
	src := filepath.Join(dir, "gohello")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(goHello), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module gohello\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return &toolError{name: "go build", err: err, out: string(b)}
	}
	return nil
}

const mingwMain = `#include <windows.h>
#include <stdio.h>
extern int byord3(unsigned long long);
int main(void) {
	if (IsDebuggerPresent()) { byord3(0); return 2; }
	OutputDebugStringA("corpus");
	printf("hello\n");
	return 0;
}
`

const mingwDLL = `#include <windows.h>
__declspec(dllexport) int ft_add(int a, int b) { return a + b; }
__declspec(dllexport) int ft_mul(int a, int b) { return a * b; }
__declspec(dllexport) const char *ft_name(void) { return "filetrail"; }
BOOL WINAPI DllMain(HINSTANCE h, DWORD r, LPVOID p) { return TRUE; }
`

const mingwRC = `1 VERSIONINFO
FILEVERSION 1,2,3,4
PRODUCTVERSION 1,2,0,0
FILEFLAGSMASK 0x3f
FILEFLAGS 0x2
FILEOS 0x40004
FILETYPE %d
FILESUBTYPE 0
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "filetrail test corpus"
      VALUE "FileDescription", "golden test sample"
      VALUE "FileVersion", "1.2.3.4"
      VALUE "InternalName", "%s"
      VALUE "LegalCopyright", "public domain"
      VALUE "OriginalFilename", "%s"
      VALUE "ProductName", "filetrail"
      VALUE "ProductVersion", "1.2"
      VALUE "Comments", "built by the analyze golden tests"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
2 RCDATA { "raw resource data for the corpus", 0x1234, 0x5678 }
3 RCDATA { "second raw resource" }
`

// buildMinGW builds MinGW samples when the cross-compiler is installed;
// in CI it must be.
func buildMinGW(dir string) []string {
	gcc, err := exec.LookPath("x86_64-w64-mingw32-gcc")
	if err != nil {
		corpusNotes = append(corpusNotes, "MinGW not installed: no MinGW samples")
		return nil
	}
	files := map[string]string{
		"main.c": mingwMain, "lib.c": mingwDLL,
		"ord.def": "LIBRARY ws2_32.dll\nEXPORTS\nbyord3 @3 NONAME\n",
		"exe.rc":  fmt.Sprintf(mingwRC, 1, "hello", "hello.exe"),
		"dll.rc":  fmt.Sprintf(mingwRC, 2, "ftlib", "ftlib.dll"),
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			corpusNotes = append(corpusNotes, err.Error())
			return nil
		}
	}
	steps := [][]string{
		{"x86_64-w64-mingw32-windres", "exe.rc", "-O", "coff", "-o", "exe.res"},
		{"x86_64-w64-mingw32-windres", "dll.rc", "-O", "coff", "-o", "dll.res"},
		{"x86_64-w64-mingw32-dlltool", "-d", "ord.def", "-l", "libord.a"},
		{gcc, "-O1", "-o", "mingw-hello.exe", "main.c", "exe.res", "libord.a"},
		{gcc, "-O1", "-s", "-o", "mingw-hello-stripped.exe", "main.c", "exe.res", "libord.a"},
		{gcc, "-O1", "-shared", "-o", "mingw-ftlib.dll", "lib.c", "dll.res"},
	}
	for _, s := range steps {
		if err := run(dir, s[0], s[1:]...); err != nil {
			corpusNotes = append(corpusNotes, err.Error())
			return nil
		}
	}
	return []string{filepath.Join(dir, "mingw-hello.exe"), filepath.Join(dir, "mingw-hello-stripped.exe"), filepath.Join(dir, "mingw-ftlib.dll")}
}

// signCopies signs copies of the given PEs with osslsigncode and a
// throw-away self-signed key generated here.
func signCopies(dir string, pes []string) []string {
	if _, err := exec.LookPath("osslsigncode"); err != nil {
		corpusNotes = append(corpusNotes, "osslsigncode not installed: no signed samples")
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1f2e3d4c),
		Subject:      pkix.Name{CommonName: "filetrail throw-away test signer", Organization: []string{"filetrail tests"}},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600) != nil || os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600) != nil {
		return nil
	}
	var out []string
	for _, p := range pes {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		ext := filepath.Ext(p)
		dst := strings.TrimSuffix(p, ext) + "-signed" + ext
		if err := run(dir, "osslsigncode", "sign", "-certs", "cert.pem", "-key", "key.pem", "-h", "sha256",
			"-n", "filetrail corpus", "-in", p, "-out", dst); err != nil {
			corpusNotes = append(corpusNotes, err.Error())
			continue
		}
		out = append(out, dst)
	}
	return out
}
