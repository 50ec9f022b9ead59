package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// The Overview's first-time machines on a freshly backfilled archive (the watch backfilled 48
// hours of the simulators' history, which spans weeks): a 30-day window begins before the
// archive, so which machines are new is not known and none is listed as new, the page saying
// when the archive begins; a 24-hour window lies inside the archive and lists them as before.
func TestConsoleFirstTimeMachinesOnAFreshBackfill(t *testing.T) {
	t.Parallel()
	_, gw := watchGateway(t, 300, func(c *config.Config) {
		c.Watch.Backfill = 48 * time.Hour
		c.Console = config.Console{APIKeySignIn: true}
	})
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	waitBackfill(t, gw)
	cc := newConsoleClient(t, &consoleEnv{gw: gw, url: srv.URL}, demo.AdminKey)

	resp, page := cc.get("/console/overview?window=30d")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("overview 30d: %d %.300s", resp.StatusCode, page)
	}
	if !strings.Contains(page, `id="first-time-unknown"`) || !strings.Contains(page, "Not known: the archive begins ") || strings.Contains(page, `id="first-time"`) {
		t.Errorf("30-day window over a 48-hour archive: want \"not known: the archive begins\" and no list of new machines; first-time section:\n%s", firstTimeSection(page))
	}
	if !strings.Contains(page, `id="machines"`) || strings.Count(firstTimeSection(page), "<tr>") != 0 {
		t.Errorf("30-day window: the machines table is missing or first-time rows are listed:\n%s", firstTimeSection(page))
	}

	resp, page = cc.get("/console/overview?window=24h")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("overview 24h: %d", resp.StatusCode)
	}
	if !strings.Contains(page, `id="first-time"`) || strings.Contains(page, `id="first-time-unknown"`) {
		t.Errorf("24-hour window inside the archive: want the first-time table; got:\n%s", firstTimeSection(page))
	}
}

// firstTimeSection is the Overview's first-time machines panel.
func firstTimeSection(page string) string {
	i := strings.Index(page, `id="h-first"`)
	if i < 0 {
		return "(no first-time panel)"
	}
	rest := page[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
