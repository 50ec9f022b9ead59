package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// keyUpstream records the fairness key its calls arrive with.
type keyUpstream struct {
	stubUpstream
	keys chan string
}

func (u keyUpstream) Organizations(ctx context.Context) ([]upstream.Organization, error) {
	u.keys <- upstream.FairnessKey(ctx)
	return u.stubUpstream.Organizations(ctx)
}

// Issue 11 item 5: the upstream calls of a request carry its principal as the fairness key, so
// each VBO server's slots are shared fairly between principals (upstream.WithFairnessKey).
func TestUpstreamCallsCarryThePrincipalsFairnessKey(t *testing.T) {
	u := keyUpstream{keys: make(chan string, 10)}
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: u}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, httpapi.Options{Backend: b,
		Authenticate: func(r *http.Request) (*auth.Principal, error) {
			if k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); k != "" {
				return auth.NewAdmin(k), nil
			}
			return nil, errors.New("no key")
		}})
	keyOf := func(subject string) string {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ organizations { totalCount } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+subject)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", subject, rec.Code, rec.Body)
		}
		return <-u.keys
	}
	alice, bob := keyOf("alice"), keyOf("bob")
	if alice == "" || bob == "" || alice == bob || !strings.Contains(alice, "alice") {
		t.Errorf("fairness keys: alice %q, bob %q; want distinct keys naming the principal", alice, bob)
	}
}
