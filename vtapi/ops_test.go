package vtapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// N parallel clients on a quota-limited key: exactly the quota is admitted.
func TestQuotaUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	const clients, quota = 40, 13
	key := f.newKey(t, true, filetrail.Quota{PerMinute: quota, PerDay: 1000})
	statuses := make([]int, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest("GET", e.srv.URL+downloadedPath(reportsIP.String()), nil)
			req.Header.Set("x-apikey", key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[200] != quota || count[429] != clients-quota {
		t.Fatalf("statuses %v, want %d × 200 and %d × 429", count, quota, clients-quota)
	}
}

// /metrics counts requests by route and status, their latency by route,
// and quota refusals by window.
func TestMetrics(t *testing.T) {
	t.Parallel()
	f := shared(t)
	reg := prometheus.NewRegistry()
	e := newEnv(t, f, vtapi.Options{Registry: reg})
	// A second handler on the same registry shares the collectors.
	e2 := newEnv(t, f, vtapi.Options{Registry: reg})
	limited := f.newKey(t, false, filetrail.Quota{PerMinute: 1})
	for range 2 {
		e.get(t, "/api/v3/files/"+f.reports[0].SHA256, e.public)
	}
	e2.get(t, "/api/v3/files/"+f.reports[1].SHA256, e.public)
	e.get(t, "/api/v3/files/"+strings.Repeat("1", 64), e.public)
	e.get(t, "/no/such/path", "")
	e.get(t, "/api/v3/metadata", limited)
	e.get(t, "/api/v3/metadata", limited)

	// A request is counted when its handler returns, which may be just after
	// the client has read the answer: read /metrics until every count is
	// there (a missing count still fails, after the last attempt).
	type want struct {
		name   string
		labels map[string]string
		want   float64
	}
	wants := []want{
		{"filetrail_http_requests_total", map[string]string{"route": "/api/v3/files/{id}", "code": "200"}, 3},
		{"filetrail_http_requests_total", map[string]string{"route": "/api/v3/files/{id}", "code": "404"}, 1},
		{"filetrail_http_requests_total", map[string]string{"route": "unknown", "code": "404"}, 1},
		{"filetrail_http_requests_total", map[string]string{"route": "/api/v3/metadata", "code": "429"}, 1},
		{"filetrail_http_request_duration_seconds", map[string]string{"route": "/api/v3/files/{id}"}, 4},
		{"filetrail_quota_refusals_total", map[string]string{"window": "minute"}, 1},
	}
	var mismatches []string
	for attempt := 0; attempt < 50; attempt++ {
		if attempt > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		r := e.get(t, "/metrics", "")
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		counter := func(name string, labels map[string]string) float64 {
			for _, m := range fams[name].GetMetric() {
				if hasLabels(m, labels) {
					if m.Counter != nil {
						return m.Counter.GetValue()
					}
					return float64(m.Histogram.GetSampleCount())
				}
			}
			return 0
		}
		mismatches = nil
		for _, tc := range wants {
			if got := counter(tc.name, tc.labels); got != tc.want {
				mismatches = append(mismatches, fmt.Sprintf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want))
			}
		}
		if len(mismatches) == 0 {
			break
		}
	}
	for _, m := range mismatches {
		t.Error(m)
	}

	// Without a registry: a private one, with the Go collectors.
	e3 := newEnv(t, f, vtapi.Options{})
	e3.get(t, "/healthz", "")
	if body := string(e3.get(t, "/metrics", "").Body); !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "filetrail_http_requests_total") {
		t.Fatalf("private registry metrics:\n%s", body)
	}
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// BenchmarkDownloadedFilesPage serves pages of 40 full File objects (real
// VT reports among them), with and without gzip.
func BenchmarkDownloadedFilesPage(b *testing.B) {
	f := newFixture(b)
	key := f.newKey(b, true, filetrail.Quota{})
	h := vtapi.New(f.store, vtapi.Options{})
	for _, tc := range []struct {
		name, ip, encoding string
	}{
		{"synthetic", bigIP.String(), ""},
		{"synthetic-gzip", bigIP.String(), "gzip"},
		{"reports", reportsIP.String(), ""},
		{"reports-gzip", reportsIP.String(), "gzip"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://ft.test"+downloadedPath(tc.ip)+"?limit=40", nil)
			req.Header.Set("x-apikey", key)
			if tc.encoding != "" {
				req.Header.Set("Accept-Encoding", tc.encoding)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
				b.SetBytes(int64(w.Body.Len()))
			}
		})
	}
}

// BenchmarkCachedPage serves a page of 10 from the response cache: the
// work every hot request still does (authentication, privilege, quota,
// the cache lookup, the headers). The body is counted, not kept.
func BenchmarkCachedPage(b *testing.B) {
	f := newFixture(b)
	key := f.newKey(b, true, filetrail.Quota{})
	h := vtapi.New(f.store, vtapi.Options{CacheBytes: 16 << 20, CacheTTL: time.Hour})
	for _, encoding := range []string{"", "gzip"} {
		b.Run("encoding="+encoding, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://ft.test"+downloadedPath(reportsIP.String())+"?limit=10", nil)
			req.Header.Set("x-apikey", key)
			if encoding != "" {
				req.Header.Set("Accept-Encoding", encoding)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := &countingWriter{header: http.Header{}}
				h.ServeHTTP(w, req)
				if w.status != 200 || w.n == 0 {
					b.Fatalf("status %d, %d bytes", w.status, w.n)
				}
			}
		})
	}
}

// countingWriter is a ResponseWriter that keeps the status and counts the
// body's bytes.
type countingWriter struct {
	header http.Header
	status int
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }

func (w *countingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}
