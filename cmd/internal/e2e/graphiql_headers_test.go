package e2e_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/graphiql"
)

// Outside the demo, GraphiQL opens with an Authorization header to fill in (issue 23 item 5):
// the page's configuration carries graphiql.HeadersTemplate, so the headers editor opens with it.
func TestGraphiQLOpensWithAHeaderTemplate(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	h.gw.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /: %d", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	m := regexp.MustCompile(`(?s)<script type="application/json" id="graphiql-config">(.*?)</script>`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("GET /: no GraphiQL configuration block in\n%.400s", body)
	}
	var cfg struct {
		DefaultHeaders string `json:"defaultHeaders"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &cfg); err != nil {
		t.Fatalf("GraphiQL configuration: %v", err)
	}
	if cfg.DefaultHeaders != graphiql.HeadersTemplate {
		t.Errorf("defaultHeaders = %q, want the template %q", cfg.DefaultHeaders, graphiql.HeadersTemplate)
	}
	var hdr map[string]string
	if err := json.Unmarshal([]byte(cfg.DefaultHeaders), &hdr); err != nil || hdr["Authorization"] == "" {
		t.Errorf("the template is not a JSON object with an Authorization header: %q (%v)", cfg.DefaultHeaders, err)
	}
}
