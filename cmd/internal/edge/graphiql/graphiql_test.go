package graphiql

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// newMux mounts the handler the way the gateway does: at "/" next to other
// routes.
func newMux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{}}`)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("/", h)
	return mux
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var (
	scriptSrcRe = regexp.MustCompile(`<script[^>]*\ssrc="([^"]*)"`)
	linkHrefRe  = regexp.MustCompile(`<link[^>]*\shref="([^"]*)"`)
	configRe    = regexp.MustCompile(`(?s)<script type="application/json" id="graphiql-config">(.*?)</script>`)
)

func TestPage(t *testing.T) {
	mux := newMux(Handler("VBO <Gateway>", "/graphql"))
	rec := do(t, mux, http.MethodGet, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{`"endpoint":"/graphql"`, "<title>VBO &lt;Gateway&gt;</title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	for _, bad := range []string{`src="http`, `href="http`, `src="//`, `href="//`} {
		if strings.Contains(body, bad) {
			t.Errorf("page references a remote asset (%q)", bad)
		}
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self' data:"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(strings.SplitN(csp, "script-src", 2)[1], "unsafe-inline;") {
		t.Errorf("CSP too lax: %q", csp)
	}
	// No inline executable script: every <script> either has src or is the
	// JSON data block.
	for _, m := range regexp.MustCompile(`<script([^>]*)>`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], "src=") && !strings.Contains(m[1], `type="application/json"`) {
			t.Errorf("inline script tag %q", m[0])
		}
	}
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if got := rec.Header().Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q", got)
	}

	head := do(t, mux, http.MethodHead, "/", nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || !strings.HasPrefix(head.Header().Get("Content-Type"), "text/html") {
		t.Errorf("HEAD / = %d, %d bytes, %q", head.Code, head.Body.Len(), head.Header().Get("Content-Type"))
	}
	if post := do(t, mux, http.MethodPost, "/", nil); post.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", post.Code)
	}
	// Other routes of the mux are untouched.
	if rec := do(t, mux, http.MethodGet, "/healthz", nil); rec.Body.String() != "ok" {
		t.Errorf("/healthz shadowed: %d %q", rec.Code, rec.Body.String())
	}
}

func TestAssetsReferencedByPageResolve(t *testing.T) {
	mux := newMux(Handler("t", "/graphql"))
	body := do(t, mux, http.MethodGet, "/", nil).Body.String()

	type ref struct{ url, wantCT string }
	var refs []ref
	for _, m := range scriptSrcRe.FindAllStringSubmatch(body, -1) {
		refs = append(refs, ref{m[1], "text/javascript"})
	}
	for _, m := range linkHrefRe.FindAllStringSubmatch(body, -1) {
		if strings.HasPrefix(m[1], "data:") { // favicon placeholder
			continue
		}
		refs = append(refs, ref{m[1], "text/css"})
	}
	if len(refs) != 6 { // react, react-dom, graphiql, init + 2 stylesheets
		t.Fatalf("found %d asset references, want 6:\n%s", len(refs), body)
	}
	page, _ := url.Parse("http://example.test/")
	for _, r := range refs {
		u, err := url.Parse(html.UnescapeString(r.url))
		if err != nil {
			t.Fatalf("bad URL %q: %v", r.url, err)
		}
		if u.IsAbs() || u.Host != "" {
			t.Errorf("asset URL %q is not local", r.url)
			continue
		}
		abs := page.ResolveReference(u)
		if !strings.HasPrefix(abs.Path, AssetPrefix) {
			t.Errorf("asset URL %q resolves to %q, outside %s", r.url, abs.Path, AssetPrefix)
		}
		rec := do(t, mux, http.MethodGet, abs.RequestURI(), nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", abs.RequestURI(), rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, r.wantCT) {
			t.Errorf("GET %s: Content-Type %q, want %s", abs.RequestURI(), ct, r.wantCT)
		}
		if n := rec.Body.Len(); n < 100 {
			t.Errorf("GET %s: only %d bytes", abs.RequestURI(), n)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("GET %s: Cache-Control %q", abs.RequestURI(), cc)
		}
		if rec.Header().Get("ETag") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: missing ETag or nosniff", abs.RequestURI())
		}
	}

	// The main bundles are the real thing, not stubs.
	for name, min := range map[string]int{
		"/graphiql/assets/" + assetGraphiQLJS:   1 << 20,
		"/graphiql/assets/" + assetGraphiQLCS:   100 << 10,
		"/graphiql/assets/" + assetReactDOMJS:   100 << 10,
		"/graphiql/assets/" + assetReactJS:      5 << 10,
		"/graphiql/assets/LICENSE-graphiql.txt": 500,
	} {
		rec := do(t, mux, http.MethodGet, name, nil)
		if rec.Code != http.StatusOK || rec.Body.Len() < min {
			t.Errorf("GET %s = %d, %d bytes (want >= %d)", name, rec.Code, rec.Body.Len(), min)
		}
	}
}

func TestAssetCachingAndGzip(t *testing.T) {
	h := Handler("t", "/graphql")
	p := "/graphiql/assets/" + assetGraphiQLJS
	plain := do(t, h, http.MethodGet, p, nil)
	if plain.Code != http.StatusOK || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("plain GET = %d, encoding %q", plain.Code, plain.Header().Get("Content-Encoding"))
	}
	etag := plain.Header().Get("ETag")
	if nm := do(t, h, http.MethodGet, p, map[string]string{"If-None-Match": etag}); nm.Code != http.StatusNotModified {
		t.Errorf("If-None-Match = %d, want 304", nm.Code)
	}
	gz := do(t, h, http.MethodGet, p, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip not used: %v", gz.Header())
	}
	if gz.Header().Get("ETag") == etag {
		t.Errorf("gzip variant shares ETag %s", etag)
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, plain.Body.Bytes()) {
		t.Errorf("gzip body does not decode to the asset (err %v)", err)
	}
	if no := do(t, h, http.MethodGet, p, map[string]string{"Accept-Encoding": "gzip;q=0"}); no.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still compressed")
	}
	head := do(t, h, http.MethodHead, p, nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD asset = %d, %d bytes", head.Code, head.Body.Len())
	}
}

func TestNotFound(t *testing.T) {
	mux := newMux(Handler("t", "/graphql"))
	for _, p := range []string{
		"/index.html",
		"/favicon.ico",
		"/graphiql",
		"/graphiql/",
		"/graphiql/assets/",
		"/graphiql/assets/nope.js",
		"/graphiql/assets/README.md",
		"/graphiql/assets/../graphiql.go",
		"/graphiql/assets/graphiql-3.8.3.min.js/x",
		"/assets/" + assetGraphiQLJS,
	} {
		rec := do(t, mux, http.MethodGet, p, nil)
		// ServeMux may answer a non-canonical path with a redirect first;
		// follow it once.
		if rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect {
			rec = do(t, mux, http.MethodGet, rec.Header().Get("Location"), nil)
		}
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
}

func TestDefaultsEscaped(t *testing.T) {
	evilQuery := "</script><script>alert(1)</script>\n{ me { id } } <!-- \u2028"
	evilHeaders := `{"Authorization":"Bearer demo-admin","X":"</SCRIPT><img src=x onerror=alert(1)>"}`
	evilEndpoint := "/graphql?x=</script>&y='\""
	rec := do(t, Handler("</title><script>alert(1)</script>", evilEndpoint,
		WithDefaultQuery(evilQuery), WithDefaultHeaders(evilHeaders)), http.MethodGet, "/", nil)
	body := rec.Body.String()

	m := configRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no config block in page:\n%s", body)
	}
	block := m[1]
	lower := strings.ToLower(block)
	for _, bad := range []string{"</script", "<script", "<!--", "<img"} {
		if strings.Contains(lower, bad) {
			t.Errorf("config block contains %q: %s", bad, block)
		}
	}
	// The block is JSON that the bootstrap parses with JSON.parse: it must
	// round-trip to the exact values.
	var cfg pageConfig
	if err := json.Unmarshal([]byte(block), &cfg); err != nil {
		t.Fatalf("config block is not JSON: %v\n%s", err, block)
	}
	if cfg.DefaultQuery != evilQuery || cfg.DefaultHeaders != evilHeaders || cfg.Endpoint != evilEndpoint {
		t.Errorf("config round-trip mismatch: %+v", cfg)
	}
	// Exactly the expected script elements exist: nothing broke out.
	if n := strings.Count(strings.ToLower(body), "<script"); n != 5 {
		t.Errorf("page has %d <script> tags, want 5:\n%s", n, body)
	}
	if strings.Contains(body, "<script>alert") {
		t.Errorf("title not escaped:\n%s", body)
	}

	// Defaults appear when given, and are omitted otherwise.
	plain := do(t, Handler("t", "/graphql"), http.MethodGet, "/", nil).Body.String()
	if strings.Contains(plain, "defaultQuery") || strings.Contains(plain, "defaultHeaders") {
		t.Errorf("unset defaults rendered:\n%s", plain)
	}
}

func TestCSPConnectSrcForAbsoluteEndpoint(t *testing.T) {
	rec := do(t, Handler("t", "https://api.example.com/graphql"), http.MethodGet, "/", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://api.example.com;") {
		t.Errorf("CSP %q does not allow the absolute endpoint's origin", csp)
	}
	rec = do(t, Handler("t", "https://evil.example;script-src *"), http.MethodGet, "/", nil)
	if csp := rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "script-src *") {
		t.Errorf("endpoint injected into CSP: %q", csp)
	}
}

func TestBehindPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/ide/", http.StripPrefix("/ide", Handler("t", "/graphql")))
	body := do(t, mux, http.MethodGet, "/ide/", nil).Body.String()
	m := scriptSrcRe.FindAllStringSubmatch(body, -1)
	if len(m) == 0 {
		t.Fatalf("no scripts in page")
	}
	page, _ := url.Parse("http://example.test/ide/")
	for _, s := range m {
		u, _ := url.Parse(html.UnescapeString(s[1]))
		abs := page.ResolveReference(u)
		if rec := do(t, mux, http.MethodGet, abs.RequestURI(), nil); rec.Code != http.StatusOK {
			t.Errorf("GET %s behind prefix = %d", abs.RequestURI(), rec.Code)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"":                   false,
		"gzip":               true,
		"GZIP":               true,
		"deflate, gzip":      true,
		"br;q=1.0, gzip;q=0": false,
		"gzip; q=0.000":      false,
		"identity":           false,
		"x-gzip":             true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestWithTab(t *testing.T) {
	h := Handler("t", "/graphql", WithDefaultQuery("{ a }"), WithTab("subscription { b }"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), `"tabs":[{"query":"subscription { b }"}]`) {
		t.Fatalf("page config has no tab: %s", rec.Body.String())
	}
}

// Example operations open one tab each; the documentation explorer starts closed.
func TestTabsAndClosedDocs(t *testing.T) {
	tabs := []Tab{{Query: "query A { a }"}, {Query: "query B($x: Int) { b(x: $x) }", Variables: `{"x": 1}`},
		{Query: "mutation C { c }", Headers: `{"Authorization": "Bearer other"}`}}
	body := do(t, Handler("t", "/graphql", WithTabs(tabs...), WithDefaultHeaders(`{"Authorization": "Bearer default"}`)), http.MethodGet, "/", nil).Body.String()
	m := configRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no config block in page:\n%s", body)
	}
	var cfg pageConfig
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Tabs, tabs) {
		t.Errorf("tabs = %+v, want %+v", cfg.Tabs, tabs)
	}
	init, err := assetFS.ReadFile("assets/" + assetInitJS)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(init), "props.defaultTabs") {
		t.Error("the bootstrap does not open the tabs")
	}
	// A tab's own headers win over the default ones.
	if !strings.Contains(string(init), "headers: t.headers || cfg.defaultHeaders") {
		t.Error("the bootstrap ignores a tab's headers")
	}
	if strings.Contains(string(init), "visiblePlugin") {
		t.Error("the bootstrap opens a plugin (the documentation explorer) on load")
	}
}
