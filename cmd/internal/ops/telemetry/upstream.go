package telemetry

import (
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
)

// UpstreamObserver is told about every HTTP request sent to a VBO server (the metrics).
// status is 0 when no response arrived.
type UpstreamObserver interface {
	ObserveUpstream(server, route string, status int, d time.Duration)
}

// Upstream instruments the HTTP transport of one VBO server's client: a client span per
// request (when tracing is on) named by the templated route, with the W3C traceparent sent to
// VBO; the observer; a debug log line; and the request's upstream call count. Raw ids never
// appear in a span or a metric: routes read /v6/RestoreSessions/{id}/Events.
type Upstream struct {
	Server   string
	Tracing  *Tracing         // nil: no spans, no propagation
	Observer UpstreamObserver // nil: none
	Logger   *slog.Logger
}

// Wrap returns base instrumented (for upstream.ClientOptions.WrapTransport).
func (u Upstream) Wrap(base http.RoundTripper) http.RoundTripper {
	if u.Logger == nil {
		u.Logger = slog.Default()
	}
	inner := &upstreamTransport{u: u, base: base}
	if u.Tracing == nil {
		return inner
	}
	return otelhttp.NewTransport(inner,
		otelhttp.WithTracerProvider(u.Tracing.provider),
		otelhttp.WithPropagators(u.Tracing.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + Route(r.URL.Path)
		}),
		otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("vbo.server", u.Server))),
	)
}

type upstreamTransport struct {
	u    Upstream
	base http.RoundTripper
}

// CloseIdleConnections reaches the wrapped transport: http.Client.CloseIdleConnections closes
// idle connections only through a transport that has the method.
func (t *upstreamTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	route := Route(req.URL.Path)
	if t.u.Tracing != nil {
		// otelhttp recorded the raw URL; keep the route only (ids are not for traces).
		trace.SpanFromContext(ctx).SetAttributes(
			attribute.String("http.route", route),
			attribute.String("url.full", req.URL.Scheme+"://"+req.URL.Host+route))
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	d := time.Since(start)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	RecordFrom(ctx).countUpstream()
	if t.u.Observer != nil {
		t.u.Observer.ObserveUpstream(t.u.Server, route, status, d)
	}
	if t.u.Logger.Enabled(ctx, slog.LevelDebug) {
		attrs := []any{"server", t.u.Server, "method", req.Method, "route", route, "status", status,
			"duration_ms", float64(d.Microseconds()) / 1000}
		if id := requestid.From(ctx); id != "" {
			attrs = append(attrs, "request_id", id)
		}
		if err != nil {
			attrs = append(attrs, "err", err.Error())
		}
		t.u.Logger.DebugContext(ctx, "upstream call", attrs...)
	}
	return resp, err
}

var apiVersionSegment = regexp.MustCompile(`^v[0-9]+$`)

// Route templates a VBO request path: after the API version segment, collections and ids
// alternate (/v6/RestoreSessions/{id}/Events/{id}), so every second segment is an id.
// A path without a version segment reads "other".
func Route(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	v := -1
	for i, s := range segs {
		if apiVersionSegment.MatchString(s) {
			v = i
			break
		}
	}
	if v < 0 {
		return "other"
	}
	var b strings.Builder
	for i, s := range segs {
		b.WriteByte('/')
		if i > v && (i-v)%2 == 0 {
			b.WriteString("{id}")
		} else {
			b.WriteString(s)
		}
	}
	return b.String()
}
