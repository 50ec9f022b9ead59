package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
)

func TestRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/v6/token":                       "/v6/token",
		"/v6/Organizations":               "/v6/Organizations",
		"/v6/RestoreSessions/0f8e-11":     "/v6/RestoreSessions/{id}",
		"/v7/RestoreSessions/abc/Events":  "/v7/RestoreSessions/{id}/Events",
		"/v8/RestoreSessions/a/Events/b":  "/v8/RestoreSessions/{id}/Events/{id}",
		"/vbo/v6/Organizations/x":         "/vbo/v6/Organizations/{id}",
		"/":                               "other",
		"/RestoreSessions/secret-id-1234": "other",
	} {
		if got := telemetry.Route(path); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestRequestID(t *testing.T) {
	for in, keep := range map[string]bool{
		"abc-123":                   true,
		"portal/42:x.y_z+w=":        true,
		strings.Repeat("a", 128):    true,
		strings.Repeat("a", 129):    false,
		"":                          false,
		"has space":                 false,
		"quote\"":                   false,
		"newline\ninjected=1":       false,
		"ünïcode":                   false,
		"<script>alert(1)</script>": false,
	} {
		h := http.Header{}
		if in != "" {
			h.Set("X-Request-Id", in)
		}
		got := telemetry.RequestID(h)
		if keep && got != in || !keep && (got == in || len(got) != 16) {
			t.Errorf("RequestID(%q) = %q (keep %v)", in, got, keep)
		}
	}
}

func TestLoggerFormatsAndRedaction(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		level := new(slog.LevelVar)
		l, err := telemetry.NewLogger(&b, format, level)
		if err != nil {
			t.Fatal(err)
		}
		l.Info("x", "password", "hunter2", "access_token", "tok-1", "Authorization", "Bearer k", "server", "syd1")
		l.Debug("hidden at info")
		level.Set(slog.LevelDebug)
		l.Debug("shown at debug")
		out := b.String()
		for _, secret := range []string{"hunter2", "tok-1", "Bearer k"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s log carries %q: %s", format, secret, out)
			}
		}
		if !strings.Contains(out, "syd1") || strings.Contains(out, "hidden at info") || !strings.Contains(out, "shown at debug") {
			t.Errorf("%s log = %s", format, out)
		}
	}
	if _, err := telemetry.NewLogger(io.Discard, "xml", new(slog.LevelVar)); err == nil {
		t.Error("log format xml accepted")
	}
}

// Tracing is off unless the OTEL_* environment asks for it.
func TestTracingFromEnvOff(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"nothing set":   {},
		"exporter none": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"},
		"sdk disabled":  {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"},
	} {
		tr, err := telemetry.TracingFromEnv(context.Background(), func(k string) string { return env[k] }, "test")
		if err != nil || tr != nil {
			t.Errorf("%s: tracing = %v, %v; want off", name, tr, err)
		}
	}
	for name, env := range map[string]map[string]string{
		"zipkin": {"OTEL_TRACES_EXPORTER": "zipkin"},
		"grpc":   {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
	} {
		if _, err := telemetry.TracingFromEnv(context.Background(), func(k string) string { return env[k] }, "test"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// An OTLP/HTTP receiver on loopback sees the gateway's spans when the standard environment
// variables point at it.
func TestTracingExportsOverOTLPHTTP(t *testing.T) {
	var got atomic.Int64
	var service atomic.Bool
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			got.Add(1)
			// The protobuf carries the resource and span names as plain strings.
			if bytes.Contains(b, []byte("vbo-gateway-test")) && bytes.Contains(b, []byte("GET /healthz-probe")) {
				service.Store(true)
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "vbo-gateway-test")
	tr, err := telemetry.TracingFromEnv(context.Background(), func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL}[k]
	}, "v1.2.3")
	if err != nil || tr == nil {
		t.Fatalf("tracing = %v, %v", tr, err)
	}
	_, span := tr.Provider().Tracer("test").Start(context.Background(), "GET /healthz-probe")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown (flush): %v", err)
	}
	if got.Load() == 0 || !service.Load() {
		t.Fatalf("receiver got %d exports (service name and span seen: %v)", got.Load(), service.Load())
	}
}
