package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// With the watch off, the endpoints that need it say so (issue 23 item 5): the CSV exports
// answer NOT_CONFIGURED naming watch.enabled, not a bare "404 page not found".
func TestExportsSayTheWatchIsOff(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{}) // the harness runs without the watch
	for _, path := range []string{"/export/restore-audit.csv", "/export/restore-audit-sessions.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"} {
		rec := httptest.NewRecorder()
		h.gw.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var body struct {
			Errors []struct {
				Message    string
				Extensions struct{ Code string }
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 {
			t.Fatalf("GET %s: %d %q", path, rec.Code, rec.Body.String())
		}
		e := body.Errors[0]
		if rec.Code != http.StatusNotFound || e.Extensions.Code != "NOT_CONFIGURED" || !strings.Contains(e.Message, "watch.enabled") {
			t.Errorf("GET %s: %d %+v, want 404 NOT_CONFIGURED naming watch.enabled", path, rec.Code, e)
		}
	}
}
