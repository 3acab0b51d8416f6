package vtapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus collectors.
type metrics struct {
	requests      *prometheus.CounterVec   // by route and status
	duration      *prometheus.HistogramVec // by route
	quotaRefusals *prometheus.CounterVec   // by quota window
	cacheHits     prometheus.Counter       // response cache lookups that found the response
	cacheMisses   prometheus.Counter       // and those that did not
	handler       http.Handler             // serves /metrics
}

// newMetrics registers the API's collectors with reg. A nil reg means a
// private registry that also carries the Go and process collectors. When
// reg is not also a Gatherer, /metrics serves prometheus.DefaultGatherer.
// Collectors already registered by an earlier New on the same registry are
// reused.
func newMetrics(reg prometheus.Registerer) *metrics {
	var gatherer prometheus.Gatherer = prometheus.DefaultGatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		gatherer = g
	}
	cache := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "filetrail_response_cache_lookups_total",
		Help: "Response cache lookups of cacheable requests, by result (hit or miss).",
	}, []string{"result"}))
	return &metrics{
		cacheHits:   cache.WithLabelValues("hit"),
		cacheMisses: cache.WithLabelValues("miss"),
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "filetrail_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "filetrail_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"})),
		quotaRefusals: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "filetrail_quota_refusals_total",
			Help: "Requests refused because a quota of the key was used up, by quota window.",
		}, []string{"window"})),
		handler: promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}),
	}
}

// register registers c, or returns the equal collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if errors.As(err, &dup) {
			if existing, ok := dup.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a conflicting collector of the same name: a wiring bug
	}
	return c
}

// observe records one answered request.
// route returns the function that records one answered request of a
// route: its status and how long it took. The route's collectors are
// looked up once, here, not per request (status 200 included).
func (m *metrics) route(route string) func(status int, elapsed time.Duration) {
	duration := m.duration.WithLabelValues(route)
	ok := m.requests.WithLabelValues(route, "200")
	return func(status int, elapsed time.Duration) {
		if status == http.StatusOK {
			ok.Inc()
		} else {
			m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		}
		duration.Observe(elapsed.Seconds())
	}
}
