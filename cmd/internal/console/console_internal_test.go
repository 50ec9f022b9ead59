package console

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
)

func TestSafeNextStaysInTheConsole(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/console/sessions?window=7d": "/console/sessions?window=7d",
		"":                            "/console/overview",
		"https://evil.example/":       "/console/overview",
		"//evil.example/console/":     "/console/overview",
		"/console/\\evil":             "/console/overview",
		"/console/auth/callback?x=1":  "/console/overview",
		"/console/signin":             "/console/overview",
		"/graphql":                    "/console/overview",
		"/console/x\r\nSet-Cookie: a": "/console/overview",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, site, origin string
		want               bool
	}{
		{"same-origin fetch metadata", "same-origin", "", true},
		{"typed in (none)", "none", "", true},
		{"cross-site fetch metadata", "cross-site", "http://gw.example", false},
		{"same-site is not same-origin", "same-site", "", false},
		{"origin names this host", "", "https://gw.example", true},
		{"origin names another host", "", "https://evil.example", false},
		{"origin null", "", "null", false},
		{"no browser headers", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "https://gw.example/console/rules", nil)
			if tt.site != "" {
				r.Header.Set("Sec-Fetch-Site", tt.site)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := fromSameOrigin(r); got != tt.want {
				t.Errorf("fromSameOrigin = %v, want %v", got, tt.want)
			}
		})
	}
}

// Cookies are Secure unless the request is plain-http development on loopback, judged from the
// configuration and the connection: a TLS-terminating proxy that rewrites Host to 127.0.0.1
// (nginx's default proxy_pass http://127.0.0.1:8080) must not make the gateway drop Secure,
// nor may a client that writes Host: 127.0.0.1. The Host header can only make them stricter: a
// loopback peer asking for a host that is not loopback is a local TLS terminator relaying a
// browser's request (Secure), not the demo.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		redirectURL string // console.oidc.redirectURL ("" without OpenID Connect)
		proxies     clientaddr.Proxies
		tls         bool
		peer, host  string
		header      []string
		secure      bool
	}{
		{name: "the demo: a browser on loopback over plain http", peer: "127.0.0.1:50000", host: "127.0.0.1:8080"},
		{name: "IPv6 loopback", peer: "[::1]:50000", host: "[::1]:8080"},
		{name: "localhost", peer: "127.0.0.1:50000", host: "localhost:8080"},
		// stunnel, ghostunnel, hitch or haproxy in tcp mode end TLS on the same host and relay
		// the browser's bytes: a loopback peer, no forwarding header, the public Host.
		{name: "a loopback TLS terminator relaying the browser's Host", peer: "127.0.0.1:50000", host: "gw.example", secure: true},
		{name: "IPv6: a loopback TLS terminator relaying the browser's Host", peer: "[::1]:50000", host: "gw.example:443", secure: true},
		{name: "OpenID Connect on loopback http", redirectURL: "http://127.0.0.1:8080/console/auth/callback", peer: "127.0.0.1:50000", host: "127.0.0.1:8080"},
		{name: "a remote client writing Host: 127.0.0.1", peer: "192.0.2.7:50000", host: "127.0.0.1", secure: true},
		{name: "a remote client", peer: "192.0.2.7:50000", host: "gw.example", secure: true},
		{name: "TLS", tls: true, peer: "127.0.0.1:50000", host: "127.0.0.1", secure: true},
		{name: "a local proxy rewriting Host, saying https", peer: "127.0.0.1:50000", host: "127.0.0.1:8080",
			header: []string{"X-Forwarded-Proto", "https"}, secure: true},
		{name: "a local proxy rewriting Host, naming the client", peer: "127.0.0.1:50000", host: "127.0.0.1:8080",
			header: []string{"X-Forwarded-For", "198.51.100.9"}, secure: true},
		{name: "a local trusted proxy without forwarding headers", proxies: clientaddr.Proxies{netip.MustParsePrefix("127.0.0.1/32")},
			peer: "127.0.0.1:50000", host: "127.0.0.1:8080", secure: true},
		{name: "an https redirect URL: served over https behind a proxy", redirectURL: "https://gw.example/console/auth/callback",
			peer: "127.0.0.1:50000", host: "127.0.0.1:8080", secure: true},
		{name: "an unreadable peer", peer: "@", host: "127.0.0.1", secure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Console{APIKeySignIn: true}
			if tt.redirectURL != "" {
				cfg.OIDC = &config.ConsoleOIDC{ClientID: "c", RedirectURL: tt.redirectURL}
			}
			c, h := hostileConsole(t, cfg)
			r := httptest.NewRequest(http.MethodPost, "http://"+tt.host+"/console/signin/key", strings.NewReader(url.Values{"key": {"good"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(tt.header); i += 2 {
				r.Header.Set(tt.header[i], tt.header[i+1])
			}
			r.RemoteAddr = tt.peer
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			r = r.WithContext(clientaddr.WithProxies(r.Context(), tt.proxies))
			if got := c.secure(r); got != tt.secure {
				t.Errorf("secure = %v, want %v", got, tt.secure)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			cookies := w.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("sign-in answered %d with cookies %v: want the session cookie", w.Code, cookies)
			}
			want := cookieNameLoopback
			if tt.secure {
				want = cookieName
			}
			if got := cookies[0]; got.Secure != tt.secure || got.Name != want {
				t.Errorf("session cookie %s Secure=%v, want %s Secure=%v", got.Name, got.Secure, want, tt.secure)
			}
		})
	}
}

func TestWindowOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := &server{Console: &Console{now: func() time.Time { return now }}}
	tests := []struct {
		query    string
		from, to time.Time
		wantErr  bool
	}{
		{"", now.Add(-30 * 24 * time.Hour), now, false},
		{"window=24h", now.Add(-24 * time.Hour), now, false},
		{"from=2026-02-01&to=2026-02-03", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 4, 0, 0, 0, 0, time.UTC), false},
		{"from=2026-02-01", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), now, false},
		{"window=1y", time.Time{}, time.Time{}, true},
		{"from=yesterday", time.Time{}, time.Time{}, true},
		{"from=2026-02-03&to=2026-02-01", time.Time{}, time.Time{}, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/console/overview?"+tt.query, nil)
		w, err := s.windowOf(r)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v, want error %v", tt.query, err, tt.wantErr)
			continue
		}
		if err == nil && (!w.From.Equal(tt.from) || !w.To.Equal(tt.to)) {
			t.Errorf("%q: window %s..%s, want %s..%s", tt.query, w.From, w.To, tt.from, tt.to)
		}
	}
}

func TestSessionFilterKeepsOnlyKnownValues(t *testing.T) {
	t.Parallel()
	win := window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	q := url.Values{"type": {"EXCHANGE", "DROP TABLE"}, "result": {"FAILED"}, "person": {" alice "}, "machine": {""}, "org": {"T3JnOnN5ZDE="}}
	got := sessionFilter(q, win)
	want := map[string]any{"startTimeFrom": "2026-01-01T00:00:00Z", "startTimeTo": "2026-01-02T00:00:00Z",
		"types": []string{"EXCHANGE"}, "results": []string{"FAILED"}, "initiatedBy": "alice", "organizationIds": []string{"T3JnOnN5ZDE="}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sessionFilter = %v, want %v", got, want)
	}
}

func TestRuleInput(t *testing.T) {
	t.Parallel()
	f := url.Values{"name": {" Night restores "}, "url": {"https://hooks.example/x"}, "on": {"ENDED"}, "enabled": {"on"},
		"type": {"EXCHANGE", "TEAMS"}, "minItems": {"10"}, "clientMachineNotIn": {"A, B,,"}, "initiatedBy": {"bob"}}
	got := ruleInput(f)
	want := map[string]any{"name": "Night restores", "url": "https://hooks.example/x", "on": "ENDED", "enabled": true,
		"firstRestoreFromMachine": false, "minItems": int64(10), "clientMachineNotIn": []string{"A", "B"},
		"filter": map[string]any{"types": []string{"EXCHANGE", "TEAMS"}, "initiatedBy": "bob"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ruleInput = %#v\nwant %#v", got, want)
	}
	if got := ruleInput(url.Values{"minItems": {"lots"}}); got["minItems"] != "lots" {
		t.Errorf("a bad minItems goes to the gateway to be refused with its reason, got %v", got["minItems"])
	}
}

func TestDayChartStacksByType(t *testing.T) {
	t.Parallel()
	d1, d2, ex, od := "2026-01-01", "2026-01-02", "EXCHANGE", "ONEDRIVE"
	c := dayChart([]auditRow{{Day: &d2, Type: &ex, Sessions: 3}, {Day: &d1, Type: &od, Sessions: 2}, {Day: &d1, Type: &ex, Sessions: 1}})
	if !reflect.DeepEqual(c.Days, []string{d1, d2}) || len(c.Series) != 2 ||
		!reflect.DeepEqual(c.Series[0], chartSeries{ex, []int{1, 3}}) || !reflect.DeepEqual(c.Series[1], chartSeries{od, []int{2, 0}}) {
		t.Errorf("chart %+v", c)
	}
}

func TestTemplatesParse(t *testing.T) {
	t.Parallel()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range pageNames {
		if pages[n] == nil {
			t.Errorf("page %s missing", n)
		}
	}
}

func TestSumByAddsUpAndKeepsTheEarliest(t *testing.T) {
	t.Parallel()
	alice, bob := "alice", "bob"
	rows := []auditRow{
		{InitiatedBy: &alice, Sessions: 2, Items: 5, FailedSessions: 1, First: "2026-01-03T00:00:00Z"},
		{InitiatedBy: &bob, Sessions: 1, Items: 1, First: "2026-01-02T00:00:00Z"},
		{InitiatedBy: &alice, Sessions: 3, Items: 1, First: "2026-01-01T00:00:00Z"},
	}
	got := sumBy(rows, func(a auditRow) string { return str(a.InitiatedBy) }, func(a *auditRow, r auditRow) { a.InitiatedBy = r.InitiatedBy })
	if len(got) != 2 || str(got[0].InitiatedBy) != "alice" || got[0].Sessions != 5 || got[0].Items != 6 || got[0].FailedSessions != 1 ||
		got[0].First != "2026-01-01T00:00:00Z" || got[1].Sessions != 1 {
		t.Errorf("sumBy = %+v", got)
	}
	if top := topN(got, 1, func(a auditRow) string { return str(a.InitiatedBy) }); len(top) != 1 || str(top[0].InitiatedBy) != "alice" {
		t.Errorf("topN = %+v", top)
	}
}

// TestRulePagesShareTheForm: the new-rule page and a rule's page both render the one rule form
// (templates/ruleformfields.html), the rule's values filled in.
func TestRulePagesShareTheForm(t *testing.T) {
	t.Parallel()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	r := rule{ID: "r1", Name: "Night restores", URL: "https://hooks.example/x", On: "ENDED", Enabled: true}
	for _, n := range []string{"ruleform", "rule"} {
		var buf bytes.Buffer
		d := pageData{Session: &sessionView{CSRF: "tok"}, Data: map[string]any{"Rule": r, "Types": sessionTypes, "Triggers": ruleTriggers}}
		if err := pages[n].ExecuteTemplate(&buf, "layout.html", d); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, want := range []string{`id="r-name"`, `value="Night restores"`, `action="/console/rules/r1"`, `<option selected>ENDED</option>`} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("%s page lacks %s", n, want)
			}
		}
	}
}
