package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/metrics"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders/cache"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// lockedBuffer is a log sink safe for the handler's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Issue 20 M2, scaled down: 10 requests with distinct 900 KB operation names made /metrics
// 9.5 MB and one access line 450 KB, and a name matching no operation was counted. Here 10
// requests name their operation with 100 KB each (executed), and 10 more send a 100 KB
// operationName that no operation of the document has: /metrics stays small, every access
// line is short, and the unmatched names count as "unknown".
func TestOperationNamesBoundedInMetricsAndLogs(t *testing.T) {
	t.Parallel()
	fleet, _ := upstream.NewFleet()
	m := metrics.New()
	m.Register(fleet, nil, func() cache.Stats { return cache.Stats{} })
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := telemetry.HTTP{Logger: logger}.Wrap(stubHandler(t, httpapi.Options{
		Metrics: m, Extensions: telemetry.GraphQLExtensions(nil, m), Logger: logger,
	}))
	const names, nameLen = 10, 100_000
	post := func(body map[string]any) {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("HTTP %d: %.200s", rec.Code, rec.Body)
		}
	}
	for i := range names {
		name := strings.Repeat(string(rune('A'+i)), nameLen)
		post(map[string]any{"query": "query " + name + " { viewer { role } }", "operationName": name})
		post(map[string]any{"query": "query Known { viewer { role } }", "operationName": name})
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	scrape := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	labels := regexp.MustCompile(`vbo_gateway_graphql_requests_total\{operation="([^"]*)",outcome="([^"]*)"\} (\d+)`).FindAllStringSubmatch(scrape, -1)
	if len(labels) == 0 {
		t.Fatalf("no graphql_requests_total series in %d bytes of /metrics", len(scrape))
	}
	unknown := 0
	for _, l := range labels {
		if len(l[1]) > telemetry.MaxOperationNameBytes {
			t.Errorf("operation label of %d bytes (at most %d)", len(l[1]), telemetry.MaxOperationNameBytes)
		}
		if l[1] == telemetry.UnknownOperation {
			unknown++
		}
	}
	if unknown == 0 {
		t.Errorf("operationName matching no operation: no %q series in %v", telemetry.UnknownOperation, labels)
	}
	if len(scrape) > 64<<10 {
		t.Errorf("/metrics is %d bytes after %d long names, want under 64 KiB", len(scrape), names)
	}

	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 10<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if n := len(sc.Bytes()); n > 2048 {
			t.Errorf("log line of %d bytes: %.200s…", n, sc.Bytes())
		}
	}
	if lines < 2*names {
		t.Errorf("%d log lines, want at least %d access lines", lines, 2*names)
	}
}
