package e2e_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// consoleBenchSessions is the archive size the console's Overview is measured at (issue 26:
// under 300 ms of server time on SQLite).
const consoleBenchSessions = 100_000

// fillConsoleArchive archives n sessions of the fleet's organisations over the last 89 days
// straight into the SQLite store at path (no watcher: the benchmark measures the reads).
func fillConsoleArchive(b *testing.B, f *demo.Fleet, path string, n int) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: store.DriverSQLite, Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	base := now.Add(-89 * 24 * time.Hour)
	r := rand.New(rand.NewPCG(26, 26))
	types := []upstream.RestoreSessionType{"Vex", "Veod", "Vesp", "Vet"}
	results := []upstream.RestoreSessionResult{"Success", "Success", "Success", "Warning", "Failed"}
	hosts := []string{"ADMIN-PC01 (via: 198.51.100.7)", "ADMIN-PC02", "VBO-CONSOLE", "HELPDESK-07 (via: 203.0.113.9)", "LAPTOP-X1", ""}
	users := []string{"CONTOSO\\alice", "CONTOSO\\bob", "FABRIKAM\\carol", "svc-restore", "CONTOSO\\dave"}
	servers := f.Config.Servers
	perServer := map[string][]store.Change{}
	for i := range n {
		srv := servers[r.IntN(len(servers))].Name
		orgs := f.Sims[srv].Organizations()
		org := orgs[r.IntN(len(orgs))]
		start := base.Add(time.Duration(r.Int64N(int64(88 * 24 * time.Hour))))
		end := start.Add(time.Duration(r.IntN(3600)) * time.Second)
		s := upstream.RestoreSession{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Organization: org.Name,
			Name: "Restore session", Type: types[r.IntN(len(types))], State: upstream.SessionStateStopped,
			Result: results[r.IntN(len(results))], CreationTime: start, EndTime: &end, InitiatedBy: users[r.IntN(len(users))],
			ClientHost: hosts[r.IntN(len(hosts))]}
		ch := upstream.ParseClientHost(s.ClientHost)
		perServer[srv] = append(perServer[srv], store.Change{Session: store.Session{Server: srv, Session: s, OrgID: org.ID,
			ClientMachine: ch.MachineName, ViaAddress: ch.ViaAddress, EventsComplete: true}})
	}
	for _, s := range servers {
		if _, err := st.EnsureServer(ctx, s.Name, base); err != nil {
			b.Fatal(err)
		}
		l, ok, err := st.AcquireLease(ctx, s.Name, "bench", time.Second)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		changes := perServer[s.Name]
		for len(changes) > 0 {
			batch := changes[:min(len(changes), 2000)]
			changes = changes[len(batch):]
			if err := st.Archive(ctx, l, batch, store.Checkpoint{BackfillDone: true, HighWater: now}, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.SetPolled(ctx, l, now, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsoleOverview renders the console's Overview (the default 30 days and 90 days, every chart and table, as
// a provider admin with the per-tenant rollup, and as a tenant) over 100,000 archived sessions
// on SQLite, through the gateway's handler: the server time of one page.
//
//	go test ./cmd/internal/e2e/ -run '^$' -bench ConsoleOverview -benchtime 20x
func BenchmarkConsoleOverview(b *testing.B) {
	f, err := demo.Start(demo.Options{Orgs: 6, Sessions: 10})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Close)
	path := filepath.Join(b.TempDir(), "gw.db")
	fillConsoleArchive(b, f, path, consoleBenchSessions)
	cfg := f.Config.WithCursorSecret([]byte(testCursorSecret))
	cfg.Watch = config.Watch{Enabled: true}
	cfg.Store = config.Store{Driver: "sqlite", Path: path}
	cfg.Reads = config.Reads{From: config.ReadsArchive}
	cfg.Limits.MaxUpstreamCalls, cfg.Limits.MaxResponseObjects = 1<<30, 1<<40
	// app.New alone: the watcher does not run, the archive stays as filled.
	gw, err := app.New(b.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(gw.Close)
	for _, who := range []struct{ name, key string }{{"provider-admin", demo.AdminKey}, {"tenant", demo.TenantKey(1)}} {
		cookie := consoleSignIn(b, gw.Handler, who.key)
		for _, window := range []string{"30d", "90d"} {
			page := func() {
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/overview?window="+window, nil)
				req.RemoteAddr = "127.0.0.1:40000" // as consoleSignIn: a browser on loopback
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				gw.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="days-data"`) {
					b.Fatalf("overview: %d %.500s", rec.Code, rec.Body.String())
				}
			}
			b.Run(who.name+"/"+window, func(b *testing.B) {
				page()
				b.ReportAllocs()
				loop(b, page) // ns/op: the page's server time; cpu-ns/op: the process's CPU for it
			})
		}
	}
}

// consoleSignIn signs in to the console with an API key and returns the session cookie.
func consoleSignIn(tb testing.TB, h http.Handler, key string) *http.Cookie {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/console/signin/key", strings.NewReader(url.Values{"key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "127.0.0.1:40000" // a browser on loopback: the plain-http cookie (never judged from Host)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "vbo-console" {
			return c
		}
	}
	tb.Fatalf("sign-in with %s: %d %s", key, rec.Code, rec.Header().Get("Location"))
	return nil
}
