package cost

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Estimator estimates operations against one schema. It is immutable and safe for concurrent
// use.
type Estimator struct {
	schema *ast.Schema
	paging Paging
	fields map[string]*fieldInfo // "Type.field" -> what the directives say
	types  map[string]float64    // type name -> @cost weight
}

// fieldInfo is what the cost directives say about one field definition.
type fieldInfo struct {
	weight   float64 // from @cost; < 0 when unset
	listSize *listSize
	// unsizedList: a list of objects without @listSize (must be a connection's sized field)
	unsizedList bool
}

// listSize is a field's @listSize.
type listSize struct {
	assumed    float64 // < 0 when unset
	slicing    []string
	sized      []string
	requireOne bool
}

// New reads the cost directives of schema. It fails on a composite list field without
// @listSize (outside introspection), on a @listSize naming arguments or fields that do not
// exist, and on a @cost weight that is not a number.
func New(schema *ast.Schema, paging Paging) (*Estimator, error) {
	if err := paging.validate(); err != nil {
		return nil, err
	}
	e := &Estimator{schema: schema, paging: paging, fields: map[string]*fieldInfo{}, types: map[string]float64{}}
	for name, def := range schema.Types {
		if strings.HasPrefix(name, "__") {
			continue
		}
		if w, ok, err := costWeight(def.Directives); err != nil {
			return nil, fmt.Errorf("cost: type %s: %w", name, err)
		} else if ok {
			e.types[name] = w
		}
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			coord := name + "." + f.Name
			info, err := e.readField(f)
			if err != nil {
				return nil, fmt.Errorf("cost: %s: %w", coord, err)
			}
			e.fields[coord] = info
		}
	}
	if err := e.checkSizedFields(); err != nil {
		return nil, err
	}
	return e, nil
}

// checkSizedFields makes sure every list of objects has a size: its own @listSize, or, for a
// connection's edges, the @listSize(sizedFields:) of every field that returns the connection.
func (e *Estimator) checkSizedFields() error {
	for coord, info := range e.fields {
		if !info.unsizedList {
			continue
		}
		typ, name, _ := strings.Cut(coord, ".")
		returned := false
		for other, o := range e.fields {
			t, f, _ := strings.Cut(other, ".")
			if e.schema.Types[t].Fields.ForName(f).Type.Name() != typ {
				continue
			}
			returned = true
			if o.listSize == nil || !slices.Contains(o.listSize.sized, name) {
				return fmt.Errorf("cost: %s returns %s without @listSize(sizedFields: [%q]): %s would have no size", other, typ, name, coord)
			}
		}
		if !returned {
			return fmt.Errorf("cost: %s: a list without @listSize (its size would be a guess)", coord)
		}
	}
	return nil
}

// readField reads the cost directives of one field definition: its @cost weight and its
// @listSize, checked against the field's arguments and type; a list of objects without
// @listSize is marked unsizedList (checkSizedFields decides whether a connection sizes it).
func (e *Estimator) readField(f *ast.FieldDefinition) (*fieldInfo, error) {
	info := &fieldInfo{weight: -1}
	w, ok, err := costWeight(f.Directives)
	if err != nil {
		return nil, err
	}
	if ok {
		info.weight = w
	}
	target := e.schema.Types[f.Type.Name()]
	composite := target != nil && (target.Kind == ast.Object || target.Kind == ast.Interface || target.Kind == ast.Union)
	d := f.Directives.ForName("listSize")
	if d == nil {
		info.unsizedList = f.Type.Elem != nil && composite
		return info, nil
	}
	ls, err := readListSize(d)
	if err != nil {
		return nil, err
	}
	if err := ls.checkAgainst(f, target); err != nil {
		return nil, err
	}
	info.listSize = ls
	return info, nil
}

// readListSize reads the arguments of a @listSize directive (unknown arguments are ignored).
func readListSize(d *ast.Directive) (*listSize, error) {
	ls := &listSize{assumed: -1, requireOne: true}
	for _, a := range d.Arguments {
		v, err := a.Value.Value(nil)
		if err != nil {
			return nil, fmt.Errorf("@listSize(%s): %w", a.Name, err)
		}
		switch a.Name {
		case "assumedSize":
			n, ok := toFloat(v)
			if !ok || n < 0 {
				return nil, fmt.Errorf("@listSize(assumedSize: %v): not a size", v)
			}
			ls.assumed = n
		case "slicingArguments":
			ls.slicing = strings1(v)
		case "sizedFields":
			ls.sized = strings1(v)
		case "requireOneSlicingArgument":
			b, _ := v.(bool)
			ls.requireOne = b
		}
	}
	return ls, nil
}

// checkAgainst makes sure ls fits field f, whose type is target (nil when unknown): its
// slicing arguments are arguments of f, its sized fields are list fields of target (or, sizing
// none, f is itself a list), and it has slicing arguments or an assumed size.
func (ls *listSize) checkAgainst(f *ast.FieldDefinition, target *ast.Definition) error {
	for _, s := range ls.slicing {
		if f.Arguments.ForName(s) == nil {
			return fmt.Errorf("@listSize slicing argument %q is not an argument of the field", s)
		}
	}
	if len(ls.sized) > 0 {
		if target == nil {
			return fmt.Errorf("@listSize sizedFields on a field of unknown type")
		}
		for _, s := range ls.sized {
			sf := target.Fields.ForName(s)
			if sf == nil || sf.Type.Elem == nil {
				return fmt.Errorf("@listSize sized field %q is not a list field of %s", s, target.Name)
			}
		}
	} else if f.Type.Elem == nil {
		return fmt.Errorf("@listSize on a field that is not a list and sizes no fields")
	}
	if len(ls.slicing) == 0 && ls.assumed < 0 {
		return fmt.Errorf("@listSize needs slicingArguments or assumedSize")
	}
	return nil
}

func costWeight(dirs ast.DirectiveList) (float64, bool, error) {
	d := dirs.ForName("cost")
	if d == nil {
		return 0, false, nil
	}
	a := d.Arguments.ForName("weight")
	if a == nil {
		return 0, false, fmt.Errorf("@cost without weight")
	}
	v, err := a.Value.Value(nil)
	if err != nil {
		return 0, false, err
	}
	s, _ := v.(string)
	w, err := strconv.ParseFloat(s, 64)
	if err != nil || w < 0 {
		return 0, false, fmt.Errorf("@cost(weight: %q): want a non-negative number", s)
	}
	return w, true, nil
}

func strings1(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	if s, ok := v.(fmt.Stringer); ok {
		f, err := strconv.ParseFloat(s.String(), 64)
		return f, err == nil
	}
	return 0, false
}

// typeWeight is what one object of a type weighs: @cost on the type, else 1 for composite
// types and 0 for scalars and enums.
func (e *Estimator) typeWeight(def *ast.Definition) float64 {
	if w, ok := e.types[def.Name]; ok {
		return w
	}
	switch def.Kind {
	case ast.Object, ast.Interface, ast.Union:
		return 1
	}
	return 0
}
