package sandbox

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/filetrail/filetrail/analyze"
)

// The test binary doubles as the worker: with FILETRAIL_SANDBOX_TEST_MODE
// set it serves one sample and exits. "real" runs analyze.RunPassesFile; the
// other modes misbehave after the first two passes.
func TestMain(m *testing.M) {
	mode := os.Getenv("FILETRAIL_SANDBOX_TEST_MODE")
	if mode == "" {
		os.Exit(m.Run())
	}
	var cpu time.Duration
	var mem int64
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "--cpu-time="); ok {
			cpu, _ = time.ParseDuration(v)
		}
		if v, ok := strings.CutPrefix(a, "--memory="); ok {
			fmt.Sscan(v, &mem)
		}
	}
	passes := analyze.RunPassesFile
	if mode != "real" {
		passes = func(data []byte, _ *os.File, emit func(analyze.Partial)) {
			emit(analyze.Partial{Step: "magic", Attrs: analyze.Attributes{"magic": "test magic"}})
			emit(analyze.Partial{Step: "pe_headers", Attrs: analyze.Attributes{"pe_info": map[string]any{"entry_point": 42}}})
			misbehave(mode)
		}
	}
	if err := ServeWorker(Limits{CPUTime: cpu, Memory: mem}, 0, passes); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}

var sink [][]byte

func misbehave(mode string) {
	switch mode {
	case "hang":
		select {}
	case "spin":
		for i := 0; ; i++ {
			if i < 0 {
				return
			}
		}
	case "crash":
		os.Exit(7)
	case "oom":
		for {
			sink = append(sink, make([]byte, 64<<20))
			for _, b := range sink {
				b[0] = 1
			}
		}
	}
}

func testRunner(t *testing.T, mode string, l Limits) *Runner {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Command: []string{exe, "-test.run=^$"}, Env: []string{"FILETRAIL_SANDBOX_TEST_MODE=" + mode}, Limits: l}
}

func sampleBytes(t *testing.T) []byte {
	b, err := os.ReadFile("../../testdata/binaries/gcc-386-mingw-no-symbols-exec")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRealWorkerMatchesInProcess(t *testing.T) {
	data := sampleBytes(t)
	r := testRunner(t, "real", Limits{})
	rep, err := r.Analyze(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != 0 {
		t.Fatalf("failures: %+v", rep.Failures)
	}
	got, _ := rep.Object()
	want, _ := analyze.Analyze(data).Object()
	if string(got) != string(want) {
		t.Fatalf("sandboxed report differs from in-process:\n%s\n%s", got, want)
	}
	if n, f := r.Counts(); n != 1 || f != 0 {
		t.Fatalf("counts %d %d", n, f)
	}
}

// Each misbehaving worker loses the running pass only: hashes and the two
// finished passes are kept, the failure names the pass and the cause.
func TestMisbehavingWorkers(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		lim   Limits
		cause string
	}{
		{"hang", Limits{WallClock: 2 * time.Second}, "wall-clock limit"},
		{"spin", Limits{CPUTime: time.Second, WallClock: 5 * time.Minute}, "CPU-time limit"},
		{"crash", Limits{}, "exit status 7"},
		{"oom", Limits{Memory: 512 << 20, WallClock: 5 * time.Minute}, "exit status"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			data := sampleBytes(t)
			r := testRunner(t, tc.mode, tc.lim)
			rep, err := r.Analyze(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Attributes["sha256"] != analyze.HashBytes(data).SHA256 || rep.Attributes["ssdeep"] == nil {
				t.Fatalf("hashes lost: %v", rep.Attributes)
			}
			if rep.Attributes["magic"] != "test magic" {
				t.Fatalf("finished pass lost: %v", rep.Attributes)
			}
			if len(rep.Failures) != 1 || rep.Failures[0].Step != "elf" || !strings.Contains(rep.Failures[0].Err, tc.cause) {
				t.Fatalf("failures %+v, want the elf pass failing with %q", rep.Failures, tc.cause)
			}
			if _, f := r.Counts(); f != 1 {
				t.Fatalf("failure count %d", f)
			}
		})
	}
}

func TestSizeCap(t *testing.T) {
	r := testRunner(t, "real", Limits{})
	r.MaxSize = 100
	if _, err := r.Analyze(context.Background(), make([]byte, 101)); err == nil || !strings.Contains(err.Error(), "size cap") {
		t.Fatalf("err %v, want size cap", err)
	}
}
