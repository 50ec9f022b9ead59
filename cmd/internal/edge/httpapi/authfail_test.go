package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

func goodKeyOnly(r *http.Request) (*auth.Principal, error) {
	if r.Header.Get("Authorization") == "Bearer good" {
		return auth.NewAdmin("ops"), nil
	}
	return nil, errors.New("unknown API key")
}

// authRequest sends a query from peer (host:port) with a key and optional X-Forwarded-For.
func authRequest(h http.Handler, peer, key, xff string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.RemoteAddr = peer
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Issue 11 item 1: failures are throttled per client address, but authentication comes first:
// a valid key always passes, even from an address that has used up its failures (one guesser
// behind a NAT or proxy locks nobody out). Failures over the budget are slowed and answered
// 429 RATE_LIMITED with Retry-After; other addresses keep their own budget.
func TestFailedAuthenticationThrottlesOnlyFailures(t *testing.T) {
	const delay = 80 * time.Millisecond
	h := stubHandler(t, httpapi.Options{
		Limits:       config.Limits{AuthFailures: config.AuthFailures{PerMinute: 1, Burst: 3, Delay: delay}},
		Authenticate: goodKeyOnly,
	})
	const nat = "192.0.2.1:40000"
	for i := range 3 {
		if rec := authRequest(h, nat, "guess", ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i, rec.Code)
		}
	}
	start := time.Now()
	rec := authRequest(h, nat, "guess", "")
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "RATE_LIMITED") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("guess over the budget: %d %s, want 429 RATE_LIMITED with Retry-After", rec.Code, rec.Body)
	}
	if el := time.Since(start); el < delay {
		t.Errorf("a throttled failure was answered after %v, want it slowed by at least %v", el, delay)
	}
	for i := range 5 {
		if rec := authRequest(h, "192.0.2.1:40001", "good", ""); rec.Code != http.StatusOK {
			t.Fatalf("valid key %d from the throttled address = %d %s, want 200", i, rec.Code, rec.Body)
		}
	}
	if rec := authRequest(h, "198.51.100.7:1", "guess", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("another address = %d, want its own budget (401)", rec.Code)
	}
}

// IPv6 clients are throttled by /64, and X-Forwarded-For is read only from trusted proxies.
func TestFailedAuthenticationBuckets(t *testing.T) {
	cases := []struct {
		name    string
		trusted []netip.Prefix
		// three failures from exhaust, then one from probe: throttled or not
		exhaust, exhaustXFF, probe, probeXFF string
		throttled                            bool
	}{
		{name: "IPv6 same /64", exhaust: "[2001:db8:1:2::1]:5", probe: "[2001:db8:1:2:ffff::9]:6", throttled: true},
		{name: "IPv6 next /64", exhaust: "[2001:db8:1:2::1]:5", probe: "[2001:db8:1:3::1]:6", throttled: false},
		{name: "IPv4-mapped is IPv4", exhaust: "[::ffff:192.0.2.9]:5", probe: "192.0.2.9:6", throttled: true},
		{name: "XFF ignored by default", exhaust: "192.0.2.1:5", exhaustXFF: "203.0.113.1", probe: "192.0.2.1:6", probeXFF: "203.0.113.2", throttled: true},
		{name: "XFF from an untrusted peer ignored", trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			exhaust: "192.0.2.1:5", exhaustXFF: "203.0.113.1", probe: "192.0.2.1:6", probeXFF: "203.0.113.2", throttled: true},
		{name: "trusted proxy: clients apart", trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			exhaust: "10.0.0.5:5", exhaustXFF: "203.0.113.1", probe: "10.0.0.5:6", probeXFF: "203.0.113.2", throttled: false},
		{name: "trusted proxy: forged left entries ignored", trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			exhaust: "10.0.0.5:5", exhaustXFF: "203.0.113.1", probe: "10.0.0.5:6", probeXFF: "198.51.100.4, 203.0.113.1", throttled: true},
		{name: "trusted proxy chain", trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			exhaust: "10.0.0.5:5", exhaustXFF: "203.0.113.1, 10.1.1.1", probe: "10.0.0.6:6", probeXFF: "203.0.113.1", throttled: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := stubHandler(t, httpapi.Options{
				Limits:         config.Limits{AuthFailures: config.AuthFailures{PerMinute: 1, Burst: 3, Delay: -1}},
				Authenticate:   goodKeyOnly,
				TrustedProxies: tc.trusted,
			})
			for range 3 {
				authRequest(h, tc.exhaust, "guess", tc.exhaustXFF)
			}
			got := authRequest(h, tc.probe, "guess", tc.probeXFF).Code
			if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusUnauthorized}[tc.throttled]; got != want {
				t.Errorf("probe = %d, want %d", got, want)
			}
		})
	}
}

// Issue 11 item 2: CORS preflights never reach authentication. Forty preflights (which carry
// no credentials) leave the failure budget untouched; an allowed origin gets 204 with the CORS
// headers, any other origin a 204 without them.
func TestPreflightsAreNotFailedLogins(t *testing.T) {
	h := stubHandler(t, httpapi.Options{
		Limits: config.Limits{AuthFailures: config.AuthFailures{PerMinute: 1, Burst: 3, Delay: -1},
			CORSAllowedOrigins: []string{"https://portal.example.net"}},
		Authenticate: goodKeyOnly,
	})
	preflight := func(origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 40 {
		origin := "https://evil.example"
		if i%2 == 0 {
			origin = "https://portal.example.net"
		}
		rec := preflight(origin)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("preflight %d from %s = %d %s, want 204", i, origin, rec.Code, rec.Body)
		}
		allow := rec.Header().Get("Access-Control-Allow-Origin")
		if origin == "https://evil.example" && allow != "" {
			t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", allow)
		}
		if origin == "https://portal.example.net" && (allow != origin || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization")) {
			t.Errorf("allowed origin: headers %v", rec.Header())
		}
	}
	if rec := authRequest(h, "192.0.2.1:1234", "guess", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("first real failure after the preflights = %d, want 401 (preflights spent the budget)", rec.Code)
	}
}
