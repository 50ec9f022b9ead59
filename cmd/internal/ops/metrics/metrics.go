// Package metrics exposes the gateway's Prometheus metrics: per-server upstream health (health
// probe and circuit breaker), calls, retries and short-circuits, upstream latency by route,
// token calls, health-probe outcomes, the immutable-data cache, GraphQL requests by operation
// and outcome, request latency, the console's requests by route and its in-process operations,
// configuration reloads and open subscriptions. Client counters
// and open subscriptions are read at scrape time; the rest is observed as it happens.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders/cache"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Namespace starts every metric name the gateway exports (vbo_gateway_...); collectors beside
// the parts they observe (watch, watchrules) build their names from it too.
const Namespace = "vbo_gateway"

// Metrics is one registry (no global state) with the gateway's collectors.
type Metrics struct {
	reg         *prometheus.Registry
	duration    *prometheus.HistogramVec
	graphql     *prometheus.CounterVec
	upstream    *prometheus.HistogramVec
	tokens      *prometheus.CounterVec
	probes      *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	console     *prometheus.HistogramVec
	consoleOps  *prometheus.HistogramVec
	operationMu sync.Mutex
	operations  map[string]bool // operation names seen, bounded by maxOperationNames
	routeMu     sync.Mutex
	routes      map[string]bool // console routes seen, bounded by maxConsoleRoutes
}

// maxOperationNames bounds the operation label's values: operation names are the callers' to
// choose, so past this many distinct names the rest count as "other". Each value is also cut to
// telemetry.MaxOperationNameBytes, so the series stay within about 200 x 4 outcomes x 64 bytes
// whatever the callers send.
const maxOperationNames = 200

// maxConsoleRoutes bounds the console's route label: the console names its routes by their
// patterns (a fixed set of about thirty), and past this many distinct values the rest count as
// "other", whatever a caller passes.
const maxConsoleRoutes = 64

// OtherRoute is the console route label of a request no route took (an unknown path, or one
// refused before routing) and of routes past maxConsoleRoutes.
const OtherRoute = "other"

// requestBuckets are the request-latency histograms' buckets (seconds).
var requestBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}

// New builds the registry with the request-path metrics; Register adds the fleet's and the
// cache's, once both exist (the fleet's clients report into the registry as they are built).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), operations: map[string]bool{}, routes: map[string]bool{}}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer a /graphql request, by HTTP status code.",
		Buckets: requestBuckets,
	}, []string{"code"})
	m.console = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "console_request_duration_seconds",
		Help:    "Time to answer a request to the console (/console/), by route pattern (other: no route took it) and status class; a stream is timed for its whole life.",
		Buckets: requestBuckets,
	}, []string{"route", "status_class"})
	m.consoleOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "console_graphql_duration_seconds",
		Help:    "Time of each GraphQL operation the console runs in process for a page, by operation name and outcome (ok, partial, error).",
		Buckets: requestBuckets,
	}, []string{"operation", "outcome"})
	m.graphql = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "graphql_requests_total",
		Help: "GraphQL operations answered, by operation name and outcome (ok, partial, error, rejected).",
	}, []string{"operation", "outcome"})
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "upstream_request_duration_seconds",
		Help:    "Time to the response headers of each HTTP request to a VBO server, by server, templated route and status class (error: no response).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"server", "route", "status_class"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "upstream_token_requests_total",
		Help: "Token requests (logins and refreshes) sent to a VBO server, by outcome (ok, refused, error).",
	}, []string{"server", "outcome"})
	m.probes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "health_probes_total",
		Help: "Background health probes of each VBO server, by outcome (ok, or the error code).",
	}, []string{"server", "outcome"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "config_reloads_total",
		Help: "Configuration reloads (SIGHUP), by outcome (ok, invalid).",
	}, []string{"outcome"})
	m.reg.MustRegister(m.duration, m.graphql, m.upstream, m.tokens, m.probes, m.reloads, m.console, m.consoleOps,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds the fleet's collectors (health from status, counters from the clients), the
// cache's, and extra collectors of other parts (the restore watch). Call it once, while
// assembling the gateway.
func (m *Metrics) Register(fleet *upstream.Fleet, status func(server string) upstream.Health, cacheStats func() cache.Stats, extra ...prometheus.Collector) {
	if status == nil {
		status = func(name string) upstream.Health {
			if c, ok := fleet.Get(name); ok {
				return c.Health()
			}
			return upstream.HealthDown
		}
	}
	m.reg.MustRegister(&fleetCollector{fleet: fleet, status: status}, &cacheCollector{stats: cacheStats})
	m.reg.MustRegister(extra...)
}

// SubscriptionsOpen is the gauge of the subscriptions open in this process (SSE streams and
// websocket operations, every caller together), read from open at scrape time; pass it to
// Register.
func SubscriptionsOpen(open func() int) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "subscriptions_open",
		Help: "Subscriptions open in this process (SSE streams and websocket operations), bounded by limits.subscriptions.",
	}, func() float64 { return float64(open()) })
}

// ObserveGraphQL counts one GraphQL response. The operation should already be a bounded name
// (telemetry.OperationName); it is bounded again here, so no caller can grow the label.
func (m *Metrics) ObserveGraphQL(operation, outcome string) {
	m.graphql.WithLabelValues(m.boundOperation(operation), outcome).Inc()
}

// boundOperation is the operation label for name: cut to telemetry.MaxOperationNameBytes, and
// "other" past maxOperationNames distinct names.
func (m *Metrics) boundOperation(name string) string {
	name = telemetry.BoundName(name)
	m.operationMu.Lock()
	defer m.operationMu.Unlock()
	if !m.operations[name] {
		if len(m.operations) >= maxOperationNames {
			return "other"
		}
		m.operations[name] = true
	}
	return name
}

// ObserveConsoleRequest times one console request. route is the pattern of the console's route
// that took it ("GET /console/sessions/{id}": never the raw path, which holds ids), or
// OtherRoute; it is bounded again here (maxConsoleRoutes), so no caller can grow the label.
func (m *Metrics) ObserveConsoleRequest(route string, status int, d time.Duration) {
	route = telemetry.BoundName(route)
	m.routeMu.Lock()
	if !m.routes[route] {
		if len(m.routes) >= maxConsoleRoutes {
			route = OtherRoute
		} else {
			m.routes[route] = true
		}
	}
	m.routeMu.Unlock()
	m.console.WithLabelValues(route, statusClass(status)).Observe(d.Seconds())
}

// ObserveConsoleOperation times one GraphQL operation the console ran in process (the
// operation label bounded as graphql_requests_total's; outcome ok, partial or error).
func (m *Metrics) ObserveConsoleOperation(operation, outcome string, d time.Duration) {
	m.consoleOps.WithLabelValues(m.boundOperation(operation), outcome).Observe(d.Seconds())
}

// statusClass is an HTTP status's class ("2xx"), or "error" for none (no response).
func statusClass(status int) string {
	if status >= 100 && status <= 599 {
		return strconv.Itoa(status/100) + "xx"
	}
	return "error"
}

// ObserveUpstream records one HTTP request to a VBO server (route is templated: no ids).
func (m *Metrics) ObserveUpstream(server, route string, status int, d time.Duration) {
	m.upstream.WithLabelValues(server, route, statusClass(status)).Observe(d.Seconds())
	if strings.HasSuffix(route, "/token") {
		outcome := "ok"
		switch {
		case status == 0 || status >= 500:
			outcome = "error"
		case status >= 300:
			outcome = "refused"
		}
		m.tokens.WithLabelValues(server, outcome).Inc()
	}
}

// ObserveProbe counts one health probe (outcome: ok or an error code).
func (m *Metrics) ObserveProbe(server, outcome string) {
	m.probes.WithLabelValues(server, outcome).Inc()
}

// ObserveReload counts one configuration reload (ok or invalid).
func (m *Metrics) ObserveReload(outcome string) {
	m.reloads.WithLabelValues(outcome).Inc()
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
	descHealth = prometheus.NewDesc(Namespace+"_upstream_health",
		"VBO server health from its health probe and circuit breaker: 0 up, 1 degraded (half-open), 2 down (open breaker or failing probe).",
		[]string{"server"}, nil)
	descAttempts = prometheus.NewDesc(Namespace+"_upstream_requests_total",
		"HTTP requests sent to the VBO server (token calls, retries and re-authentications included).",
		[]string{"server"}, nil)
	descRetries = prometheus.NewDesc(Namespace+"_upstream_retries_total",
		"Retries of failed idempotent calls to the VBO server.", []string{"server"}, nil)
	descShort = prometheus.NewDesc(Namespace+"_upstream_short_circuits_total",
		"Calls refused without being sent because the server's circuit breaker was open.", []string{"server"}, nil)
)

type fleetCollector struct {
	fleet  *upstream.Fleet
	status func(server string) upstream.Health
}

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
		ch <- prometheus.MustNewConstMetric(descHealth, prometheus.GaugeValue, float64(c.status(name)), name)
		ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(st.Attempts), name)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(st.Retries), name)
		ch <- prometheus.MustNewConstMetric(descShort, prometheus.CounterValue, float64(st.ShortCircuits), name)
	}
}

var (
	descCacheBytes  = prometheus.NewDesc(Namespace+"_cache_bytes", "Estimated bytes held by the immutable-data cache.", nil, nil)
	descCacheBudget = prometheus.NewDesc(Namespace+"_cache_budget_bytes", "The immutable-data cache's byte budget.", nil, nil)
	descCacheItems  = prometheus.NewDesc(Namespace+"_cache_entries", "Entries in the immutable-data cache.", nil, nil)
	descCacheHits   = prometheus.NewDesc(Namespace+"_cache_hits_total", "Immutable-data cache hits.", nil, nil)
	descCacheMisses = prometheus.NewDesc(Namespace+"_cache_misses_total", "Immutable-data cache misses.", nil, nil)
	descCacheEvict  = prometheus.NewDesc(Namespace+"_cache_evictions_total", "Entries evicted to stay within the budget.", nil, nil)
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
