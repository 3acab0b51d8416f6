package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filetrail/filetrail/internal/testfixture"
)

// binary is the filetrail binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "filetrail-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "filetrail")
	build := exec.Command("go", "build", "-o", binary, "github.com/filetrail/filetrail/cmd/filetrail")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building filetrail:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// envInt is the integer in the environment variable name, or def.
func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a count", name, v)
	}
	return n
}

// command is filetrail with args, its environment free of FILETRAIL_*
// settings of the caller.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FILETRAIL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs filetrail to the end and returns its output; a failure to
// start is fatal, an exit status is err.
func run(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(ctx, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("filetrail %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), err
}

// mustRun runs filetrail and fails the test unless it exits 0.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, args...)
	if err != nil {
		t.Fatalf("filetrail %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// createKey creates a key in store with the given flags and returns its
// secret.
func createKey(t testing.TB, store, name string, flags ...string) string {
	t.Helper()
	out := mustRun(t, append([]string{"keys", "create", "--store", store, "--name", name}, flags...)...)
	secret, _, _ := strings.Cut(out, "\n")
	if secret == "" {
		t.Fatalf("keys create printed no secret: %q", out)
	}
	return secret
}

// server is a running `filetrail serve`.
type server struct {
	URL   string // public listener, e.g. http://127.0.0.1:41234
	Admin string // admin listener; "" without --admin-addr
	cmd   *exec.Cmd
	Logs  *testfixture.SyncBuffer // standard error: JSON log lines
	done  chan struct{}
	err   error // exit of the process, once done is closed
}

// startServe starts `filetrail serve` on a free loopback port with JSON
// logs and waits until it listens. Extra arguments go after "serve". The
// process is killed at the end of the test if still running.
func startServe(t testing.TB, store string, args ...string) *server {
	t.Helper()
	all := append([]string{"--log-format", "json", "serve", "--store", store, "--addr", "127.0.0.1:0", "--public-url", "http://filetrail.test"}, args...)
	cmd := command(context.Background(), all...)
	pr, pw := io.Pipe()
	s := &server{cmd: cmd, Logs: &testfixture.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(s.Logs, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() { s.Kill() })
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			var l struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			switch l.Msg {
			case "listening":
				s.URL = l.URL
			case "admin listening":
				s.Admin = l.URL
			}
			if !signalled && s.URL != "" && (s.Admin != "" || !hasArg(args, "--admin-addr")) {
				signalled = true
				close(found)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case <-found:
	case <-s.done:
		t.Fatalf("serve exited before listening: %v\n%s", s.err, s.Logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within a minute:\n%s", s.Logs)
	}
	return s
}

func hasArg(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// Kill SIGKILLs the server (if still running) and waits for it.
func (s *server) Kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop asks the server to shut down (SIGTERM) and waits; a failure to
// stop cleanly within the shutdown timeout fails the test.
func (s *server) Stop(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("serve exited with %v on SIGTERM\n%s", s.err, s.Logs)
		}
	case <-time.After(40 * time.Second):
		t.Errorf("serve did not stop on SIGTERM")
		s.Kill()
	}
}

// client never asks for compression and bounds every request, so that a
// hang fails the test instead of stalling it.
var client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}

// reply is a response, body read.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// send sends a request with the key (none when "") and body (none when
// nil); a transport error is returned, not fatal.
func send(method, url, key string, body io.Reader, header ...string) (reply, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		req.Header.Set("x-apikey", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// mustGet is a GET whose transport failure is fatal.
func mustGet(t testing.TB, url, key string) reply {
	t.Helper()
	r, err := send(http.MethodGet, url, key, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return r
}

// vtError is the body of a VT error.
type vtError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantVTError checks that r is the VT error code with the given status in
// JSON.
func wantVTError(t testing.TB, what string, r reply, status int, code string) {
	t.Helper()
	var e vtError
	if r.Status != status || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(r.Body, &e) != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("%s: %d %s %.300s; want %d %s in VT JSON", what, r.Status, r.Header.Get("Content-Type"), r.Body, status, code)
	}
}
