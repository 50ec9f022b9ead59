package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// TestAppendResponse: the answer postTransport writes is what encoding/json writes for the same
// graphql.Response, byte for byte (encoding/json also escapes <, > and & in the data; the
// values are then equal).
func TestAppendResponse(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name string
		resp graphql.Response
	}{
		{"data", graphql.Response{Data: json.RawMessage(`{"a":[1,2,{"b":"c"}]}`)}},
		{"no data", graphql.Response{}},
		{"null data and errors", graphql.Response{Data: json.RawMessage(`null`), Errors: gqlerror.List{
			{Message: "boom", Path: ast.Path{ast.PathName("a"), ast.PathIndex(2)}, Extensions: map[string]any{"code": "X"}}}}},
		{"everything", graphql.Response{Data: json.RawMessage(`{"x":1}`), Label: "l", Path: ast.Path{ast.PathName("p")},
			HasNext: &yes, Extensions: map[string]any{"cost": map[string]any{"upstreamCalls": 1}}, Errors: gqlerror.List{{Message: "e"}}}},
		{"html in data", graphql.Response{Data: json.RawMessage(`{"s":"<b>&</b>"}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendResponse(nil, &tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(&tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			if !bytes.ContainsAny(tc.resp.Data, "<>&") && !bytes.Equal(got, want) {
				t.Fatalf("bytes differ:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}

// TestOperationErrorStatus: transport.POST's statuses for an operation refused before execution.
func TestOperationErrorStatus(t *testing.T) {
	protocol := gqlerror.List{{Message: "parse", Extensions: map[string]any{"code": errcode.ParseFailed}}}
	for _, tc := range []struct {
		contentType string
		errs        gqlerror.List
		want        int
	}{
		{"application/json", protocol, http.StatusUnprocessableEntity},
		{mediaGraphQLResponse, protocol, http.StatusBadRequest},
		{"application/json", gqlerror.List{{Message: "limit"}}, http.StatusOK},
		{mediaGraphQLResponse, gqlerror.List{{Message: "limit"}}, http.StatusOK},
	} {
		if got := operationErrorStatus(tc.contentType, tc.errs); got != tc.want {
			t.Errorf("%s, %v: %d, want %d", tc.contentType, tc.errs, got, tc.want)
		}
	}
}

// costExtension adds a response extension to every answer (as the gateway's cost extension does).
type costExtension struct{}

func (costExtension) ExtensionName() string                   { return "testCost" }
func (costExtension) Validate(graphql.ExecutableSchema) error { return nil }
func (costExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	graphql.RegisterExtension(ctx, "cost", map[string]any{"upstreamCalls": 1, "note": "<&>"})
	return next(ctx)
}

// noAnswer is an executor whose operations end without a response: what gqlgen's executor
// answers for a subscription whose stream closes before its first event.
type noAnswer struct{ graphql.GraphExecutor }

func (noAnswer) DispatchOperation(ctx context.Context, _ *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	return func(context.Context) *graphql.Response { return nil }, ctx
}

// TestPostTransportMatchesPOST: behind specTransport, postTransport answers every request as
// gqlgen's transport.POST does: status, Content-Type and body byte for byte, but for the body
// transport.POST echoes into its "could not be decoded" message (postTransport quotes none; the
// gateway's readRequest refuses a malformed body before either sees it).
func TestPostTransportMatchesPOST(t *testing.T) {
	exec := executor.New(graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}))
	exec.Use(costExtension{})
	echo := regexp.MustCompile(` body:[^"]*"`)
	for _, tc := range []struct {
		name, contentType, accept, body string
		noBody                          bool
		exec                            graphql.GraphExecutor
	}{
		{name: "empty body", noBody: true},
		{name: "empty body, chunked"},
		{name: "not JSON", body: "xyz"},
		{name: "not an object", body: "[1]"},
		{name: "no query", body: "{}"},
		{name: "no query, graphql-response", accept: mediaGraphQLResponse, body: "{}"},
		{name: "data", body: `{"query":"{ __typename }"}`},
		{name: "data, graphql-response", accept: mediaGraphQLResponse, body: `{"query":"{ __typename }"}`},
		{name: "data, any media type", contentType: "application/json; charset=utf-8", accept: "*/*", body: `{"query":"{ __typename }"}`},
		{name: "data, unknown media type", accept: "text/html", body: `{"query":"{ __typename }"}`},
		{name: "parse error", body: `{"query":"{"}`},
		{name: "parse error, graphql-response", accept: mediaGraphQLResponse, body: `{"query":"{"}`},
		{name: "validation error", body: `{"query":"{ nope }"}`},
		{name: "validation error, graphql-response", accept: mediaGraphQLResponse, body: `{"query":"{ nope }"}`},
		{name: "variable coercion", body: `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":{"a":1}}}`},
		{name: "unknown operation name", body: `{"query":"query A { __typename }","operationName":"B"}`},
		{name: "field error and null data", body: `{"query":"{ viewer { role } }"}`},
		{name: "subscription error", body: `{"query":"subscription { restoreSessionStarted { id } }"}`},
		{name: "stream ended without an answer", body: `{"query":"{ __typename }"}`, exec: noAnswer{exec}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(tr graphql.Transport) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tc.body))
				if tc.noBody {
					req.Body = http.NoBody
				}
				req.Header.Set("Content-Type", cmp.Or(tc.contentType, "application/json"))
				if tc.accept != "" {
					req.Header.Set("Accept", tc.accept)
				}
				req = req.WithContext(graphql.StartOperationTrace(req.Context()))
				var ex graphql.GraphExecutor = exec
				if tc.exec != nil {
					ex = tc.exec
				}
				rec := httptest.NewRecorder()
				specTransport{tr}.Do(rec, req, ex)
				return rec
			}
			want, got := run(transport.POST{}), run(postTransport{})
			wantBody := echo.ReplaceAllString(want.Body.String(), `"`)
			if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") || got.Body.String() != wantBody {
				t.Fatalf("postTransport: %d %s %s\ntransport.POST: %d %s %s", got.Code, got.Header().Get("Content-Type"), got.Body,
					want.Code, want.Header().Get("Content-Type"), want.Body)
			}
		})
	}
}

// failingBody is a request body whose read fails (a client that goes away mid-body).
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
func (failingBody) Close() error             { return nil }

// TestPostTransportFailures: the error paths the gateway's readRequest keeps postTransport
// from meeting, answered as GraphQL errors rather than a panic or an empty body: a body that
// cannot be read (200 with the error, as transport.POST answers it), and a response
// encoding/json refuses (an extension holding a NaN).
func TestPostTransportFailures(t *testing.T) {
	t.Run("unreadable body", func(t *testing.T) {
		exec := executor.New(graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}))
		req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		req.Body = failingBody{}
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(graphql.StartOperationTrace(req.Context()))
		rec := httptest.NewRecorder()
		postTransport{}.Do(rec, req, exec)
		var resp struct {
			Errors []struct{ Message string } `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
		}
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" ||
			len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "could not read request body: connection reset") {
			t.Fatalf("got %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	})
	t.Run("unencodable response", func(t *testing.T) {
		var b bytes.Buffer
		writeResponse(&b, &graphql.Response{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"x": math.NaN()}})
		want := `{"errors":[{"message":"internal system error: the response could not be encoded"}],"data":null}`
		if b.String() != want {
			t.Fatalf("got  %s\nwant %s", b.String(), want)
		}
	})
}
