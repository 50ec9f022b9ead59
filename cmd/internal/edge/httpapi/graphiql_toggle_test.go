package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// GraphiQL is on by default and can be switched off; /healthz stays either way.
func TestGraphiQLToggle(t *testing.T) {
	for _, off := range []bool{false, true} {
		h := stubHandler(t, httpapi.Options{NoGraphiQL: off})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		page := rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), "graphiql")
		if page == off {
			t.Errorf("NoGraphiQL=%v: GET / = %d (page served: %v)", off, rec.Code, page)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("NoGraphiQL=%v: /healthz = %d", off, rec.Code)
		}
	}
}
