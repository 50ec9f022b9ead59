package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
