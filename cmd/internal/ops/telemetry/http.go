package telemetry

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
)

// HTTP wraps the gateway's handler: request id, the access line, and (with tracing) the
// server span, honouring an incoming W3C traceparent.
type HTTP struct {
	Tracing *Tracing // nil: off
	Logger  *slog.Logger
}

// quietPaths are probed by orchestrators every few seconds: their access lines are debug.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true}

// Wrap returns next instrumented.
func (h HTTP) Wrap(next http.Handler) http.Handler {
	logger := h.Logger
	if logger == nil {
		logger = slog.Default()
	}
	access := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := RequestID(r.Header)
		r.Header.Set("X-Request-Id", id) // the inner layers keep it
		w.Header().Set("X-Request-Id", id)
		rec := &Record{}
		ctx := WithRecord(requestid.With(r.Context(), id), rec)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))

		level := slog.LevelInfo
		if quietPaths[r.URL.Path] {
			level = slog.LevelDebug
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() && h.Tracing == nil {
			// Tracing off: still quote the caller's trace id, so the line can be found.
			sc = trace.SpanContextFromContext(propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header)))
		}
		op, subject, tenant, codes, cost := rec.snapshot()
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", logPath(r.URL.Path)),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("upstream_calls", rec.UpstreamCalls()),
		}
		// remote is the client as the edge found it (behind http.trustedProxies), the address
		// the throttling and the restore record use; peer is the connection's, when it differs
		// (the proxy).
		peer := remoteHost(r)
		if client := rec.clientAddr(); client != "" && client != peer {
			attrs = append(attrs, slog.String("remote", client), slog.String("peer", peer))
		} else {
			attrs = append(attrs, slog.String("remote", peer))
		}
		if sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		if op != "" {
			attrs = append(attrs, slog.String("operation", op))
		}
		if subject != "" {
			attrs = append(attrs, slog.String("subject", subject))
		}
		if tenant != "" {
			attrs = append(attrs, slog.String("tenant", tenant))
		}
		if len(codes) > 0 {
			attrs = append(attrs, slog.String("error_codes", strings.Join(codes, ",")))
		}
		if cost != nil {
			attrs = append(attrs, slog.Any("cost", cost))
		}
		logger.LogAttrs(ctx, level, "request", attrs...)
	})
	if h.Tracing == nil {
		return access
	}
	return otelhttp.NewHandler(access, "vbo-gateway",
		otelhttp.WithTracerProvider(h.Tracing.provider),
		otelhttp.WithPropagators(h.Tracing.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + spanPath(r.URL.Path) }),
		otelhttp.WithFilter(func(r *http.Request) bool { return !quietPaths[r.URL.Path] }),
	)
}

// spanPath keeps span names to the gateway's own routes (paths are the caller's to choose).
// oneTimePaths are the prefixes of paths whose last segment is a one-time capability (a restore
// download link): the access line names the route, never the token.
var oneTimePaths = []string{"/download/", "/console/download/"}

// logPath is the path as the access line shows it: a download link's token replaced.
func logPath(p string) string {
	for _, prefix := range oneTimePaths {
		if strings.HasPrefix(p, prefix) && len(p) > len(prefix) {
			return prefix + "<token>"
		}
	}
	return p
}

func spanPath(p string) string {
	switch p {
	case "/", "/graphql", "/metrics", "/healthz", "/readyz":
		return p
	}
	return "other"
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
