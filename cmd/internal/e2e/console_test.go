package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// consoleScreenshots writes the console's pages to docs/console/ for the README
// (go test ./cmd/internal/e2e -run TestConsoleInBrowser -console.screenshots).
// consoleLogOut receives the test gateway's log (set it to os.Stderr to read it).
var consoleLogOut io.Writer = io.Discard

var consoleScreenshots = flag.Bool("console.screenshots", false, "write the console's screenshots to docs/console/")

// consoleEnv is a gateway with the console on (API-key and OIDC sign-in against mockoidc), its
// simulators, a webhook receiver, served on loopback.
type consoleEnv struct {
	gw    *app.Gateway
	url   string
	oidc  *mockoidc.MockOIDC
	fleet *demo.Fleet
	cfg   *config.Config

	hooksMu sync.Mutex
	hooks   []string // webhook-id of each delivery the receiver got
	rcv     *httptest.Server
}

func startConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("mockoidc: %v", err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	fleet, err := demo.Start(demo.Options{Orgs: 6, Sessions: 400})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(fleet.Close)
	e := &consoleEnv{oidc: m, fleet: fleet}
	e.rcv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hooksMu.Lock()
		e.hooks = append(e.hooks, r.Header.Get("webhook-id"))
		e.hooksMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(e.rcv.Close)
	// The gateway's listener first: the OIDC redirect URL names its address.
	srv := httptest.NewUnstartedServer(nil)
	e.url = "http://" + srv.Listener.Addr().String()
	cfg := fleet.Config.WithCursorSecret([]byte(testCursorSecret))
	cfg.Watch = config.Watch{Enabled: true, Interval: 100 * time.Millisecond}
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "gw.db")}
	cfg.Webhooks = demo.ReceiverPolicy()
	cfg.Limits.MaxUpstreamCalls, cfg.Limits.MaxResponseObjects = 1<<30, 1<<40
	cfg.Auth.JWT = &config.JWT{JWKSURL: m.JWKSEndpoint(), Issuer: m.Issuer(), Audience: "vbo-gateway", TenantClaim: "tenant", RoleClaim: "role"}
	o := config.ConsoleOIDC{ClientID: m.ClientID, RedirectURL: e.url + config.ConsoleCallbackPath}.WithClientSecret(m.ClientSecret)
	cfg.Console = config.Console{APIKeySignIn: true, OIDC: &o}
	cfg.Restore = config.Restore{Enabled: true, IdleTimeout: time.Minute, ReapInterval: time.Second, MaxOpenSessionsPerPerson: 5,
		StepsPerMinute: 6000}
	// The Restore page's item actions: the organisations' credentials, tenant 1's restores to the
	// original location approved by a second admin, who may restore to the original location
	// with an API key.
	withRestoreItemActions(fleet, cfg)
	cfg.Auth.APIKeys = append(slices.Clone(cfg.Auth.APIKeys),
		config.APIKey{Name: raAdmin2, SHA256: demo.KeySHA256(raAdmin2), Tenant: "tenant-1", Role: "TENANT_ADMIN", AllowRestoreToOriginal: true})
	e.cfg = cfg
	gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(consoleLogOut, nil))})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	e.gw = gw
	srv.Config.Handler = gw.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	// The archive holds the simulators' history before the pages are compared with GraphQL.
	waitFor(t, 60*time.Second, func() bool {
		var d struct {
			Servers []struct {
				Watcher *struct {
					BackfillDone bool `json:"backfillDone"`
				} `json:"watcher"`
			} `json:"servers"`
		}
		if err := e.gql(demo.AdminKey, `{ servers { watcher { backfillDone } } }`, nil, &d); err != nil {
			return false
		}
		for _, s := range d.Servers {
			if s.Watcher == nil || !s.Watcher.BackfillDone {
				return false
			}
		}
		return len(d.Servers) > 0
	}, "the watch's backfill")
	return e
}

// gql asks the gateway's /graphql over HTTP with an API key.
func (e *consoleEnv) gql(key, q string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql: %v", r.Errors)
	}
	return json.Unmarshal(r.Data, out)
}

// firstOrg is the first organisation the key's viewer sees, and the simulator serving it.
func (e *consoleEnv) firstOrg(t *testing.T, key string) (string, *vbosim.Server) {
	t.Helper()
	var orgs struct {
		Viewer struct {
			Organizations []struct {
				Name   string `json:"name"`
				Server struct {
					Name string `json:"name"`
				} `json:"server"`
			} `json:"organizations"`
		} `json:"viewer"`
	}
	if err := e.gql(key, `{ viewer { organizations { name server { name } } } }`, nil, &orgs); err != nil {
		t.Fatal(err)
	}
	if len(orgs.Viewer.Organizations) == 0 {
		t.Fatal("the viewer sees no organisation")
	}
	o := orgs.Viewer.Organizations[0]
	return o.Name, e.fleet.Sims[o.Server.Name]
}

func (e *consoleEnv) deliveries() int {
	e.hooksMu.Lock()
	defer e.hooksMu.Unlock()
	return len(e.hooks)
}

// oidcUser is a person at the test issuer, with the gateway's tenant and role claims and,
// when authTime is not zero, an auth_time claim (Unix seconds).
type oidcUser struct {
	sub, tenant, role string
	authTime          int64
}

func (u oidcUser) ID() string { return u.sub }
func (u oidcUser) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]string{"sub": u.sub})
}
func (u oidcUser) Claims(_ []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	claims := jwt.MapClaims{"iss": c.Issuer, "sub": u.sub, "aud": c.Audience, "exp": c.ExpiresAt, "iat": c.IssuedAt,
		"nbf": c.NotBefore, "nonce": c.Nonce, "tenant": u.tenant, "role": u.role}
	if u.authTime != 0 {
		claims["auth_time"] = u.authTime
	}
	return claims, nil
}

// consoleChromium is Debian's chromium, or the one on PATH.
func consoleChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("chromium not found (/usr/bin/chromium; apt-get install chromium): the console is not tested in a browser")
	return ""
}

// browserProblems collects what the page reports as wrong: exceptions, console errors, CSP
// violations (reported as log entries).
type browserProblems struct {
	mu   sync.Mutex
	list []string
}

func (b *browserProblems) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, s)
}

func (b *browserProblems) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.list
	b.list = nil
	return out
}

func consoleBrowser(t *testing.T) (context.Context, *browserProblems) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(consoleChromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	t.Cleanup(cancel)
	// Started here, and once more if it does not come up (Debian's chromium once exited
	// before announcing its DevTools endpoint on a loaded CI machine; see the report
	// summary's browser test). A second failure fails the test.
	var bctx context.Context
	for attempt := 1; bctx == nil; attempt++ {
		actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
		c, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(c); err != nil { // no steps: starts the browser and its first tab
			bcancel()
			acancel()
			if attempt == 2 {
				t.Fatalf("chromium did not start twice: %v", err)
			}
			t.Logf("chromium did not start (%v); starting it again", err)
			continue
		}
		t.Cleanup(acancel)
		t.Cleanup(bcancel)
		bctx = c
	}
	probs := &browserProblems{}
	err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			probs.add("exception: " + ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				probs.add("console.error")
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				probs.add("log: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, enable := range []cdp.Command[cdp.Empty, cdp.Empty]{cdplog.Enable, runtime.Enable} {
		if _, err := chromedp.Call(bctx, enable, cdp.Empty{}); err != nil {
			t.Fatalf("chromium: %v", err)
		}
	}
	return bctx, probs
}

// axeSource is axe-core, vendored for the tests (testdata; never served).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "console", "testdata", "axe-core-4.11.0", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(b)
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// checkPage asserts the page loaded without an error in the browser (CSP included) and that
// axe-core finds no serious or critical accessibility violation.
func checkPage(t *testing.T, ctx context.Context, probs *browserProblems, axe, name string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+"\n;true")); err != nil { // DevTools evaluation: the page's CSP does not bind the test's own script
		t.Fatalf("%s: load axe: %v", name, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical"))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe: %v", name, err)
	}
	for _, v := range violations {
		t.Errorf("%s: accessibility (%s) %s: %s %v", name, v.Impact, v.ID, v.Help, v.Nodes)
	}
	if p := probs.take(); len(p) > 0 {
		t.Errorf("%s: the browser reported problems (CSP or script errors): %v", name, p)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*consoleScreenshots {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// texts reads the text of every element matching sel.
func texts(ctx context.Context, sel string) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(`+jsString(sel)+`)).map(e => e.textContent.trim())`))
}

// must runs one browser action that returns a value, failing the test on error.
func must[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func signInWithKey(t *testing.T, ctx context.Context, base, key string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/signin"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), key),
		chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS("#summary")),
	)
	if err != nil {
		t.Fatalf("sign in with %s: %v", key, err)
	}
}

func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action="/console/signout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#key"))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
}

// TestConsoleInBrowser drives the console in Debian's chromium: sign-in through a test OpenID
// Connect provider and with an API key, every page's numbers against GraphQL's answer for the
// same caller, a tenant never shown another tenant's rows, the Live page showing a new
// simulated session, a rule created in the page delivering to a receiver, and on every page
// no script or CSP error and no serious or critical axe-core violation. One browser, one
// gateway, in sequence (they share the browser's cookies).
func TestConsoleInBrowser(t *testing.T) {
	e := startConsoleEnv(t)
	ctx, probs := consoleBrowser(t)
	axe := axeSource(t)
	base := e.url

	t.Run("oidc sign-in", func(t *testing.T) {
		e.oidc.QueueUser(oidcUser{sub: "auditor@tenant-1.example", tenant: "tenant-1", role: "TENANT_ADMIN"})
		var who string
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/console/sessions"),
			chromedp.WaitVisible(chromedp.CSS(`a[href^="/console/auth/start"]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "signin")
		checkPage(t, ctx, probs, axe, "sign-in")
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err = chromedp.Do(sctx,
			chromedp.Click(chromedp.CSS(`a[href^="/console/auth/start"]`)),
			chromedp.WaitVisible(chromedp.CSS("#sessions")), // back where the person was going
		)
		if err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("OIDC sign-in: %v (at %s: %.300s)", err, loc, body)
		}
		who = must(t, ctx, chromedp.Text(chromedp.CSS(".subject")))
		if !strings.Contains(who, "auditor@tenant-1.example") || !strings.Contains(who, "TENANT_ADMIN") || !strings.Contains(who, "tenant-1") {
			t.Errorf("signed in as %q, want the ID token's subject, tenant-1's TENANT_ADMIN", who)
		}
		signOut(t, ctx)
	})

	// Tenant 1's organisation names and tenant 2's, as GraphQL tells each.
	orgNames := func(key string) []string {
		var d struct {
			Viewer struct {
				Organizations []struct {
					Name string `json:"name"`
				} `json:"organizations"`
			} `json:"viewer"`
		}
		if err := e.gql(key, `{ viewer { organizations { name } } }`, nil, &d); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range d.Viewer.Organizations {
			out = append(out, o.Name)
		}
		return out
	}
	mine, theirs := orgNames(demo.TenantKey(1)), orgNames(demo.TenantKey(2))
	if len(mine) == 0 || len(theirs) == 0 {
		t.Fatalf("tenant organisations: %v / %v", mine, theirs)
	}

	t.Run("overview equals GraphQL", func(t *testing.T) {
		signInWithKey(t, ctx, base, demo.TenantKey(1))
		from := must(t, ctx, chromedp.AttributeValue(chromedp.CSS("#summary"), "data-from")).Value
		to := must(t, ctx, chromedp.AttributeValue(chromedp.CSS("#summary"), "data-to")).Value
		total := must(t, ctx, chromedp.Text(chromedp.CSS("#total-sessions")))
		var d struct {
			Total struct {
				Rows []struct {
					Sessions int `json:"sessions"`
				} `json:"rows"`
			} `json:"total"`
			People struct {
				Rows []struct {
					InitiatedBy *string `json:"initiatedBy"`
					Sessions    int     `json:"sessions"`
				} `json:"rows"`
			} `json:"people"`
			Orgs struct {
				Rows []struct {
					Organization struct {
						Name string `json:"name"`
					} `json:"organization"`
				} `json:"rows"`
			} `json:"orgs"`
		}
		if err := e.gql(demo.TenantKey(1), `query($from: DateTime!, $to: DateTime!) {
			total: restoreAudit(from: $from, to: $to, groupBy: []) { rows { sessions } }
			people: restoreAudit(from: $from, to: $to, groupBy: [INITIATED_BY]) { rows { initiatedBy sessions } }
			orgs: restoreAudit(from: $from, to: $to, groupBy: [ORGANIZATION]) { rows { organization { name } } } }`,
			map[string]any{"from": from, "to": to}, &d); err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, r := range d.Total.Rows {
			want += r.Sessions
		}
		if total != fmt.Sprint(want) || want == 0 {
			t.Errorf("overview shows %s sessions, GraphQL restoreAudit %d for the same window", total, want)
		}
		// The top people table: each row's count is GraphQL's for that account.
		counts := map[string]int{}
		for _, r := range d.People.Rows {
			name := "(none)"
			if r.InitiatedBy != nil && *r.InitiatedBy != "" {
				name = *r.InitiatedBy
			}
			counts[name] = r.Sessions
		}
		people, err := texts(ctx, "#people tbody tr")
		if err != nil || len(people) == 0 {
			t.Fatalf("people rows: %v %v", people, err)
		}
		cells, _ := texts(ctx, "#people tbody td")
		for i := 0; i+1 < len(cells); i += 4 {
			if fmt.Sprint(counts[cells[i]]) != cells[i+1] {
				t.Errorf("top people: %s has %s sessions on the page, %d in GraphQL", cells[i], cells[i+1], counts[cells[i]])
			}
		}
		// The chart's table has one row per day.
		days, _ := texts(ctx, "#days-table tbody tr")
		if len(days) == 0 {
			t.Error("the chart's numbers table is empty")
		}
		shown, _ := texts(ctx, "#orgs tbody td:first-child")
		for _, o := range shown {
			if !slices.Contains(mine, o) {
				t.Errorf("tenant-1's overview lists organisation %q, not one of its own %v", o, mine)
			}
		}
		screenshot(t, ctx, "overview")
		checkPage(t, ctx, probs, axe, "overview")
	})

	t.Run("overview at phone width", func(t *testing.T) {
		err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(base+"/console/overview"), chromedp.WaitVisible(chromedp.CSS("#summary")))
		if err != nil {
			t.Fatal(err)
		}
		scroll := must(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		inner := must(t, ctx, chromedp.Evaluate[int](`window.innerWidth`))
		if scroll > inner+1 {
			t.Errorf("at phone width the page scrolls sideways: %d px wide in a %d px window", scroll, inner)
		}
		screenshot(t, ctx, "overview-phone")
		checkPage(t, ctx, probs, axe, "overview (phone)")
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("sessions equal GraphQL and stay in the tenant", func(t *testing.T) {
		err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/sessions?window=90d"), chromedp.WaitVisible(chromedp.CSS("#sessions")))
		if err != nil {
			t.Fatal(err)
		}
		hrefs := must(t, ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#sessions tbody a")).map(a => a.getAttribute("href"))`))
		orgs, _ := texts(ctx, "#sessions tbody td:nth-child(2)")
		for _, o := range orgs {
			if !slices.Contains(mine, o) {
				t.Errorf("tenant-1's sessions list organisation %q, not one of its own %v", o, mine)
			}
		}
		now := time.Now().UTC()
		var d struct {
			RestoreSessions struct {
				Edges []struct {
					Node struct {
						ID string `json:"id"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"restoreSessions"`
		}
		// The page's window ends when it was rendered; GraphQL's a moment later holds the same
		// sessions (the simulators start none on their own here).
		if err := e.gql(demo.TenantKey(1), `query($f: RestoreSessionFilter) { restoreSessions(first: 50, filter: $f) { edges { node { id } } } }`,
			map[string]any{"f": map[string]any{"startTimeFrom": now.Add(-90 * 24 * time.Hour).Add(-time.Minute).Format(time.RFC3339), "startTimeTo": now.Format(time.RFC3339)}}, &d); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, e := range d.RestoreSessions.Edges {
			want = append(want, "/console/sessions/"+e.Node.ID)
		}
		if len(hrefs) == 0 || !slices.Equal(hrefs, want) {
			t.Errorf("sessions page links %d sessions, GraphQL's first page %d; differ: %v", len(hrefs), len(want), !slices.Equal(hrefs, want))
		}
		screenshot(t, ctx, "sessions")
		checkPage(t, ctx, probs, axe, "sessions")
		// One session's page, with its timeline.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+hrefs[0]), chromedp.WaitVisible(chromedp.CSS("#events"))); err != nil {
			t.Fatal(err)
		}
		org := must(t, ctx, chromedp.Text(chromedp.CSS("#s-org")))
		if !slices.ContainsFunc(mine, func(o string) bool { return strings.HasPrefix(org, o) }) {
			t.Errorf("session page organisation %q", org)
		}
		screenshot(t, ctx, "session")
		checkPage(t, ctx, probs, axe, "session")
		// Another tenant's session reads as missing.
		var other struct {
			RestoreSessions struct {
				Edges []struct {
					Node struct {
						ID string `json:"id"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"restoreSessions"`
		}
		if err := e.gql(demo.TenantKey(2), `{ restoreSessions(first: 1) { edges { node { id } } } }`, nil, &other); err != nil || len(other.RestoreSessions.Edges) == 0 {
			t.Fatalf("tenant-2's sessions: %v", err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/sessions/"+other.RestoreSessions.Edges[0].Node.ID)); err != nil {
			t.Fatal(err)
		}
		body := must(t, ctx, chromedp.Text(chromedp.CSS("main")))
		if strings.Contains(body, "Events") || !strings.Contains(strings.ToLower(body), "not found") {
			t.Errorf("tenant-1 opening tenant-2's session sees %q, want not found", body)
		}
		_ = probs.take() // the 404 answer itself is logged by the browser
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/sessions?window=90d"), chromedp.WaitVisible(chromedp.CSS("#sessions"))); err != nil {
			t.Fatal(err)
		}
		page := must(t, ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		for _, o := range theirs {
			if !slices.Contains(mine, o) && strings.Contains(page, o) {
				t.Errorf("tenant-1's sessions page names tenant-2's organisation %q", o)
			}
		}
	})

	t.Run("live shows a new session", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/live"), chromedp.WaitVisible(chromedp.CSS("#live"))); err != nil {
			t.Fatalf("live page: %v", err)
		}
		must(t, ctx, chromedp.Poll[bool](`document.getElementById("live-status").textContent.startsWith("Connected")`, chromedp.WithPollingTimeout(20*time.Second)))
		org, sim := e.firstOrg(t, demo.TenantKey(1))
		who := "live-test@" + strings.ReplaceAll(strings.ToLower(org), " ", "") + ".example"
		added := sim.AddSession(upstream.RestoreSession{Organization: org, InitiatedBy: who})
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Array.from(document.querySelectorAll("#live tbody td")).some(td => td.textContent === `+jsString(who)+`)`,
			chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("the new session never showed on the Live page: %v", err)
		}
		// When it ends, it shows again with its result.
		if err := sim.StopSession(added.ID, upstream.SessionResultFailed); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Array.from(document.querySelectorAll("#live tbody tr")).some(tr => tr.cells[0].textContent === "ended" && tr.cells[5].textContent === `+jsString(who)+` && tr.cells[7].textContent === "FAILED")`,
			chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("the session's end never showed on the Live page: %v", err)
		}
		screenshot(t, ctx, "live")
		checkPage(t, ctx, probs, axe, "live")
		signOut(t, ctx)
	})

	t.Run("a rule created in the page delivers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		signInWithKey(t, ctx, base, demo.TenantAdminKey(1))
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/console/rules/new"), chromedp.WaitVisible(chromedp.CSS("#r-name")),
			chromedp.SendKeys(chromedp.CSS("#r-name"), "Console test rule"),
			chromedp.SendKeys(chromedp.CSS("#r-url"), e.rcv.URL+"/hook"),
		)
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "rule-new")
		checkPage(t, ctx, probs, axe, "new rule")
		err = chromedp.Do(ctx,
			chromedp.Submit(chromedp.CSS("#r-name")),
			chromedp.WaitVisible(chromedp.CSS("#secret")),
		)
		if err != nil {
			t.Fatal(err)
		}
		secret := must(t, ctx, chromedp.Value(chromedp.CSS("#secret")))
		if !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("secret shown %q, want whsec_...", secret)
		}
		checkPage(t, ctx, probs, axe, "secret")
		before := e.deliveries()
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`a[href^="/console/rules/"]`)),
			chromedp.WaitVisible(chromedp.CSS("#test-rule")),
			chromedp.Click(chromedp.CSS("#test-rule")),
			chromedp.WaitVisible(chromedp.CSS("#deliveries")),
		)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, func() bool { return e.deliveries() > before }, "the test delivery at the receiver")
		// The page shows it delivered, with its attempt.
		waitFor(t, 20*time.Second, func() bool {
			var st []string
			if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#deliveries"))); err != nil {
				return false
			}
			st, _ = texts(ctx, "#deliveries td.status")
			return slices.Contains(st, "SUCCEEDED")
		}, "the delivery shown SUCCEEDED")
		screenshot(t, ctx, "rule")
		checkPage(t, ctx, probs, axe, "rule")
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/rules"), chromedp.WaitVisible(chromedp.CSS("#rules"))); err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "rules")
		checkPage(t, ctx, probs, axe, "rules")
		signOut(t, ctx)
	})

	t.Run("an operator restores an item to another folder", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		signInWithKey(t, ctx, base, demo.TenantOperatorKey(1))
		const reason = "ticket 26: a folder deleted by mistake"
		err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/restore"), chromedp.WaitVisible(chromedp.CSS("#start-form")))
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "restore")
		checkPage(t, ctx, probs, axe, "restore")
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#r-type"), "EXCHANGE"), chromedp.SendKeys(chromedp.CSS("#r-reason"), reason),
			chromedp.Click(chromedp.CSS(`#start-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#browse"))); err != nil {
			t.Fatal(err)
		}
		sessionPath := must(t, ctx, chromedp.Evaluate[string](`location.pathname`))
		id, _ := url.PathUnescape(strings.TrimPrefix(sessionPath, "/console/restore/"))
		if got := must(t, ctx, chromedp.Text(chromedp.CSS("#r-reason-shown"))); got != reason {
			t.Errorf("the session's reason shows %q", got)
		}
		names, _ := texts(ctx, "#browse .b-name")
		var emails []string
		for _, n := range names {
			if _, email, ok := strings.Cut(n, " · "); ok {
				emails = append(emails, email)
			}
		}
		if len(emails) < 2 {
			t.Fatalf("mailboxes %v", names)
		}
		screenshot(t, ctx, "restore-browse")
		checkPage(t, ctx, probs, axe, "restore browse")
		openKind := func(kind string) {
			t.Helper()
			href := must(t, ctx, chromedp.Evaluate[string](`(Array.from(document.querySelectorAll("#browse a.b-open")).find(a => a.textContent === `+jsString(kind)+`) || {}).href || ""`))
			if href == "" {
				t.Fatalf("nothing to open as %s", kind)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(href), chromedp.WaitVisible(chromedp.CSS("#browse"))); err != nil {
				t.Fatal(err)
			}
		}
		openKind("MAIL_FOLDER")
		openKind("MAIL_ITEM")
		items := must(t, ctx, chromedp.Evaluate[string](`location.href`))
		item, _ := texts(ctx, "#pick-0-name")
		// The confirmation a restore to the original location asks for first (nothing acts yet).
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#pick-0")), chromedp.Click(chromedp.CSS("#act-original")),
			chromedp.WaitVisible(chromedp.CSS("#confirm-form"))); err != nil {
			t.Fatal(err)
		}
		if got, _ := texts(ctx, "#confirm-items li"); !slices.Equal(got, item) {
			t.Errorf("the confirmation lists %v, selected %v", got, item)
		}
		screenshot(t, ctx, "restore-confirm")
		checkPage(t, ctx, probs, axe, "restore confirm")
		// Restore the item to another mailbox's folder.
		if err := chromedp.Do(ctx, chromedp.Navigate(items), chromedp.WaitVisible(chromedp.CSS("#items-form")),
			chromedp.Click(chromedp.CSS("#pick-0")), chromedp.SendKeys(chromedp.CSS("#i-reason"), "put it back"),
			chromedp.SendKeys(chromedp.CSS("#i-target"), emails[1]), chromedp.SendKeys(chromedp.CSS("#i-folder"), "Recovered")); err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "restore-items")
		checkPage(t, ctx, probs, axe, "restore items")
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#act-to")), chromedp.WaitVisible(chromedp.CSS("#result-state"))); err != nil {
			t.Fatal(err)
		}
		if st := must(t, ctx, chromedp.Text(chromedp.CSS("#result-state"))); st != "SUCCEEDED" {
			t.Errorf("restore to another folder: %s", st)
		}
		screenshot(t, ctx, "restore-result")
		checkPage(t, ctx, probs, axe, "restore result")
		// The session page lists the action, as GraphQL records it.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#result-session")), chromedp.WaitVisible(chromedp.CSS(".a-kind"))); err != nil {
			t.Fatal(err)
		}
		kinds, _ := texts(ctx, ".a-kind")
		if want := e.actionKinds(t, demo.TenantOperatorKey(1), id); !slices.Contains(kinds, "RESTORE_TO") || !slices.Equal(kinds, want) {
			t.Errorf("the session page's actions %v, GraphQL's %v", kinds, want)
		}
		screenshot(t, ctx, "session-actions")
		checkPage(t, ctx, probs, axe, "session with actions")
		signOut(t, ctx)
		// The tenant admin's Approvals page; the auditor has no Restore or Approvals link.
		signInWithKey(t, ctx, base, demo.TenantAdminKey(1))
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/approvals"), chromedp.WaitVisible(chromedp.CSS("#approvals"))); err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "approvals")
		checkPage(t, ctx, probs, axe, "approvals")
		signOut(t, ctx)
		signInWithKey(t, ctx, base, demo.TenantKey(1))
		if nav, _ := texts(ctx, `nav[aria-label="Pages"] a`); slices.Contains(nav, "Restore") || slices.Contains(nav, "Approvals") || !slices.Contains(nav, "Sessions") {
			t.Errorf("the auditor's navigation: %v", nav)
		}
		signOut(t, ctx)
	})

	t.Run("provider admin picks a tenant", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		signInWithKey(t, ctx, base, demo.AdminKey)
		rollup, _ := texts(ctx, "#rollup tbody td:first-child")
		if !slices.Contains(rollup, "tenant-1") || !slices.Contains(rollup, "tenant-2") {
			t.Errorf("the per-tenant rollup lists %v, want every tenant", rollup)
		}
		screenshot(t, ctx, "overview-admin")
		checkPage(t, ctx, probs, axe, "overview (admin)")
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/sessions?tenant=tenant-1&window=90d"),
			chromedp.WaitVisible(chromedp.CSS("#sessions"))); err != nil {
			t.Fatal(err)
		}
		orgs, _ := texts(ctx, "#sessions tbody td:nth-child(2)")
		for _, o := range orgs {
			if !slices.Contains(mine, o) {
				t.Errorf("the admin's tenant-1 view lists %q", o)
			}
		}
		signOut(t, ctx)
	})
}

// TestConsoleSessionsAndCSRF checks the console's sessions over plain HTTP: the cookie's
// attributes, the security headers, a change without the CSRF token or from another origin
// refused, sign-out ending the session in the store, and a session whose API key a reload
// removed signed out on its next request.
func TestConsoleSessionsAndCSRF(t *testing.T) {
	e := startConsoleEnv(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	get := func(path string) (*http.Response, string) {
		resp, err := c.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get("/console/overview"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/signin") {
		t.Fatalf("signed out: %d %s, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := post("/console/signin/key", url.Values{"key": {"not-a-key"}}, ""); !strings.Contains(resp.Header.Get("Location"), "error=key") {
		t.Errorf("a wrong key: %s", resp.Header.Get("Location"))
	}
	if resp := post("/console/signin/key", url.Values{"key": {demo.TenantAdminKey(1)}}, "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in posted from another origin: %d, want 403", resp.StatusCode)
	}
	resp := post("/console/signin/key", url.Values{"key": {demo.TenantAdminKey(1)}}, e.url)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		cookie = ck
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Name != "vbo-console" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure on loopback http", cookie)
	}
	if strings.Contains(cookie.Value, demo.TenantAdminKey(1)) {
		t.Error("the cookie holds the API key")
	}
	r, body := get("/console/rules")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("rules: %d", r.StatusCode)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "<script>") || strings.Contains(body, "localStorage") {
		t.Error("inline script allowed or present")
	}
	csrf := between(body, `name="csrf" value="`, `"`)
	if csrf == "" {
		t.Fatal("no CSRF token in the page")
	}
	form := url.Values{"name": {"x"}, "url": {e.rcv.URL}, "on": {"STARTED"}, "enabled": {"on"}}
	if resp := post("/console/rules", form, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a rule posted without the CSRF token: %d, want 403", resp.StatusCode)
	}
	form.Set("csrf", csrf)
	if resp := post("/console/rules", form, "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a rule posted from another origin with the token: %d, want 403", resp.StatusCode)
	}
	var rules struct {
		WatchRules []struct {
			Name string `json:"name"`
		} `json:"watchRules"`
	}
	if err := e.gql(demo.TenantAdminKey(1), `{ watchRules { name } }`, nil, &rules); err != nil || len(rules.WatchRules) != 0 {
		t.Fatalf("refused posts created rules: %v %v", rules, err)
	}
	// Saving another tenant's rule answers exactly what saving a rule that does not exist does
	// (404, the same page): the form is no oracle for other tenants' rule ids.
	var theirs struct {
		CreateWatchRule struct {
			Rule struct {
				ID string `json:"id"`
			} `json:"rule"`
		} `json:"createWatchRule"`
	}
	if err := e.gql(demo.TenantAdminKey(2), `mutation($url: String!) { createWatchRule(input: {name: "tenant 2's", url: $url, on: STARTED, enabled: false}) { rule { id } } }`,
		map[string]any{"url": e.rcv.URL}, &theirs); err != nil {
		t.Fatal(err)
	}
	save := func(id string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/console/rules/"+url.PathEscape(id), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	otherCode, otherPage := save(theirs.CreateWatchRule.Rule.ID)
	unknownCode, unknownPage := save("no-such-rule")
	if otherCode != http.StatusNotFound || unknownCode != http.StatusNotFound || otherPage != unknownPage {
		t.Errorf("saving another tenant's rule: %d; a rule that does not exist: %d; want 404 and the same page for both", otherCode, unknownCode)
	}
	// The console's pages and in-process operations are in the gateway's metrics, by route
	// pattern (never a rule's id) and by operation name.
	mreq, _ := http.NewRequest(http.MethodGet, e.url+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer "+demo.AdminKey)
	mresp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(mresp.Body)
	_ = mresp.Body.Close()
	for _, want := range []string{`vbo_gateway_console_request_duration_seconds_count{route="GET /console/rules",status_class="2xx"}`,
		`vbo_gateway_console_request_duration_seconds_count{route="POST /console/rules/{id}",status_class="4xx"} 2`,
		`vbo_gateway_console_graphql_duration_seconds_count{operation="ConsoleRules",outcome="ok"}`,
		`vbo_gateway_console_graphql_duration_seconds_count{operation="ConsoleUpdateRule",outcome="error"} 2`} {
		if !strings.Contains(string(scrape), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(scrape), "no-such-rule") {
		t.Error("/metrics names a raw console path")
	}
	// The CSV export is a link: the cookie session reaches it, scoped to the tenant.
	now := time.Now().UTC()
	r, csv := get("/console/export/restore-audit.csv?partial=true&groupBy=ORGANIZATION&from=" + url.QueryEscape(now.Add(-24*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Format(time.RFC3339)))
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Header.Get("Content-Type"), "csv") {
		t.Errorf("CSV through the console: %d %s %.200s", r.StatusCode, r.Header.Get("Content-Type"), csv)
	}
	// A reload that removes the key ends the session on its next request.
	cfg := *e.cfg
	cfg.Auth.APIKeys = slices.DeleteFunc(slices.Clone(cfg.Auth.APIKeys), func(k config.APIKey) bool { return k.Name == demo.TenantAdminKey(1) })
	if err := e.gw.Reload(func() (*config.Config, error) { return &cfg, nil }); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if r, _ := get("/console/rules"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the key was removed the session still reads rules: %d", r.StatusCode)
	}
	// Sign-out deletes the session: the old cookie no longer signs anybody in.
	if err := e.gw.Reload(func() (*config.Config, error) { return e.cfg, nil }); err != nil {
		t.Fatal(err)
	}
	post("/console/signin/key", url.Values{"key": {demo.TenantKey(1)}}, "")
	_, body = get("/console/overview")
	old := jar.Cookies(mustURL(e.url))
	post("/console/signout", url.Values{"csrf": {between(body, `name="csrf" value="`, `"`)}}, "")
	jar.SetCookies(mustURL(e.url), old)
	if r, _ := get("/console/overview"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("a signed-out session's cookie still works: %d", r.StatusCode)
	}
}

// TestConsoleOIDCStateIsTheBrowsers: a sign-in's callback counts only in the browser that
// started it (the state is kept in the store and in that browser's cookie): a code for someone
// else's sign-in, sent to another browser (login CSRF), signs nobody in; the browser that
// started it is signed in, once (the state is used up).
func TestConsoleOIDCStateIsTheBrowsers(t *testing.T) {
	e := startConsoleEnv(t)
	client := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	noFollow := func(c *http.Client) *http.Client {
		return &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	// start begins a sign-in in c and returns the issuer's redirect back to the gateway (the
	// callback URL with code and state), not yet followed.
	start := func(c *http.Client) string {
		e.oidc.QueueUser(oidcUser{sub: "carol@tenant-1.example", tenant: "tenant-1", role: "TENANT_AUDITOR"})
		r, err := noFollow(c).Get(e.url + "/console/auth/start")
		if err != nil || r.StatusCode != http.StatusFound {
			t.Fatalf("start: %v %v", r, err)
		}
		r.Body.Close()
		r, err = noFollow(c).Get(r.Header.Get("Location")) // the issuer answers at once with the code
		if err != nil || r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), e.url+config.ConsoleCallbackPath) {
			t.Fatalf("issuer: %v %v", r, err)
		}
		r.Body.Close()
		return r.Header.Get("Location")
	}
	attacker, victim := client(), client()
	callback := start(attacker)
	r, err := noFollow(victim).Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if loc := r.Header.Get("Location"); !strings.Contains(loc, "error=oidc") || len(r.Cookies()) > 0 && r.Cookies()[0].Name == "vbo-console" {
		t.Errorf("another browser's callback: %d %s %v, want refused", r.StatusCode, loc, r.Cookies())
	}
	callback = start(victim)
	for i, want := range []string{"/console/overview", "error=oidc"} { // the second time the state is used up
		if i == 1 {
			victim.Jar.SetCookies(mustURL(e.url+"/console/auth/"), []*http.Cookie{{Name: "vbo-console-state", Value: between(callback, "state=", "&"), Path: "/console/auth/"}})
		}
		r, err := noFollow(victim).Get(callback)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if loc := r.Header.Get("Location"); !strings.Contains(loc, want) {
			t.Errorf("callback #%d in the browser that started it: %d %s, want %s", i+1, r.StatusCode, loc, want)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}

// TestConsoleLiveResumes follows the Live page's stream as a browser's EventSource does: each
// new session arrives with its feed position as the SSE id, and a stream reopened with
// Last-Event-ID continues right after it (the session missed while away comes, the one seen
// does not come again); without a session the stream is refused.
func TestConsoleLiveResumes(t *testing.T) {
	e := startConsoleEnv(t)
	if r, err := http.Get(e.url + "/console/live/stream"); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream without a session: %v %v", r, err)
	}
	cookie := consoleSignIn(t, e.gw.Handler, demo.TenantKey(1))
	org, sim := e.firstOrg(t, demo.TenantKey(1))
	type event struct{ id, who string }
	open := func(lastID string) (<-chan event, func()) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/console/live/stream", nil)
		req.AddCookie(cookie)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream: %v %v", resp, err)
		}
		out := make(chan event, 16)
		go func() {
			defer close(out)
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			var id string
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "id: "):
					id = strings.TrimPrefix(line, "id: ")
				case strings.HasPrefix(line, "data: "):
					var m struct {
						Data struct {
							S struct {
								InitiatedBy string `json:"initiatedBy"`
							} `json:"restoreSessionStarted"`
						} `json:"data"`
					}
					if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m) == nil && m.Data.S.InitiatedBy != "" {
						out <- event{id, m.Data.S.InitiatedBy}
					}
				}
			}
		}()
		return out, cancel
	}
	next := func(ch <-chan event) event {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			return ev
		case <-time.After(20 * time.Second):
			t.Fatal("no event within 20 s")
		}
		return event{}
	}
	ch, stop := open("")
	time.Sleep(200 * time.Millisecond) // the subscription is live before the session starts
	sim.AddSession(upstream.RestoreSession{Organization: org, InitiatedBy: "live-first"})
	first := next(ch)
	if first.who != "live-first" || first.id == "" {
		t.Fatalf("first event %+v, want live-first with a position", first)
	}
	stop()
	sim.AddSession(upstream.RestoreSession{Organization: org, InitiatedBy: "live-while-away"})
	ch, stop = open(first.id)
	defer stop()
	if ev := next(ch); ev.who != "live-while-away" {
		t.Errorf("after reconnecting with Last-Event-ID the stream gave %+v, want the session missed while away (and not the one seen)", ev)
	}
}
