package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// tenantAPQCache scopes the automatic persisted-query (APQ) cache by tenant: a hash one tenant
// registered is PERSISTED_QUERY_NOT_FOUND for every other, which must send its query text
// itself. A shared cache told a tenant which exact queries the others ran (issue 20 L5). The
// provider admins share a scope of their own; the manifest (persistedQueries) is the
// operator's and stays shared.
type tenantAPQCache struct{ graphql.Cache[string] }

func (c tenantAPQCache) Get(ctx context.Context, hash string) (string, bool) {
	return c.Cache.Get(ctx, apqScope(ctx)+hash)
}

func (c tenantAPQCache) Add(ctx context.Context, hash, query string) {
	c.Cache.Add(ctx, apqScope(ctx)+hash, query)
}

// apqScope prefixes a caller's APQ keys: its tenant, length-prefixed so no tenant's keys can be
// spelled by another's hash ("" for provider admins; behind the auth gate there is always a
// principal, but a call without one gets a scope of its own).
func apqScope(ctx context.Context) string {
	p := auth.FromContext(ctx)
	if p == nil {
		return "-"
	}
	return strconv.Itoa(len(p.Tenant)) + ":" + p.Tenant + ":"
}

// persistedQueries resolves operations from the persisted-query manifest and, in
// persisted-only mode, refuses everything else (APQ is then off: APQ is not a safelist).
type persistedQueries struct {
	ops  map[string]string // lower-case sha256 hex -> query
	only bool
}

var _ graphql.OperationParameterMutator = (*persistedQueries)(nil)

func (p *persistedQueries) ExtensionName() string                   { return "PersistedQueries" }
func (p *persistedQueries) Validate(graphql.ExecutableSchema) error { return nil }

func (p *persistedQueries) MutateOperationParameters(_ context.Context, raw *graphql.RawParams) *gqlerror.Error {
	var hash string
	if pq, ok := raw.Extensions["persistedQuery"].(map[string]any); ok {
		hash, _ = pq["sha256Hash"].(string)
		hash = strings.ToLower(hash)
	}
	if raw.Query == "" {
		if q, ok := p.ops[hash]; ok && hash != "" {
			raw.Query = q
			return nil
		}
		if p.only {
			e := gqlerror.Errorf("unknown persisted operation; this gateway runs only operations from its manifest")
			e.Extensions = map[string]any{"code": "PERSISTED_QUERY_NOT_FOUND"}
			return e
		}
		return nil // APQ answers PERSISTED_QUERY_NOT_FOUND or finds it in its cache
	}
	if p.only {
		sum := sha256.Sum256([]byte(raw.Query))
		if _, ok := p.ops[hex.EncodeToString(sum[:])]; !ok {
			e := gqlerror.Errorf("this gateway runs only operations from its persisted-query manifest")
			e.Extensions = map[string]any{"code": "PERSISTED_QUERY_NOT_IN_LIST"}
			return e
		}
	}
	return nil
}
