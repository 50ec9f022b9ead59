package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// testConsole is a console on SQLite that signs in the API key "good", with opts' Config,
// Metrics and Now (an OpenID Connect section gets an issuer).
func testConsole(t *testing.T, opts Options) *Console {
	t.Helper()
	opts.Store = storetest.Open(t, storetest.SQLite(t))
	opts.Authority = &fakeAuthority{known: map[string]bool{"apikey:good": true}}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.Config.OIDC != nil {
		opts.Issuer = "https://issuer.example"
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hostileConsole is testConsole over a gateway that knows nothing (404).
func hostileConsole(t *testing.T, cfg config.Console) (*Console, http.Handler) {
	t.Helper()
	c := testConsole(t, Options{Config: cfg})
	return c, c.Handler(http.NotFoundHandler())
}

func keySignIn(h http.Handler, addr, key string, cookies ...*http.Cookie) *http.Response {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/console/signin/key", strings.NewReader(url.Values{"key": {key}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// An attacker holding an IPv6 /64 (every home line and cloud VM has one) must not get a fresh
// failure budget per address: failed key sign-ins are counted per /64, as /graphql counts them.
func TestHostileKeyThrottleCountsIPv6PerSlash64(t *testing.T) {
	t.Parallel()
	_, h := hostileConsole(t, config.Console{APIKeySignIn: true})
	for i := range keyFailureBurst {
		if code := keySignIn(h, fmt.Sprintf("[2001:db8:1:2::%x]:1000", i+1), "bad").StatusCode; code != http.StatusSeeOther {
			t.Fatalf("failure %d: %d, want 303 back to the form", i, code)
		}
	}
	if code := keySignIn(h, "[2001:db8:1:2:ffff::1]:1000", "bad").StatusCode; code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64 past the budget: %d, want 429", code)
	}
	if code := keySignIn(h, "[2001:db8:1:3::1]:1000", "bad").StatusCode; code != http.StatusSeeOther {
		t.Errorf("another /64: %d, want 303", code)
	}
}

// Behind a trusted reverse proxy every browser reaches the console from the proxy's address:
// failed key sign-ins are counted per client as the edge finds it (X-Forwarded-For, read only
// from a trusted proxy), so one attacker spends its own budget and locks nobody else out, and
// a client that is not a proxy cannot buy fresh budgets by writing the header.
func TestHostileKeyThrottleCountsTheClientBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	_, console := hostileConsole(t, config.Console{APIKeySignIn: true})
	h := clientaddr.Proxies{netip.MustParsePrefix("10.0.0.0/8")}.Middleware(console)
	signIn := func(peer, forwardedFor, key string) int {
		r := httptest.NewRequest(http.MethodPost, "http://gw.example/console/signin/key", strings.NewReader(url.Values{"key": {key}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Forwarded-For", forwardedFor)
		r.RemoteAddr = peer
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i := range keyFailureBurst {
		if code := signIn("10.0.0.1:1000", "203.0.113.66", "bad"); code != http.StatusSeeOther {
			t.Fatalf("attacker's failure %d: %d, want 303 back to the form", i, code)
		}
	}
	if code := signIn("10.0.0.1:1000", "203.0.113.66", "bad"); code != http.StatusTooManyRequests {
		t.Errorf("the attacker past its budget: %d, want 429", code)
	}
	if code := signIn("10.0.0.1:1000", "198.51.100.7", "bad"); code != http.StatusSeeOther {
		t.Errorf("another browser behind the same proxy: %d, want 303 (its own budget)", code)
	}
	// A peer that is no trusted proxy is its own client, whatever X-Forwarded-For it writes.
	for i := range keyFailureBurst {
		if code := signIn("192.0.2.5:1000", fmt.Sprintf("198.51.100.%d", i+1), "bad"); code != http.StatusSeeOther {
			t.Fatalf("untrusted peer's failure %d: %d, want 303", i, code)
		}
	}
	if code := signIn("192.0.2.5:1000", "198.51.100.200", "bad"); code != http.StatusTooManyRequests {
		t.Errorf("an untrusted peer naming a new client in X-Forwarded-For: %d, want 429 (its own address's budget)", code)
	}
}

// Signing in ends the session the browser came with: an id that existed before the sign-in
// (a shared machine's previous person, or one planted in the browser) does not survive it.
func TestHostileSignInEndsThePreviousSession(t *testing.T) {
	t.Parallel()
	_, h := hostileConsole(t, config.Console{APIKeySignIn: true})
	first := keySignIn(h, "192.0.2.1:1", "good").Cookies()
	if len(first) != 1 {
		t.Fatalf("first sign-in cookies %v", first)
	}
	second := keySignIn(h, "192.0.2.1:1", "good", first[0]).Cookies()
	if len(second) != 1 || second[0].Value == first[0].Value {
		t.Fatalf("second sign-in cookies %v: want a new session id", second)
	}
	get := func(c *http.Cookie) int {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/live", nil)
		r.AddCookie(c)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := get(second[0]); code != http.StatusOK {
		t.Fatalf("the new session: %d, want 200", code)
	}
	if code := get(first[0]); code != http.StatusSeeOther {
		t.Errorf("the session id from before the sign-in: %d, want 303 to the sign-in page", code)
	}
}

// fakeIssuer serves an OpenID Connect discovery document (enough for the console to start a
// sign-in; nothing here signs in).
func fakeIssuer(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`,
			srv.URL, srv.URL+"/authorize", srv.URL+"/token", srv.URL+"/jwks")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// GET /console/auth/start needs no session and stores a pending sign-in per call: one client
// calling it in a loop must not grow console_login without bound (its rows are otherwise only
// purged when someone signs in).
func TestHostileSignInStartsAreBounded(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.SQLite(t))
	c, err := New(Options{Store: st, Authority: &fakeAuthority{}, Issuer: fakeIssuer(t),
		Config: config.Console{OIDC: &config.ConsoleOIDC{ClientID: "console", RedirectURL: "http://127.0.0.1/console/auth/callback"}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler(http.NotFoundHandler())
	start := func(addr string) int {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/auth/start", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := start("192.0.2.1:1"); code != http.StatusFound {
		t.Fatalf("first start: %d, want 302 to the issuer", code)
	}
	refused := 0
	for range 200 {
		if start("192.0.2.1:1") == http.StatusTooManyRequests {
			refused++
		}
	}
	var n int
	if err := st.QueryRow(t.Context(), `SELECT COUNT(*) FROM console_login`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if refused == 0 || n > loginStartBurst {
		t.Errorf("200 starts from one address: %d refused, %d pending sign-ins stored; want 429s and at most %d rows", refused, n, loginStartBurst)
	}
	if code := start("198.51.100.1:1"); code != http.StatusFound {
		t.Errorf("another address: %d, want 302", code)
	}
}

// adminAuthority: a provider admin who may view tenant "acme corp".
type adminAuthority struct{ *fakeAuthority }

func (adminAuthority) Tenants() []string { return []string{"acme corp"} }

// A provider admin viewing one tenant keeps that view on every link and form: the tenant query
// must reach the server as tenant=..., not as one escaped key ("tenant%3d..."), which dropped
// the view and showed every tenant's rows under the picker still naming one.
func TestHostileTenantViewSurvivesLinks(t *testing.T) {
	t.Parallel()
	c, err := New(Options{Store: storetest.Open(t, storetest.SQLite(t)), Authority: adminAuthority{&fakeAuthority{}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Console: c}
	admin := auth.NewAdmin("root")
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/live?tenant=acme+corp", nil)
	r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, &session{principal: admin, view: admin, tenant: "acme corp", csrf: "x"}))
	w := httptest.NewRecorder()
	s.render(w, r, "live", pageData{Title: "Live", Nav: "live"})
	body := w.Body.String()
	for _, want := range []string{`href="/console/overview?tenant=acme&#43;corp"`, `href="/console/rules?tenant=acme&#43;corp"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "tenant%3d") {
		t.Errorf("the tenant query is escaped into one key:\n%s", body)
	}
}

// The console's forms are small: a POST body past maxFormBytes is refused before it is read
// (the sign-in form needs no session, and Go would otherwise hold 10 MB of a urlencoded body,
// or 32 MB and unbounded temporary files of a multipart one, per request).
func TestHostileFormBodiesAreCapped(t *testing.T) {
	t.Parallel()
	_, h := hostileConsole(t, config.Console{APIKeySignIn: true})
	for name, ct := range map[string]string{"urlencoded": "application/x-www-form-urlencoded", "multipart": "multipart/form-data; boundary=b"} {
		body := "key=bad&pad=" + strings.Repeat("a", 2*maxFormBytes)
		if ct != "application/x-www-form-urlencoded" {
			body = "--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nbad\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n" +
				strings.Repeat("a", 2*maxFormBytes) + "\r\n--b--\r\n"
		}
		for _, length := range []int64{int64(len(body)), -1} { // declared, and chunked (unknown)
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/console/signin/key", strings.NewReader(body))
			r.Header.Set("Content-Type", ct)
			r.ContentLength = length
			r.RemoteAddr = "192.0.2.9:1"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code < 400 || w.Code >= 500 {
				t.Errorf("%s body of %d bytes (Content-Length %d): %d, want refused (4xx)", name, len(body), length, w.Code)
			}
		}
	}
}

// fakeRulesGateway answers the rule pages' operations as the gateway does: no rules listed,
// an update of the rule "bad" refused for its input, any other update NOT_FOUND (the one answer
// for a rule that does not exist and another tenant's).
func fakeRulesGateway(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.Contains(req.Query, "ConsoleRules"):
		fmt.Fprint(w, `{"data":{"watchRules":[]}}`)
	case strings.Contains(req.Query, "ConsoleUpdateRule") && req.Variables["id"] == "bad":
		fmt.Fprint(w, `{"errors":[{"message":"url: want https","extensions":{"code":"BAD_USER_INPUT"}}],"data":null}`)
	default:
		fmt.Fprint(w, `{"errors":[{"message":"not found","extensions":{"code":"NOT_FOUND"}}],"data":null}`)
	}
}

// Saving a rule that is not there (or is another tenant's: the gateway answers both NOT_FOUND)
// answers exactly what reading an unknown rule does, 404 and the same page; a form the gateway
// refuses for its input stays 400 with the reason.
func TestHostileRuleSaveNotFoundIsUnknown(t *testing.T) {
	t.Parallel()
	h := testConsole(t, Options{Config: config.Console{APIKeySignIn: true}}).Handler(http.HandlerFunc(fakeRulesGateway))
	cookies := keySignIn(h, "192.0.2.1:1", "good").Cookies()
	do := func(method, path string, form url.Values) (int, string) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		r := httptest.NewRequest(method, "http://gw.example"+path, body)
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	code, page := do(http.MethodGet, "/console/rules/new", nil)
	_, rest, _ := strings.Cut(page, `name="csrf" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	if code != http.StatusOK || csrf == "" {
		t.Fatalf("the rule form: %d, CSRF token %q", code, csrf)
	}
	form := url.Values{"csrf": {csrf}, "name": {"x"}, "url": {"https://hooks.example/"}, "on": {"STARTED"}}
	unknownCode, unknownPage := do(http.MethodGet, "/console/rules/V2F0Y2hSdWxlOjk5", nil)
	if unknownCode != http.StatusNotFound {
		t.Fatalf("reading an unknown rule: %d, want 404", unknownCode)
	}
	code, page = do(http.MethodPost, "/console/rules/V2F0Y2hSdWxlOjk5", form)
	if code != http.StatusNotFound || page != unknownPage {
		t.Errorf("saving a rule that is not there: %d, want 404 and the unknown rule's page:\n%s", code, page)
	}
	code, page = do(http.MethodPost, "/console/rules/bad", form)
	if code != http.StatusBadRequest || !strings.Contains(page, "url: want https") {
		t.Errorf("saving a rule the gateway refuses: %d, want 400 with the reason:\n%.300s", code, page)
	}
}

// fakeObserver keeps what the console reported to its metrics.
type fakeObserver struct {
	mu       sync.Mutex
	requests []string // "route status"
	ops      []string // "operation outcome"
}

func (f *fakeObserver) ObserveConsoleRequest(route string, status int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, fmt.Sprintf("%s %d", route, status))
}

func (f *fakeObserver) ObserveConsoleOperation(operation, outcome string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, operation+" "+outcome)
}

// Every console request is timed by the pattern of the route that took it (never the raw path,
// which holds ids), or "other" when none did; each in-process operation by its name and outcome.
func TestConsoleRequestsAreTimedByRoute(t *testing.T) {
	t.Parallel()
	obs := &fakeObserver{}
	c := testConsole(t, Options{Config: config.Console{APIKeySignIn: true}, Metrics: obs})
	// Mounted as the gateway mounts it: its mux has set the request's Pattern to "/console/".
	outer := http.NewServeMux()
	outer.Handle("/console/", c.Handler(http.HandlerFunc(fakeRulesGateway)))
	cookies := keySignIn(outer, "192.0.2.1:1", "good").Cookies()
	do := func(method, path, origin string) {
		r := httptest.NewRequest(method, "http://gw.example"+path, nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		outer.ServeHTTP(httptest.NewRecorder(), r)
	}
	do(http.MethodGet, "/console/rules", "")
	do(http.MethodGet, "/console/rules/V2F0Y2hSdWxlOjk5", "")
	do(http.MethodGet, "/console/no-such-page", "")
	do(http.MethodPost, "/console/rules", "https://evil.example") // refused before routing
	do(http.MethodGet, "/console/static/console.css", "")
	do(http.MethodGet, "/console/sessions/U2Vzc2lvbjox", "") // the fake gateway answers NOT_FOUND
	obs.mu.Lock()
	defer obs.mu.Unlock()
	wantRequests := []string{"POST /console/signin/key 303", "GET /console/rules 200", "GET /console/rules/{id} 404",
		"other 404", "other 403", "GET /console/static/ 200", "GET /console/sessions/{id} 404"}
	if !reflect.DeepEqual(obs.requests, wantRequests) {
		t.Errorf("requests timed as\n%q\nwant\n%q", obs.requests, wantRequests)
	}
	if want := []string{"ConsoleRules ok", "ConsoleRules ok", "ConsoleSession error"}; !reflect.DeepEqual(obs.ops, want) {
		t.Errorf("operations timed as %q, want %q", obs.ops, want)
	}
}
