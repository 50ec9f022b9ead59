package cost

import (
	"reflect"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const testDirectives = `directive @cost(weight: String!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
`

// TestReadField pins what readField makes of one field definition's cost directives: the
// weight, the @listSize it reads, whether the field is an unsized list, and each refusal's
// message, word for word.
func TestReadField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		field   string // Query's field definition
		want    *fieldInfo
		wantErr string
	}{
		{name: "scalar", field: `n: Int`, want: &fieldInfo{weight: -1}},
		{name: "weighted object", field: `t: Thing @cost(weight: "2.5")`, want: &fieldInfo{weight: 2.5}},
		{name: "unsized object list", field: `ts: [Thing!]!`, want: &fieldInfo{weight: -1, unsizedList: true}},
		{name: "unsized scalar list", field: `ns: [Int!]!`, want: &fieldInfo{weight: -1}},
		{name: "slicing argument", field: `ts(first: Int): [Thing!]! @listSize(slicingArguments: ["first"])`,
			want: &fieldInfo{weight: -1, listSize: &listSize{assumed: -1, slicing: []string{"first"}, requireOne: true}}},
		{name: "assumed size, not required", field: `ts(first: Int, last: Int): [Thing!]! @cost(weight: "1") @listSize(assumedSize: 7, slicingArguments: ["first", "last"], requireOneSlicingArgument: false)`,
			want: &fieldInfo{weight: 1, listSize: &listSize{assumed: 7, slicing: []string{"first", "last"}, requireOne: false}}},
		{name: "sized fields", field: `c(first: Int): Conn! @listSize(slicingArguments: ["first"], sizedFields: ["edges"])`,
			want: &fieldInfo{weight: -1, listSize: &listSize{assumed: -1, slicing: []string{"first"}, sized: []string{"edges"}, requireOne: true}}},
		{name: "assumed size only", field: `ts: [Thing!]! @listSize(assumedSize: 3)`,
			want: &fieldInfo{weight: -1, listSize: &listSize{assumed: 3, requireOne: true}}},
		{name: "bad weight", field: `t: Thing @cost(weight: "heavy")`, wantErr: `@cost(weight: "heavy"): want a non-negative number`},
		{name: "negative assumed size", field: `ts: [Thing!]! @listSize(assumedSize: -1)`, wantErr: `@listSize(assumedSize: -1): not a size`},
		{name: "unknown slicing argument", field: `ts(n: Int): [Thing!]! @listSize(slicingArguments: ["first"])`,
			wantErr: `@listSize slicing argument "first" is not an argument of the field`},
		{name: "sized field that is no list", field: `c(first: Int): Conn! @listSize(slicingArguments: ["first"], sizedFields: ["one"])`,
			wantErr: `@listSize sized field "one" is not a list field of Conn`},
		{name: "sized field that does not exist", field: `c(first: Int): Conn! @listSize(slicingArguments: ["first"], sizedFields: ["nope"])`,
			wantErr: `@listSize sized field "nope" is not a list field of Conn`},
		{name: "sized fields of a scalar", field: `n(first: Int): Int @listSize(slicingArguments: ["first"], sizedFields: ["x"])`,
			wantErr: `@listSize sized field "x" is not a list field of Int`},
		{name: "not a list, sizes nothing", field: `t(first: Int): Thing @listSize(slicingArguments: ["first"])`,
			wantErr: `@listSize on a field that is not a list and sizes no fields`},
		{name: "neither slicing nor assumed", field: `ts: [Thing!]! @listSize(requireOneSlicingArgument: false)`,
			wantErr: `@listSize needs slicingArguments or assumedSize`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, gerr := gqlparser.LoadSchema(&ast.Source{Input: testDirectives + `
			  type Query { ` + tc.field + ` }
			  type Thing { a: Int }
			  type Conn { edges: [Thing!]! one: Thing }`})
			if gerr != nil {
				t.Fatalf("schema: %v", gerr)
			}
			f := s.Query.Fields[0]
			e := &Estimator{schema: s}
			got, err := e.readField(f)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("readField(%s) error = %v, want %q", tc.field, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("readField(%s): %v", tc.field, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("readField(%s) = %+v (listSize %+v), want %+v (listSize %+v)", tc.field, got, got.listSize, tc.want, tc.want.listSize)
			}
		})
	}
}
