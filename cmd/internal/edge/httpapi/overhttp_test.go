package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// Status codes and bodies per the GraphQL-over-HTTP specification, for both response media
// types: request errors answer 200 under application/json and 400 under
// application/graphql-response+json, invalid requests 400 under both, and none of them has a
// data entry. The gateway's own query-limit refusals keep HTTP 200 and "data": null.
func TestGraphQLOverHTTPStatusAndBody(t *testing.T) {
	h := stubHandler(t, httpapi.Options{Introspection: true, Limits: config.Limits{MaxDepth: 2}})
	const (
		jsonMT = "application/json"
		gqlMT  = "application/graphql-response+json"
	)
	type want struct {
		status int
		data   string // the raw data entry; "" = no data entry
		code   string // extensions.code of the first error; "" = no errors
	}
	post := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	get := func(params url.Values) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil)
		r.Header.Set("GraphQL-Preflight", "1") // GETs need it (CSRF)
		return r
	}
	deep := `{"query":"{ organizations { edges { node { name } } } }"}` // depth 4 > maxDepth 2
	tests := []struct {
		name   string
		req    func() *http.Request
		accept map[string]want // Accept header -> answer; "" = no Accept header
	}{
		{"executed", func() *http.Request { return post(`{"query":"{ __typename }"}`) }, map[string]want{
			"":     {200, `{"__typename":"Query"}`, ""},
			jsonMT: {200, `{"__typename":"Query"}`, ""},
			gqlMT:  {200, `{"__typename":"Query"}`, ""},
		}},
		{"parse error", func() *http.Request { return post(`{"query":"{"}`) }, map[string]want{
			"":     {200, "", "GRAPHQL_PARSE_FAILED"},
			jsonMT: {200, "", "GRAPHQL_PARSE_FAILED"},
			gqlMT:  {400, "", "GRAPHQL_PARSE_FAILED"},
		}},
		{"validation error", func() *http.Request { return post(`{"query":"{ noSuchField }"}`) }, map[string]want{
			jsonMT: {200, "", "GRAPHQL_VALIDATION_FAILED"},
			gqlMT:  {400, "", "GRAPHQL_VALIDATION_FAILED"},
		}},
		{"variable coercion", func() *http.Request {
			return post(`{"query":"query T($n: String!) { __type(name: $n) { name } }","variables":{"n":null}}`)
		}, map[string]want{
			jsonMT: {200, "", "GRAPHQL_VALIDATION_FAILED"},
			gqlMT:  {400, "", "GRAPHQL_VALIDATION_FAILED"},
		}},
		{"unknown operationName", func() *http.Request {
			return post(`{"query":"query A { __typename }","operationName":"B"}`)
		}, map[string]want{
			jsonMT: {200, "", "GRAPHQL_VALIDATION_FAILED"},
			gqlMT:  {400, "", "GRAPHQL_VALIDATION_FAILED"},
		}},
		{"no query (invalid parameters)", func() *http.Request { return post(`{"qeury":"{ __typename }"}`) }, map[string]want{
			jsonMT: {400, "", "GRAPHQL_VALIDATION_FAILED"},
			gqlMT:  {400, "", "GRAPHQL_VALIDATION_FAILED"},
		}},
		// These two are refused before gqlgen, by the request reader (body.go).
		{"query of the wrong type", func() *http.Request { return post(`{"query":0}`) }, map[string]want{
			jsonMT: {400, "", "BAD_USER_INPUT"},
			gqlMT:  {400, "", "BAD_USER_INPUT"},
		}},
		{"body not JSON", func() *http.Request { return post(`{ "not a JSON`) }, map[string]want{
			jsonMT: {400, "", "BAD_USER_INPUT"},
			gqlMT:  {400, "", "BAD_USER_INPUT"},
		}},
		{"query limit (the gateway's own refusal)", func() *http.Request { return post(deep) }, map[string]want{
			jsonMT: {200, "null", "QUERY_TOO_COMPLEX"},
			gqlMT:  {200, "null", "QUERY_TOO_COMPLEX"},
		}},
		{"GET executed", func() *http.Request { return get(url.Values{"query": {"{ __typename }"}}) }, map[string]want{
			jsonMT: {200, `{"__typename":"Query"}`, ""},
			gqlMT:  {200, `{"__typename":"Query"}`, ""},
		}},
		{"GET parse error", func() *http.Request { return get(url.Values{"query": {"{"}}) }, map[string]want{
			jsonMT: {200, "", "GRAPHQL_PARSE_FAILED"},
			gqlMT:  {400, "", "GRAPHQL_PARSE_FAILED"},
		}},
		{"GET variables not JSON", func() *http.Request {
			return get(url.Values{"query": {"{ __typename }"}, "variables": {"{nope"}})
		}, map[string]want{
			jsonMT: {400, "", ""},
			gqlMT:  {400, "", ""},
		}},
	}
	for _, tc := range tests {
		for accept, w := range tc.accept {
			t.Run(tc.name+"/accept "+accept, func(t *testing.T) {
				req := tc.req()
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != w.status {
					t.Errorf("status %d, want %d: %s", rec.Code, w.status, rec.Body)
				}
				wantMT := accept
				if wantMT == "" {
					wantMT = jsonMT
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, wantMT) {
					t.Errorf("Content-Type %q, want %s", ct, wantMT)
				}
				var body map[string]json.RawMessage
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body is not a JSON object: %v: %s", err, rec.Body)
				}
				if data, ok := body["data"]; string(data) != w.data || ok != (w.data != "") {
					t.Errorf("data entry %q (present %v), want %q: %s", data, ok, w.data, rec.Body)
				}
				var errs []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				}
				if raw, ok := body["errors"]; ok {
					if err := json.Unmarshal(raw, &errs); err != nil {
						t.Fatalf("errors: %v: %s", err, raw)
					}
				}
				switch {
				case w.status == 200 && w.code == "" && len(errs) > 0:
					t.Errorf("unexpected errors: %s", rec.Body)
				case w.status != 200 && len(errs) == 0, w.code != "" && len(errs) == 0:
					t.Errorf("no errors entry: %s", rec.Body)
				case w.code != "" && errs[0].Extensions["code"] != w.code:
					t.Errorf("code %v, want %s: %s", errs[0].Extensions["code"], w.code, rec.Body)
				}
			})
		}
	}
}
