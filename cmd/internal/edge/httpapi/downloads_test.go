package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// /download/ goes through the same edge as /graphql: a request id, the auth gate (401 without
// credentials, before the download handler runs), the principal in the context; without a
// download service it says downloads are off.
func TestDownloadsBehindTheEdge(t *testing.T) {
	t.Parallel()
	authn := func(r *http.Request) (*auth.Principal, error) {
		if r.Header.Get("X-API-Key") == "k" {
			return auth.NewTenantAdmin("alice", "t1", nil), nil
		}
		return nil, nil
	}
	reached := 0
	dl := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		p := auth.FromContext(r.Context())
		if p == nil || requestid.From(r.Context()) == "" {
			t.Errorf("download handler without principal (%v) or request id", p)
		}
		w.Write([]byte(p.Subject + " " + r.URL.Path))
	})
	on := stubHandler(t, httpapi.Options{Authenticate: authn, Downloads: dl})
	off := stubHandler(t, httpapi.Options{Authenticate: authn})
	for _, tc := range []struct {
		name   string
		h      http.Handler
		key    string
		method string
		code   int
		body   string
	}{
		{"anonymous", on, "", http.MethodGet, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"bad key", on, "nope", http.MethodGet, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"authenticated", on, "k", http.MethodGet, http.StatusOK, "alice /download/tok"},
		{"POST", on, "k", http.MethodPost, http.StatusNotFound, ""},
		{"off", off, "k", http.MethodGet, http.StatusNotFound, "NOT_CONFIGURED"},
	} {
		req := httptest.NewRequest(tc.method, "/download/tok", nil)
		if tc.key != "" {
			req.Header.Set("X-API-Key", tc.key)
		}
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, req)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) || rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s: %d %q (request id %q); want %d containing %q", tc.name, rec.Code, rec.Body, rec.Header().Get("X-Request-Id"), tc.code, tc.body)
		}
	}
	if reached != 1 {
		t.Errorf("the download handler ran %d times, want once (only for the authenticated GET)", reached)
	}
}
