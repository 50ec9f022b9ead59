// Package console is the auditor's console at /console/: server-rendered pages (html/template)
// over the gateway's own GraphQL, run in process with the signed-in person's principal, so the
// console has no data path and no scope rule of its own. People sign in with OpenID Connect
// (authorization code flow with PKCE, against the issuer auth.jwt trusts) or, where the
// configuration allows it, with an API key; sessions live in the store (console_session), so
// every replica shares them, and each request rebuilds the session's principal with the
// configuration in force (a removed key or tenant signs the session out). Every change is a
// POST with the session's CSRF token; pages carry a strict Content-Security-Policy (scripts and
// styles from the gateway alone, no inline script, never framed); charts read their numbers
// from a JSON data block beside the table that shows them.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

//go:embed static
var staticFS embed.FS

//go:embed templates/*.html
var templateFS embed.FS

// Authority authenticates sign-ins and rebuilds a session's principal with the configuration
// in force; the composition root implements it on the gateway's authenticator.
type Authority interface {
	// APIKey is the principal of an API key, checked like a request's.
	APIKey(key string) (*auth.Principal, error)
	// Claims is the principal of a verified ID token's claims (sub, tenant and role claims).
	Claims(claims map[string]any) (*auth.Principal, error)
	// Current rebuilds a session's principal; an error signs the session out. authTime is
	// when the person last authenticated (an OpenID Connect session's ID token auth_time; zero
	// when unknown), carried on a JWT principal's credential for the step-up check.
	Current(subject, tenant string, role auth.Role, authTime time.Time) (*auth.Principal, error)
	// TenantView is a provider admin's view of one tenant: that tenant's scope (false: no
	// such tenant).
	TenantView(admin *auth.Principal, tenant string) (*auth.Principal, bool)
	// Tenants lists the configured tenants' ids, for a provider admin's picker.
	Tenants() []string
}

// Options configure the console.
type Options struct {
	Store     *store.Store // required: sessions live here
	Authority Authority    // required
	Logger    *slog.Logger
	// Config is the console section (defaults applied by New).
	Config config.Console
	// Issuer is auth.jwt.issuer, where OpenID Connect sign-in goes (with Config.OIDC).
	Issuer string
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
	// HTTPClient talks to the issuer (nil: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Metrics times the console's requests and its in-process operations (nil: not timed).
	Metrics Observer
}

// Observer times what the console serves; the gateway's metrics (cmd/internal/ops/metrics)
// implement it.
type Observer interface {
	// ObserveConsoleRequest times one request: route is the pattern of the route that took it
	// ("GET /console/sessions/{id}", never the raw path) or "other", status its answer's code.
	ObserveConsoleRequest(route string, status int, d time.Duration)
	// ObserveConsoleOperation times one GraphQL operation run in process for a page, by its
	// name and outcome (telemetry.OutcomeOK, OutcomePartial, OutcomeError).
	ObserveConsoleOperation(operation, outcome string, d time.Duration)
}

// Console serves /console/.
type Console struct {
	opts   Options
	cfg    config.Console
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]pageTemplate
	static http.Handler

	// httpsURL: console.oidc.redirectURL is https, so the console is served over https whatever
	// the connection (cookies always Secure).
	httpsURL bool

	oidcMu sync.Mutex
	oidc   *oidcClient // discovered on the first sign-in

	keyFailures *expirable.LRU[string, *rate.Limiter] // failed API-key sign-ins per client address
	loginStarts *expirable.LRU[string, *rate.Limiter] // OpenID Connect sign-ins started per client address
}

// New builds the console. It fails closed without a store or an authority.
func New(opts Options) (*Console, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("console: no store (sessions live in the store)")
	case opts.Authority == nil:
		return nil, errors.New("console: no authority")
	case opts.Config.OIDC != nil && opts.Issuer == "":
		return nil, errors.New("console: oidc sign-in without an issuer (auth.jwt.issuer)")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	httpsURL := opts.Config.OIDC != nil && strings.HasPrefix(strings.ToLower(opts.Config.OIDC.RedirectURL), "https://")
	return &Console{opts: opts, cfg: opts.Config.WithDefaults(), log: opts.Logger, now: opts.Now, pages: pages, httpsURL: httpsURL,
		static:      http.StripPrefix("/console/static/", http.FileServerFS(sub)),
		keyFailures: expirable.NewLRU[string, *rate.Limiter](100_000, nil, 10*time.Minute),
		loginStarts: expirable.NewLRU[string, *rate.Limiter](100_000, nil, 10*time.Minute)}, nil
}

// Handler serves /console/ over gql, the gateway's in-process GraphQL and export handler (see
// httpapi.Options.Console).
func (c *Console) Handler(gql http.Handler) http.Handler {
	mux := http.NewServeMux()
	s := &server{Console: c, gql: gql}
	mux.Handle("GET /console/static/", cacheStatic(c.static))
	mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/overview", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /console/signin", s.signinPage)
	mux.HandleFunc("POST /console/signin/key", s.signinKey)
	mux.HandleFunc("GET /console/auth/start", s.oidcStart)
	mux.HandleFunc("GET "+config.ConsoleCallbackPath, s.oidcCallback)
	mux.Handle("POST /console/signout", s.authed(s.signout))
	mux.Handle("GET /console/overview", s.authed(s.overview))
	mux.Handle("GET /console/sessions", s.authed(s.sessions))
	mux.Handle("GET /console/sessions/{id}", s.authed(s.session))
	mux.Handle("GET /console/sessions/{id}/stream", s.authed(s.sessionStream))
	mux.Handle("GET /console/live", s.authed(s.live))
	mux.Handle("GET /console/live/stream", s.authed(s.liveStream))
	mux.Handle("GET /console/export/{file}", s.authed(s.export))
	mux.Handle("GET /console/restore", s.authed(s.restoreHome))
	mux.Handle("POST /console/restore/start", s.authed(s.restoreStart))
	mux.Handle("GET /console/restore/{id}", s.authed(s.restoreSession))
	mux.Handle("POST /console/restore/{id}/stop", s.authed(s.restoreStop))
	mux.Handle("POST /console/restore/{id}/items", s.authed(s.restoreItems))
	mux.Handle("POST /console/restore/{id}/original", s.authed(s.restoreOriginal))
	mux.Handle("GET /console/download/{token}", s.authed(s.download))
	mux.Handle("GET /console/approvals", s.authed(s.approvals))
	mux.Handle("POST /console/approvals/{id}", s.authed(s.approve))
	mux.Handle("GET /console/rules", s.authed(s.rules))
	mux.Handle("GET /console/rules/new", s.authed(s.ruleForm))
	mux.Handle("POST /console/rules", s.authed(s.ruleSave))
	mux.Handle("GET /console/rules/{id}", s.authed(s.rule))
	mux.Handle("POST /console/rules/{id}", s.authed(s.ruleSave))
	mux.Handle("POST /console/rules/{id}/{action}", s.authed(s.ruleAction))
	mux.Handle("POST /console/deliveries/{id}/redeliver", s.authed(s.redeliver))
	return c.timed(securityHeaders(sameOrigin(capBody(mux))))
}

// otherRoute labels a request no route took: an unknown path, or one refused before routing.
const otherRoute = "other"

// timed reports each request to Options.Metrics by the pattern of the route that took it. The
// request is copied once here with its Pattern cleared (the gateway's mux set it to
// "/console/"); the console's mux sets it on that same copy, which nothing between here and
// the mux replaces.
func (c *Console) timed(next http.Handler) http.Handler {
	if c.opts.Metrics == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r = r.WithContext(r.Context())
		r.Pattern = ""
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = otherRoute
		}
		c.opts.Metrics.ObserveConsoleRequest(route, sw.code(), time.Since(start))
	})
}

// statusWriter keeps the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the connection (the streams flush and clear their
// write deadline through it).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// maxFormBytes bounds a POST body: the console's forms are small (a restore's selection of
// items is the largest), and the sign-in form is read before anyone is signed in.
const maxFormBytes = 1 << 20

// capBody takes only what the console's forms send, a urlencoded body (multipart would let Go
// hold 32 MB and write temporary files per request), and refuses one past maxFormBytes as it
// is read (ParseForm then fails: 400).
func capBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "application/x-www-form-urlencoded" && (mt != "" || r.ContentLength != 0) {
				http.Error(w, "the console takes urlencoded forms only", http.StatusUnsupportedMediaType)
				return
			}
			if r.ContentLength > maxFormBytes {
				http.Error(w, "form too large", http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy: everything from the gateway's own origin, no inline script or style,
// never framed, forms post only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a state change a browser says came from another site (Sec-Fetch-Site,
// else Origin naming another host): with SameSite=Lax cookies and the CSRF token this is the
// third lock, and the only one the sign-in form (before any session) has.
func sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !fromSameOrigin(r) {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func fromSameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser's cross-site form (those send Origin); the CSRF token still applies
	}
	_, host, ok := strings.Cut(o, "://")
	return ok && strings.EqualFold(host, r.Host)
}

// server is the console bound to one gateway handler.
type server struct {
	*Console
	gql http.Handler
}

// gqlError is one GraphQL error as the gateway answers it.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string { s, _ := e.Extensions["code"].(string); return s }

// gqlErrors are the errors of an answer that came with data (partial results) or without.
type gqlErrors []gqlError

func (e gqlErrors) Error() string {
	msgs := make([]string, len(e))
	for i, x := range e {
		msgs[i] = x.Message
	}
	return strings.Join(msgs, "; ")
}

// query runs one GraphQL operation as p, in process, through the gateway's handler, and
// decodes its data into out. Errors that came with data (partial results) are returned as
// notes for the page; an answer without data is an error.
func (s *server) query(ctx context.Context, p *auth.Principal, q string, vars map[string]any, out any) (notes gqlErrors, err error) {
	if m := s.opts.Metrics; m != nil {
		defer func(start time.Time) {
			outcome := telemetry.OutcomeOK
			switch {
			case err != nil:
				outcome = telemetry.OutcomeError
			case len(notes) > 0:
				outcome = telemetry.OutcomePartial
			}
			m.ObserveConsoleOperation(operationName(q), outcome, time.Since(start))
		}(time.Now())
	}
	body, err := json.Marshal(map[string]any{"query": q, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(auth.WithPrincipal(ctx, p), http.MethodPost, "/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	rec := &recorder{header: http.Header{}}
	s.gql.ServeHTTP(rec, req)
	var resp struct {
		Data   json.RawMessage `json:"data"`
		Errors gqlErrors       `json:"errors"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("console: gateway answered %d: %w", rec.status, err)
	}
	if len(resp.Data) == 0 || string(resp.Data) == "null" {
		if len(resp.Errors) > 0 {
			return nil, resp.Errors
		}
		return nil, fmt.Errorf("console: gateway answered %d without data", rec.status)
	}
	if err := json.Unmarshal(resp.Data, out); err != nil {
		return nil, fmt.Errorf("console: decode: %w", err)
	}
	return resp.Errors, nil
}

// operationPattern reads the name of the console's own operations ("query ConsoleOverview(...").
var operationPattern = regexp.MustCompile(`^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)`)

// operationName is the name of one of the console's operations, for its metrics
// (telemetry.AnonymousOperation for one without).
func operationName(q string) string {
	if m := operationPattern.FindStringSubmatch(q); m != nil {
		return m[1]
	}
	return telemetry.AnonymousOperation
}

// recorder collects an in-process answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
