package e2e_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// Issue 22 item 6: store outages are visible. Bound: the archive may stay unwritable this long
// before /readyz says not ready.
const outageBound = 300 * time.Millisecond

// outageGateway is a gateway with the watch on st, polling every 50ms, its servers probed once
// (so /readyz's VBO part is ready).
func outageGateway(t *testing.T, st config.Store) *app.Gateway {
	t.Helper()
	fleet, err := demo.Start(demo.Options{Orgs: 2, Sessions: 10, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	cfg := fleet.Config
	cfg.Watch = config.Watch{Enabled: true, Interval: 50 * time.Millisecond, Backfill: 24 * time.Hour, UnwritableAfter: outageBound}
	cfg.Store = st
	cfg.Webhooks = config.Webhooks{AllowHTTP: true, AllowPrivateNetworks: []string{"127.0.0.0/8"}}
	gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	gw.Health.ProbeAll(ctx)
	return gw
}

// readyz is /readyz's status and body.
type readyzBody struct {
	Ready    bool `json:"ready"`
	VBOReads bool `json:"vboReads"`
	Archive  *struct {
		Driver, Cause, Message string
		Writable, Ready        bool
	} `json:"archive"`
}

func getReadyz(t *testing.T, gw *app.Gateway) (int, readyzBody, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	gw.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var b readyzBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("/readyz %d %s: %v", rec.Code, rec.Body, err)
	}
	return rec.Code, b, rec.Body.String()
}

func getMetrics(t *testing.T, gw *app.Gateway) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+demo.AdminKey)
	rec := httptest.NewRecorder()
	gw.Handler.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// waitReadyz waits for /readyz to answer code with the archive's cause.
func waitReadyz(t *testing.T, gw *app.Gateway, code int, cause string) readyzBody {
	t.Helper()
	var got readyzBody
	var raw string
	waitFor(t, 15*time.Second, func() bool {
		var c int
		c, got, raw = getReadyz(t, gw)
		return c == code && got.Archive != nil && got.Archive.Cause == cause
	}, "/readyz ", code, " with archive cause ", cause, ": ", lazy(func() string { return raw }))
	return got
}

// assertStoreUnavailable checks r failed with STORE_UNAVAILABLE naming the cause and nothing of
// the driver's text.
func assertStoreUnavailable(t *testing.T, r gqlResult, cause string, driverText ...string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("no error, want STORE_UNAVAILABLE: %s", r.Data)
	}
	for _, e := range r.Errors {
		if e.code() != "STORE_UNAVAILABLE" || !strings.Contains(e.Message, "archive is unavailable ("+cause+")") {
			t.Fatalf("error %+v, want STORE_UNAVAILABLE (%s)", e, cause)
		}
		for _, s := range driverText {
			if strings.Contains(strings.ToLower(e.Message), s) {
				t.Fatalf("the message shows the driver's text %q: %s", s, e.Message)
			}
		}
	}
}

// A SQLite archive that cannot be written (the writer refuses writes, as a read-only file or a
// full disk would): a rule mutation answers STORE_UNAVAILABLE, rule reads keep working,
// /readyz answers 503 naming the archive and the cause once the bound has passed (saying VBO
// reads keep working), the metric says unwritable; once writable again, ready again.
func TestStoreOutageSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gw.db")
	gw := outageGateway(t, config.Store{Driver: "sqlite", Path: path})
	waitBackfill(t, gw)
	if code, b, raw := getReadyz(t, gw); code != 200 || b.Archive == nil || !b.Archive.Writable {
		t.Fatalf("/readyz before the fault = %d %s", code, raw)
	}
	db := gw.Store.Native().(*sql.DB) // the single writer connection
	refuseWrites(t, db, path, true)
	in := map[string]any{"name": "all", "url": "http://127.0.0.1:9/hook", "on": "STARTED"}
	r := post(t, gw, demo.AdminKey, createRule, map[string]any{"in": in})
	assertStoreUnavailable(t, r, "read_only", "readonly", "sqlite")
	mustPost(t, gw, demo.AdminKey, `{ watchRules { id name } }`, nil, nil) // reads keep working

	b := waitReadyz(t, gw, 503, "read_only")
	if b.Ready || !b.VBOReads || b.Archive.Ready || b.Archive.Writable || b.Archive.Driver != "sqlite" ||
		!strings.Contains(b.Archive.Message, "reads from the VBO servers keep working") {
		t.Fatalf("/readyz body %+v", b)
	}
	if m := getMetrics(t, gw); !strings.Contains(m, `vbo_gateway_archive_writable{driver="sqlite"} 0`) ||
		!strings.Contains(m, `vbo_gateway_archive_failures_total{cause="read_only",driver="sqlite"}`) {
		t.Fatalf("metrics do not tell the unwritable archive:\n%s", grepLines(m, "archive"))
	}

	refuseWrites(t, db, path, false)
	waitReadyz(t, gw, 200, "")
	mustPost(t, gw, demo.AdminKey, createRule, map[string]any{"in": in}, nil)
	if m := getMetrics(t, gw); !strings.Contains(m, `vbo_gateway_archive_writable{driver="sqlite"} 1`) {
		t.Fatalf("metrics after recovery:\n%s", grepLines(m, "archive"))
	}
}

// PostgreSQL stopped (its port refusing connections, open connections cut): servers { watcher }
// answers STORE_UNAVAILABLE per server instead of INTERNAL, /readyz 503 after the bound; once it
// is back the watcher's status reads again and /readyz is ready again.
func TestStoreOutagePostgres(t *testing.T) {
	t.Parallel()
	proxy, dsn := pgtest.NewProxy(t, pgtest.DSN(t))
	gw := outageGateway(t, config.Store{Driver: "postgres", DSNEnv: "UNUSED"}.WithDSN(dsn))
	waitBackfill(t, gw)
	const q = `{ servers { name watcher { lastPoll archivedSessions } } }`
	proxy.Stop()
	r := post(t, gw, demo.AdminKey, q, nil)
	if len(r.Errors) != 3 {
		t.Fatalf("want one error per server, got %+v", r.Errors)
	}
	assertStoreUnavailable(t, r, "connection", "dial", "refused", "eof", "127.0.0.1")
	var data struct{ Servers []struct{ Name string } }
	if err := json.Unmarshal(r.Data, &data); err != nil || len(data.Servers) != 3 {
		t.Fatalf("the servers themselves (read from the configuration) are still listed: %s", r.Data)
	}
	b := waitReadyz(t, gw, 503, "connection")
	if !b.VBOReads || b.Archive.Driver != "postgres" || !strings.Contains(b.Archive.Message, "postgres") {
		t.Fatalf("/readyz body %+v", b)
	}

	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, gw, 200, "")
	waitFor(t, 15*time.Second, func() bool { return len(post(t, gw, demo.AdminKey, q, nil).Errors) == 0 }, "the watcher's status to read again")
}

// readOnlyPaths are the SQLite files whose new connections refuse writes (refuseWrites).
var (
	readOnlyPaths sync.Map // path -> bool
)

// refuseWrites makes the SQLite file at path refuse writes (PRAGMA query_only: SQLITE_READONLY,
// as a read-only file would answer, without root tricks) or accept them again: on the store's
// writer connection db, and on any connection opened to it meanwhile (database/sql may replace
// the writer's connection after an error).
// init registers the read-only hook before any test runs: RegisterConnectionHook writes a
// process-wide setting that every SQLite connection reads, so registering it while parallel
// tests open connections was a data race (go test -race). It acts only on the paths
// refuseWrites names.
func init() {
	sqlite.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, dsn string) error {
		var err error
		readOnlyPaths.Range(func(p, v any) bool {
			if v.(bool) && strings.Contains(dsn, p.(string)+"?") {
				_, err = c.ExecContext(context.Background(), "PRAGMA query_only = ON", nil)
			}
			return true
		})
		return err
	})
}

func refuseWrites(t *testing.T, db *sql.DB, path string, on bool) {
	t.Helper()
	readOnlyPaths.Store(path, on)
	pragma := "PRAGMA query_only = OFF"
	if on {
		pragma = "PRAGMA query_only = ON"
	}
	if _, err := db.ExecContext(t.Context(), pragma); err != nil {
		t.Fatal(err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
