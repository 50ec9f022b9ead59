// Package metrics exposes the gateway's Prometheus metrics: per-server upstream health (the
// circuit breaker's state), calls, retries and short-circuits, the immutable-data cache, and
// GraphQL request latency. Upstream counters are read from the clients at scrape time, so the
// request path carries no metrics code of its own.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders/cache"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

const namespace = "vbo_gateway"

// Metrics is one registry (no global state) with the gateway's collectors.
type Metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
}

// New registers the collectors for fleet and the cache statistics function, plus extra
// collectors of other parts (the restore watch).
func New(fleet *upstream.Fleet, cacheStats func() cache.Stats, extra ...prometheus.Collector) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer a /graphql request, by HTTP status code.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"code"})
	m.reg.MustRegister(m.duration,
		&fleetCollector{fleet: fleet},
		&cacheCollector{stats: cacheStats},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(extra...)
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Instrument records the latency and status of the requests next serves.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.duration.WithLabelValues(strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

var (
	descHealth = prometheus.NewDesc(namespace+"_upstream_health",
		"VBO server health from its circuit breaker: 0 up (closed), 1 degraded (half-open), 2 down (open).",
		[]string{"server"}, nil)
	descAttempts = prometheus.NewDesc(namespace+"_upstream_requests_total",
		"HTTP requests sent to the VBO server (token calls, retries and re-authentications included).",
		[]string{"server"}, nil)
	descRetries = prometheus.NewDesc(namespace+"_upstream_retries_total",
		"Retries of failed idempotent calls to the VBO server.", []string{"server"}, nil)
	descShort = prometheus.NewDesc(namespace+"_upstream_short_circuits_total",
		"Calls refused without being sent because the server's circuit breaker was open.", []string{"server"}, nil)
)

type fleetCollector struct{ fleet *upstream.Fleet }

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHealth
	ch <- descAttempts
	ch <- descRetries
	ch <- descShort
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cl := range c.fleet.Clients() {
		name := cl.Name()
		st := cl.Stats()
		ch <- prometheus.MustNewConstMetric(descHealth, prometheus.GaugeValue, float64(cl.Health()), name)
		ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(st.Attempts), name)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(st.Retries), name)
		ch <- prometheus.MustNewConstMetric(descShort, prometheus.CounterValue, float64(st.ShortCircuits), name)
	}
}

var (
	descCacheBytes  = prometheus.NewDesc(namespace+"_cache_bytes", "Estimated bytes held by the immutable-data cache.", nil, nil)
	descCacheBudget = prometheus.NewDesc(namespace+"_cache_budget_bytes", "The immutable-data cache's byte budget.", nil, nil)
	descCacheItems  = prometheus.NewDesc(namespace+"_cache_entries", "Entries in the immutable-data cache.", nil, nil)
	descCacheHits   = prometheus.NewDesc(namespace+"_cache_hits_total", "Immutable-data cache hits.", nil, nil)
	descCacheMisses = prometheus.NewDesc(namespace+"_cache_misses_total", "Immutable-data cache misses.", nil, nil)
	descCacheEvict  = prometheus.NewDesc(namespace+"_cache_evictions_total", "Entries evicted to stay within the budget.", nil, nil)
)

type cacheCollector struct{ stats func() cache.Stats }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCacheBytes, descCacheBudget, descCacheItems, descCacheHits, descCacheMisses, descCacheEvict} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(descCacheBytes, prometheus.GaugeValue, float64(s.UsedBytes))
	ch <- prometheus.MustNewConstMetric(descCacheBudget, prometheus.GaugeValue, float64(s.BudgetBytes))
	ch <- prometheus.MustNewConstMetric(descCacheItems, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(descCacheHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(descCacheMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(descCacheEvict, prometheus.CounterValue, float64(s.Evictions))
}
