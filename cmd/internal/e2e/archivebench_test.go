package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// BenchmarkArchiveReads: the dashboard, the overhead query and a tenant's filtered list over
// 90 days (3 servers x 1,500 sessions, L = 0), read from VBO (reads.from: upstream, the
// listing and immutable caches off, so every op reads VBO as a cold gateway would) and from
// the watch's archive (reads.from: archive, SQLite, after the backfill), on one gateway each.
// upstream-calls/op is what each op made; ns/op and cpu-ns/op include the in-process
// simulators' work for those calls (none from the archive).
func BenchmarkArchiveReads(b *testing.B) {
	tenantQuery := fmt.Sprintf(`{"query":"{ restoreSessions(first: 50, filter: {startTimeFrom: \"%s\", results: [FAILED, WARNING]}) { pageInfo { hasNextPage } edges { node { id name startTime type result initiatedBy } } } }"}`,
		benchNow.Add(-90*24*time.Hour).Format(time.RFC3339))
	for _, from := range []string{config.ReadsUpstream, config.ReadsArchive} {
		f := benchFleet(b, nil)
		h := benchReadsGateway(b, f, from)
		for _, q := range []struct{ name, key, body string }{
			{"dashboard", demo.AdminKey, benchDashboardQuery},
			{"overhead", demo.AdminKey, benchOverheadQuery},
			{"tenant-filtered-90d", demo.TenantKeyPrefix + "1", tenantQuery},
		} {
			b.Run(from+"/"+q.name, func(b *testing.B) {
				benchDoAs(b, h, q.key, q.body)
				benchResetCalls(f)
				b.ReportAllocs()
				loop(b, func() { benchDoAs(b, h, q.key, q.body) })
				b.ReportMetric(float64(benchCalls(f))/float64(b.N), "upstream-calls/op")
			})
		}
	}
}

// benchReadsGateway runs a gateway with the watch on (polling once: its backfill of the whole
// 90 days, then hourly) reading sessions from where from says, once the backfill is done.
func benchReadsGateway(b *testing.B, f *demo.Fleet, from string) http.Handler {
	b.Helper()
	cfg := f.Config
	cfg.Cache.ListingTTL, cfg.Cache.MaxBytes = -time.Second, -1
	cfg.Watch = config.Watch{Enabled: true, Interval: time.Hour, Backfill: time.Since(benchNow) + 95*24*time.Hour, BackfillConcurrency: 8}
	cfg.Watch.Sweep.Interval = -time.Second
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(b.TempDir(), "gw.db")}
	// maxLag 1h: the organisation lists the gateway keeps for archive reads are refreshed in
	// the background every maxLag / 2 (3 calls per refresh here, whatever the request rate);
	// with 1 h no refresh falls inside the measured ops, so upstream-calls/op is the requests'.
	cfg.Reads = config.Reads{From: from, MaxLag: time.Hour}
	gw, err := runGateway(b, b.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	waitFor(b, 5*time.Minute, func() bool {
		var st struct {
			Data struct {
				Servers []struct{ Watcher *struct{ BackfillDone bool } }
			}
		}
		_ = json.Unmarshal(benchBody(b, gw.Handler, demo.AdminKey, `{"query":"{ servers { watcher { backfillDone } } }"}`), &st)
		done := len(st.Data.Servers) == 3
		for _, s := range st.Data.Servers {
			done = done && s.Watcher != nil && s.Watcher.BackfillDone
		}
		return done
	}, "the backfill done")
	return gw.Handler
}

func benchBody(b *testing.B, h http.Handler, key, body string) []byte {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
		b.Fatalf("HTTP %d: %.500s", rec.Code, rec.Body.String())
	}
	return rec.Body.Bytes()
}

func benchDoAs(b *testing.B, h http.Handler, key, body string) { benchBody(b, h, key, body) }
