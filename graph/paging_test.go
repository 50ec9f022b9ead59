package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// Every `first` argument in the schema defaults to model.DefaultFirst and documents both page sizes,
// so the schema and the Go constants cannot drift apart.
func TestSchemaPageSizes(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	want := fmt.Sprintf("default %d, at most %d", model.DefaultFirst, model.MaxFirst)
	found := 0
	for _, def := range schema.Types {
		if def.BuiltIn {
			continue
		}
		for _, f := range def.Fields {
			arg := f.Arguments.ForName("first")
			if arg == nil {
				continue
			}
			found++
			where := def.Name + "." + f.Name + "(first)"
			if arg.DefaultValue == nil || arg.DefaultValue.Raw != fmt.Sprint(model.DefaultFirst) {
				t.Errorf("%s: default %v, want %d", where, arg.DefaultValue, model.DefaultFirst)
			}
			if !strings.Contains(arg.Description, want) {
				t.Errorf("%s: description %q does not say %q", where, arg.Description, want)
			}
		}
	}
	if found == 0 {
		t.Fatal("no connection field with a first argument: the test checks nothing")
	}
}
