package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Issue 20 L5: the automatic persisted-query cache was shared, so a tenant sending a hash alone
// learned whether another tenant had run that exact query. A hash is now known only to the
// tenant that registered it (and provider admins have a scope of their own).
func TestPersistedQueriesScopedByTenant(t *testing.T) {
	t.Parallel()
	org := []auth.OrgRef{{Server: "s1", OrgID: "o1"}}
	principals := map[string]*auth.Principal{
		"contoso-auditor": auth.NewTenantAuditor("aud", "contoso", org),
		"contoso-admin":   auth.NewTenantAdmin("adm", "contoso", org),
		"fabrikam":        auth.NewTenantAuditor("aud", "fabrikam", org),
		"provider":        auth.NewAdmin("ops"),
	}
	h := stubHandler(t, httpapi.Options{Authenticate: func(r *http.Request) (*auth.Principal, error) {
		return principals[r.Header.Get("X-Who")], nil
	}})
	const query = `query Secret { viewer { role } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	send := func(who string, withQuery bool) gqlResp {
		t.Helper()
		body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
		if withQuery {
			body["query"] = query
		}
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Who", who)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var r gqlResp
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%s: HTTP %d %s", who, rec.Code, rec.Body)
		}
		return r
	}
	known := func(r gqlResp) bool { return len(r.Errors) == 0 && len(r.Data) > 0 && string(r.Data) != "null" }
	notFound := func(r gqlResp) bool {
		return len(r.Errors) == 1 && r.Errors[0].Extensions["code"] == "PERSISTED_QUERY_NOT_FOUND"
	}

	if r := send("contoso-auditor", true); !known(r) {
		t.Fatalf("registering the query: %+v", r)
	}
	steps := []struct {
		who   string
		known bool
	}{
		{"contoso-auditor", true}, // its own hash
		{"contoso-admin", true},   // the same tenant
		{"fabrikam", false},       // another tenant learns nothing
		{"provider", false},       // provider admins have their own scope
	}
	for _, s := range steps {
		r := send(s.who, false)
		if s.known && !known(r) || !s.known && !notFound(r) {
			t.Errorf("%s sends the hash alone: data %s, errors %+v; want known %v (else PERSISTED_QUERY_NOT_FOUND)", s.who, r.Data, r.Errors, s.known)
		}
	}
	// Another tenant registers its own copy and uses it.
	if r := send("fabrikam", true); !known(r) {
		t.Fatalf("fabrikam registering: %+v", r)
	}
	if r := send("fabrikam", false); !known(r) {
		t.Errorf("fabrikam's own hash: %+v", r)
	}
}
