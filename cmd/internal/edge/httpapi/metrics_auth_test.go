package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/metrics"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders/cache"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// /metrics names every server and its health: provider admins only.
func TestMetricsNeedAnAdmin(t *testing.T) {
	fleet, _ := upstream.NewFleet()
	m := metrics.New()
	m.Register(fleet, nil, func() cache.Stats { return cache.Stats{} })
	principals := map[string]*auth.Principal{
		"admin":  auth.NewAdmin("ops"),
		"tenant": auth.NewTenantAuditor("aud", "contoso", []auth.OrgRef{{Server: "syd1", OrgID: "o1"}}),
	}
	h := stubHandler(t, httpapi.Options{Metrics: m, Authenticate: func(r *http.Request) (*auth.Principal, error) {
		return principals[r.Header.Get("X-Who")], nil
	}})
	for who, want := range map[string]int{"": http.StatusUnauthorized, "tenant": http.StatusForbidden, "admin": http.StatusOK} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Who", who)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%q: /metrics = %d, want %d", who, rec.Code, want)
		}
	}
}
