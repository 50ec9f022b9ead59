package telemetry_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
)

// Issue 20 M2: an operation is named only by a name an operation of its document has, at most
// MaxOperationNameBytes long; anything else is "anonymous" or "unknown", never the caller's text.
func TestOperationNameBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("N", 10_000)
	doc := func(q string) *ast.QueryDocument {
		d, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	twoOps := doc("query A { a } query B { b }")
	longDoc := doc("query " + long + " { a }")
	cases := []struct {
		name string
		oc   *graphql.OperationContext
		want string
	}{
		{"no context", nil, telemetry.AnonymousOperation},
		{"executed, named", &graphql.OperationContext{Operation: twoOps.Operations[1], OperationName: "B"}, "B"},
		{"executed, anonymous", &graphql.OperationContext{Operation: doc("{ a }").Operations[0]}, telemetry.AnonymousOperation},
		{"executed, long name", &graphql.OperationContext{Operation: longDoc.Operations[0], OperationName: long}, long[:telemetry.MaxOperationNameBytes]},
		{"operationName matches no operation", &graphql.OperationContext{Doc: twoOps, OperationName: long}, telemetry.UnknownOperation},
		{"operationName names one of the document's", &graphql.OperationContext{Doc: twoOps, OperationName: "A"}, "A"},
		{"two operations, none chosen", &graphql.OperationContext{Doc: twoOps}, telemetry.AnonymousOperation},
		{"refused in validation, named", &graphql.OperationContext{RawQuery: "query Q { nope }"}, "Q"},
		{"refused in validation, long name", &graphql.OperationContext{RawQuery: "query " + long[:3000] + " { nope }"}, long[:telemetry.MaxOperationNameBytes]},
		{"refused in validation, other operationName", &graphql.OperationContext{RawQuery: "query Q { nope }", OperationName: "Other"}, telemetry.UnknownOperation},
		{"unparsable, operationName given", &graphql.OperationContext{RawQuery: "{{{", OperationName: long}, telemetry.UnknownOperation},
		{"unparsable, nothing given", &graphql.OperationContext{RawQuery: "{{{"}, telemetry.AnonymousOperation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := telemetry.OperationName(c.oc); got != c.want {
				t.Errorf("OperationName = %.80q, want %.80q", got, c.want)
			}
		})
	}
}

func TestBoundName(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "Short", strings.Repeat("é", 100), strings.Repeat("x", 63) + "é", "bad\xffutf8", strings.Repeat("\xff", 200)} {
		got := telemetry.BoundName(in)
		if len(got) > telemetry.MaxOperationNameBytes || !utf8.ValidString(got) {
			t.Errorf("BoundName(%.40q) = %q: %d bytes, valid UTF-8 %v", in, got, len(got), utf8.ValidString(got))
		}
		if len(in) <= telemetry.MaxOperationNameBytes && utf8.ValidString(in) && got != in {
			t.Errorf("BoundName(%q) = %q, want it unchanged", in, got)
		}
	}
}
