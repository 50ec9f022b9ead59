package watchrules

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// syncBuffer is a bytes.Buffer safe for the service's concurrent log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// L7: a rule URL's query string (where receivers take their tokens) is in no log line and in no
// recorded attempt error (which a TENANT_AUDITOR reads), whether the attempt failed to connect
// (Go's error names the URL) or the receiver redirected to the same URL (the Location echoes
// the query).
func TestFailedAttemptsNeverShowURLQuery(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			logs := &syncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			e := newEnv(t, eng.Options(t), envOpts{schedule: []time.Duration{0}, logger: logger})
			// A port nothing listens on.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			closed := l.Addr().String()
			_ = l.Close()
			redirect := newReceiver(t, func(_ int, w http.ResponseWriter) {
				w.Header().Set("Location", "https://hooks.example.net/moved?token=s3cret-redirect")
				w.WriteHeader(http.StatusMovedPermanently)
			})
			t1 := "t1"
			refusedRule := e.create(&t1, rule("http://"+closed+"/hook?token=s3cret-refused", model.WatchTriggerStarted))
			redirectRule := e.create(&t1, rule(redirect.URL+"/hook?token=s3cret-redirect", model.WatchTriggerStarted))
			e.start()
			e.archive(session("s1", true), "org-1", 0, nil, false, false)
			var errs []string
			for _, id := range []string{refusedRule.Rule.ID, redirectRule.Rule.ID} {
				waitFor(t, "FAILED", func() bool {
					ds := e.deliveries(id)
					return len(ds) == 1 && ds[0].Status == model.WebhookDeliveryStatusFailed
				})
				d := e.deliveries(id)[0]
				if len(d.Attempts) != 1 || d.Attempts[0].Error == nil {
					t.Fatalf("attempts %+v", d.Attempts)
				}
				errs = append(errs, *d.Attempts[0].Error)
			}
			if !strings.Contains(errs[1], `redirect to "https://hooks.example.net/moved?…"`) {
				t.Errorf("the redirect's error %q does not show where, redacted", errs[1])
			}
			out := logs.String()
			if !strings.Contains(out, "webhook attempt") {
				t.Fatalf("no attempt was logged:\n%s", out)
			}
			for _, text := range append(errs, out) {
				if strings.Contains(text, "s3cret") || strings.Contains(text, "token=") {
					t.Fatalf("the URL's query shows in %q", text)
				}
			}
		})
	}
}
