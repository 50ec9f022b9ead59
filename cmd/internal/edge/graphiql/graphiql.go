// Package graphiql serves a GraphiQL IDE page whose JavaScript and CSS are
// embedded in the binary, so the IDE works without any CDN (offline use).
//
// The handler is meant to be mounted at the root of a mux next to the API:
//
//	mux.Handle("/graphql", api)
//	mux.Handle("/healthz", health)
//	mux.Handle("/", graphiql.Handler("vbo-gateway", "/graphql",
//		graphiql.WithDefaultHeaders(`{"Authorization":"Bearer demo-admin"}`)))
//
// It answers GET/HEAD "/" with the HTML page, GET/HEAD
// "/graphiql/assets/<file>" with the embedded assets and 404 for anything
// else. The page references its assets by relative URLs, so it also works
// behind a path prefix (e.g. http.StripPrefix("/ide", h) visited as "/ide/").
//
// Asset provenance, versions and licences: see assets/README.md.
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AssetPrefix is the URL path (relative to the handler's root) under which
// the embedded assets are served.
const AssetPrefix = "/graphiql/assets/"

// Asset file names (in assets/). Third-party files carry their version in
// the name; every URL in the page also carries a content-hash query string.
const (
	assetReactJS    = "react-18.3.1.production.min.js"
	assetReactDOMJS = "react-dom-18.3.1.production.min.js"
	assetGraphiQLJS = "graphiql-3.8.3.min.js"
	assetGraphiQLCS = "graphiql-3.8.3.min.css"
	assetInitJS     = "graphiql-init.js"
	assetPageCSS    = "graphiql-page.css"
)

//go:embed assets/*.js assets/*.css assets/LICENSE-*.txt
var assetFS embed.FS

type config struct {
	defaultQuery   string
	defaultHeaders string
	tabs           []Tab
}

// Tab is an operation GraphiQL opens in a tab of its own (when the browser has no tabs stored
// from an earlier visit).
type Tab struct {
	Query     string `json:"query"`
	Variables string `json:"variables,omitempty"` // JSON text
	// Headers (JSON text) replace WithDefaultHeaders in this tab, e.g. another demo key.
	Headers string `json:"headers,omitempty"`
}

// Option configures the GraphiQL page.
type Option func(*config)

// WithDefaultQuery sets the initial query shown in the editor (used when the
// browser has no query stored from an earlier visit).
func WithDefaultQuery(q string) Option {
	return func(c *config) { c.defaultQuery = q }
}

// WithTabs opens GraphiQL with one tab per operation (after WithDefaultQuery's, if set), the
// first one active.
func WithTabs(tabs ...Tab) Option {
	return func(c *config) { c.tabs = append(c.tabs, tabs...) }
}

// WithTab adds a tab with query after the others (e.g. a subscription example).
func WithTab(query string) Option {
	return func(c *config) { c.tabs = append(c.tabs, Tab{Query: query}) }
}

// HeadersTemplate is the headers editor's content when the gateway has no key to pre-fill (every
// deployment but the demo): the header every request needs, with a note of what goes in it. The
// editor opens with it, so a first query answers "invalid credentials", not "authentication
// required" with nowhere to put them.
const HeadersTemplate = `{"Authorization": "Bearer <your API key or JWT: replace this, the gateway's operator issues it>"}`

// WithDefaultHeaders sets the initial content of the headers editor, e.g.
// `{"Authorization":"Bearer demo-admin"}`. The headers editor content is sent
// with every request; it is not persisted in the browser's storage.
func WithDefaultHeaders(json string) Option {
	return func(c *config) { c.defaultHeaders = json }
}

// Handler serves the GraphiQL page at its root path and its assets under assetPrefix.
// endpoint is the GraphQL endpoint URL path the page queries (e.g. "/graphql").
func Handler(title, endpoint string, opts ...Option) http.Handler {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	assets := loadAssets()
	page, err := renderPage(title, endpoint, &c, assets)
	if err != nil {
		// The template is static and its data is plain strings: this
		// cannot fail at run time short of a programming error.
		panic("graphiql: render page: " + err.Error())
	}
	return &handler{
		page:   page,
		csp:    contentSecurityPolicy(endpoint),
		assets: assets,
	}
}

type handler struct {
	page   []byte
	csp    string
	assets map[string]*asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/" || p == "":
		if !allowGetHead(w, r) {
			return
		}
		h.servePage(w, r)
	case strings.HasPrefix(p, AssetPrefix):
		a, ok := h.assets[strings.TrimPrefix(p, AssetPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if !allowGetHead(w, r) {
			return
		}
		a.serve(w, r)
	default:
		http.NotFound(w, r)
	}
}

func allowGetHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	return false
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Length", strconv.Itoa(len(h.page)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(h.page)
	}
}

// contentSecurityPolicy returns the page's CSP. Scripts are only loaded from
// the handler itself (no inline script: the bootstrap is an asset). Inline
// styles are needed by GraphiQL's UI components; fonts and a few icons are
// data: URLs inside graphiql.min.css. GraphiQL 3 (CodeMirror 5) starts no
// web workers. If endpoint is an absolute http(s) URL of another origin, that
// origin is allowed for connect-src.
func contentSecurityPolicy(endpoint string) string {
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" &&
		(u.Scheme == "http" || u.Scheme == "https") && cspSafe(u.Host) {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"worker-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'self'",
	}, "; ")
}

// cspSafe reports whether s can be placed in a CSP source list verbatim.
func cspSafe(s string) bool {
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || c == ';' || c == ',' || c == '\'' {
			return false
		}
	}
	return true
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.Assets.GraphiQLCSS}}">
<link rel="stylesheet" href="{{.Assets.PageCSS}}">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script type="application/json" id="graphiql-config">{{.Config}}</script>
<script src="{{.Assets.React}}"></script>
<script src="{{.Assets.ReactDOM}}"></script>
<script src="{{.Assets.GraphiQL}}"></script>
<script src="{{.Assets.Init}}"></script>
</body>
</html>
`))

// pageConfig is serialised to JSON into the page's data block; html/template
// escapes it for a <script> context (e.g. "<" becomes \u003c), so values
// cannot terminate the block.
type pageConfig struct {
	Endpoint       string `json:"endpoint"`
	DefaultQuery   string `json:"defaultQuery,omitempty"`
	DefaultHeaders string `json:"defaultHeaders,omitempty"`
	Tabs           []Tab  `json:"tabs,omitempty"`
}

func renderPage(title, endpoint string, c *config, assets map[string]*asset) ([]byte, error) {
	ref := func(name string) string {
		// Relative to the page so the IDE also works behind a path prefix.
		return strings.TrimPrefix(AssetPrefix, "/") + name + "?v=" + assets[name].hash
	}
	data := struct {
		Title  string
		Config pageConfig
		Assets struct{ React, ReactDOM, GraphiQL, GraphiQLCSS, Init, PageCSS string }
	}{
		Title: title,
		Config: pageConfig{
			Endpoint:       endpoint,
			DefaultQuery:   c.defaultQuery,
			DefaultHeaders: c.defaultHeaders,
			Tabs:           c.tabs,
		},
	}
	data.Assets.React = ref(assetReactJS)
	data.Assets.ReactDOM = ref(assetReactDOMJS)
	data.Assets.GraphiQL = ref(assetGraphiQLJS)
	data.Assets.GraphiQLCSS = ref(assetGraphiQLCS)
	data.Assets.Init = ref(assetInitJS)
	data.Assets.PageCSS = ref(assetPageCSS)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// asset is one embedded file, with a lazily built gzip variant.
type asset struct {
	name        string
	data        []byte
	contentType string
	hash        string // hex prefix of the SHA-256 of data
	etag        string

	gzOnce sync.Once
	gzData []byte // nil if not worth compressing
}

var (
	assetsOnce sync.Once
	assetsMap  map[string]*asset
)

// loadAssets indexes the embedded files once per process; the map is
// read-only afterwards and shared by all handlers.
func loadAssets() map[string]*asset {
	assetsOnce.Do(func() {
		assetsMap = make(map[string]*asset)
		err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := assetFS.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			h := hex.EncodeToString(sum[:8])
			name := path.Base(p)
			assetsMap[name] = &asset{
				name:        name,
				data:        data,
				contentType: contentTypeFor(name),
				hash:        h,
				etag:        `"` + h + `"`,
			}
			return nil
		})
		if err != nil {
			panic("graphiql: read embedded assets: " + err.Error())
		}
	})
	return assetsMap
}

func contentTypeFor(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".txt":
		return "text/plain; charset=utf-8"
	default:
		return "application/octet-stream"
	}
}

// gzipped returns the gzip-encoded content, or nil if the file is too small
// to bother.
func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		if len(a.data) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(a.data)
		if zw.Close() == nil && buf.Len() < len(a.data) {
			a.gzData = buf.Bytes()
		}
	})
	return a.gzData
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	// Asset URLs carry a content hash (?v=...) and third-party files a
	// version in their name, so they can be cached for good.
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("Vary", "Accept-Encoding")
	body, etag := a.data, a.etag
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := a.gzipped(); gz != nil {
			body, etag = gz, `"`+a.hash+`-gz"`
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	// ServeContent handles HEAD, If-None-Match (304) and Range requests.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}
