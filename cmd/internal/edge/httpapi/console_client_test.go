package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// The console runs its people's operations in process with its request's context, so that
// context carries the client it came from, as the auth gate's does over HTTP: a restore
// started from the console records the person's address and user agent.
func TestConsoleRequestsCarryTheClient(t *testing.T) {
	t.Parallel()
	var got auth.Client
	h := stubHandler(t, httpapi.Options{Console: func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = auth.ClientFrom(r.Context())
			w.WriteHeader(http.StatusNoContent)
		})
	}})
	req := httptest.NewRequest(http.MethodGet, "/console/", nil)
	req.RemoteAddr = "192.0.2.7:4711"
	req.Header.Set("User-Agent", "browser/1.0\x07")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d, want 204 from the console", rec.Code)
	}
	if want := (auth.Client{Addr: "192.0.2.7", UserAgent: "browser/1.0"}); got != want {
		t.Fatalf("the console's request carries client %+v, want %+v", got, want)
	}
}

// The handler the console is handed runs an operation only for a request whose context holds
// the principal the console signed in (401 without one), through the same executor as /graphql.
func TestConsoleInProcessNeedsAPrincipal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		want int
	}{
		{"no principal", nil, http.StatusUnauthorized},
		{"signed in", auth.NewAdmin("console-person"), http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := stubHandler(t, httpapi.Options{Console: func(authenticated http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ctx := r.Context()
					if tc.p != nil {
						ctx = auth.WithPrincipal(ctx, tc.p)
					}
					req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
					req.Header.Set("Content-Type", "application/json")
					authenticated.ServeHTTP(w, req)
				})
			}})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/", nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.p != nil && !strings.Contains(rec.Body.String(), `"__typename":"Query"`) {
				t.Fatalf("the operation did not run: %s", rec.Body)
			}
			if tc.p == nil && !strings.Contains(rec.Body.String(), "UNAUTHENTICATED") {
				t.Fatalf("no UNAUTHENTICATED: %s", rec.Body)
			}
		})
	}
}

// Behind a trusted proxy the console judges its clients as /graphql does: the edge hands it
// the configured proxies, so the client (the restore record's address) and the throttling key
// are the address X-Forwarded-For names, not the proxy's; an untrusted peer's header is not read.
func TestConsoleSeesTheTrustedProxiesClient(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	for _, tc := range []struct {
		name, peer, wantAddr, wantBucket string
	}{
		{"through the trusted proxy", "10.1.2.3:40000", "198.51.100.9", "198.51.100.9"},
		{"an untrusted peer's header is ignored", "192.0.2.7:4711", "192.0.2.7", "192.0.2.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var client auth.Client
			var bucket string
			h := stubHandler(t, httpapi.Options{TrustedProxies: []netip.Prefix{proxy}, Console: func(http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					client, bucket = auth.ClientFrom(r.Context()), clientaddr.ProxiesFrom(r.Context()).Bucket(r)
					w.WriteHeader(http.StatusNoContent)
				})
			}})
			req := httptest.NewRequest(http.MethodGet, "/console/", nil)
			req.RemoteAddr = tc.peer
			req.Header.Set("X-Forwarded-For", "198.51.100.9")
			h.ServeHTTP(httptest.NewRecorder(), req)
			if client.Addr != tc.wantAddr || bucket != tc.wantBucket {
				t.Fatalf("the console sees client %q, bucket %q; want %q, %q", client.Addr, bucket, tc.wantAddr, tc.wantBucket)
			}
		})
	}
}
