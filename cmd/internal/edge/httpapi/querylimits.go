package httpapi

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// queryLimits enforces the static query limits before anything executes, so a rejected query
// never reaches a loader or a VBO server:
//
//   - before gqlgen parses and validates (MutateOperationParameters): token count, then the
//     gateway's own parse (parser token limit) and a walk of the document (fragments memoised:
//     linear in its size) for selections, depth, aliases, directives and fragment cycles. The
//     selection bound keeps gqlparser's validation fast: it compares repeated fields and
//     fragments pairwise. Fragment cycles are refused here, before gqlparser's
//     validator sees them (gqlparser issue #173: recursive fragments can overflow its stack).
//   - after validation (MutateOperationContext): every enum value behind a variable written
//     exactly as in the schema (checkEnumVariables), every `first` argument against maxFirst
//     (variables resolved). The cost (upstream calls, response objects) is the QueryCost
//     extension's (cost.go), also before execution.
//
// Violations answer HTTP 200 with extensions.code QUERY_TOO_COMPLEX (or BAD_USER_INPUT for
// `first`) and a message that names the limit and the value.
type queryLimits struct {
	l      config.Limits
	schema *ast.Schema
	passed *lru.LRU[struct{}] // query texts that passed the static checks
}

func newQueryLimits(l config.Limits, schema *ast.Schema) *queryLimits {
	return &queryLimits{l: l, schema: schema, passed: lru.New[struct{}](1000)}
}

var (
	_ graphql.HandlerExtension          = (*queryLimits)(nil)
	_ graphql.OperationParameterMutator = (*queryLimits)(nil)
	_ graphql.OperationContextMutator   = (*queryLimits)(nil)
)

func (q *queryLimits) ExtensionName() string { return "QueryLimits" }

func (q *queryLimits) Validate(graphql.ExecutableSchema) error { return nil }

func limitError(code, limit string, value, max int64, format string, args ...any) *gqlerror.Error {
	e := gqlerror.Errorf(format, args...)
	e.Extensions = map[string]any{"code": code, "limit": limit, "value": value, "max": max}
	return e
}

func (q *queryLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil // APQ hash without a registered query: gqlgen answers PERSISTED_QUERY_NOT_FOUND
	}
	if _, ok := q.passed.Get(ctx, p.Query); ok {
		return nil
	}
	if n := countTokens(p.Query); n > q.l.MaxTokens {
		return limitError(resolvers.CodeQueryTooComplex, "maxTokens", int64(n), int64(q.l.MaxTokens),
			"query has %d tokens; the limit (maxTokens) is %d", n, q.l.MaxTokens)
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, q.l.ParserTokenLimit)
	if err != nil {
		return nil // gqlgen parses again and reports the syntax error itself
	}
	if e := q.checkDocument(doc); e != nil {
		return e
	}
	q.passed.Add(ctx, p.Query, struct{}{})
	return nil
}

// countTokens counts the lexical tokens of a query (a lexing error ends the count: the parser
// reports it).
func countTokens(query string) int {
	lx := lexer.New(&ast.Source{Input: query})
	n := 0
	for {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return n
		}
		n++
	}
}

// docStats are the expanded (fragments inlined) measures of a selection set. The per-name
// counts let a refusal name the field behind it.
type docStats struct {
	depth, aliases, directives, selections int64
	fieldCounts                            map[string]int64 // field name -> selections, expanded
	aliasCounts                            map[string]int64 // field name -> aliased selections, expanded
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// add adds o's counts to s (depth is the caller's business).
func (s *docStats) add(o docStats) {
	s.aliases = satAdd(s.aliases, o.aliases)
	s.directives = satAdd(s.directives, o.directives)
	s.selections = satAdd(s.selections, o.selections)
	s.fieldCounts = addCounts(s.fieldCounts, o.fieldCounts)
	s.aliasCounts = addCounts(s.aliasCounts, o.aliasCounts)
}

func addCounts(dst, src map[string]int64) map[string]int64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int64, len(src))
	}
	for k, v := range src {
		dst[k] = satAdd(dst[k], v)
	}
	return dst
}

func addCount(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] = satAdd(m[k], n)
	return m
}

// most is the name with the largest count (ties: the first in name order).
func most(counts map[string]int64) (string, int64) {
	var name string
	var n int64
	for k, v := range counts {
		if v > n || v == n && k < name {
			name, n = k, v
		}
	}
	return name, n
}

type docWalker struct {
	frags map[string]*ast.FragmentDefinition
	memo  map[string]docStats
	state map[string]int // 1 visiting, 2 done
	cycle string
	// crowded is the first selection set that repeats a response key or spreads fragments
	// beyond the per-set bounds (nil: none).
	crowded *gqlerror.Error
}

// Per selection set (its inline fragments included), before validation: gqlparser compares
// the fields of one response key, and the fragments spread together, pairwise. These bounds
// keep that work linear in the query's size; no useful query comes near them (fields of one
// response key merge into one).
const (
	maxKeyRepeats   = 16 // selections of one response key
	maxSetSpreads   = 64 // distinct fragments spread
	setBoundsLimit  = "selectionSet"
	setBoundsAdvice = "fields with the same response key merge into one: select it once"
)

// checkSet counts one selection set's response keys and spreads (inline fragments flattened).
func (w *docWalker) checkSet(set ast.SelectionSet) {
	if w.crowded != nil {
		return
	}
	keys := map[string]int64{}
	spreads := map[string]bool{}
	var count func(ast.SelectionSet)
	count = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch x := sel.(type) {
			case *ast.Field:
				key := x.Alias
				if key == "" {
					key = x.Name
				}
				keys[key]++
			case *ast.InlineFragment:
				count(x.SelectionSet)
			case *ast.FragmentSpread:
				spreads[x.Name] = true
			}
		}
	}
	count(set)
	if name, n := most(keys); n > maxKeyRepeats {
		e := limitError(resolvers.CodeQueryTooComplex, setBoundsLimit, n, maxKeyRepeats,
			"field %s is selected %d times in one selection set (at most %d: %s)", name, n, maxKeyRepeats, setBoundsAdvice)
		e.Extensions["field"] = name
		w.crowded = e
	} else if len(spreads) > maxSetSpreads {
		e := limitError(resolvers.CodeQueryTooComplex, setBoundsLimit, int64(len(spreads)), maxSetSpreads,
			"%d fragments are spread in one selection set (at most %d)", len(spreads), maxSetSpreads)
		w.crowded = e
	}
}

// selections measures a selection set with fragments expanded. Fragments are memoised, so a
// document whose fragments spread each other 2^n times costs O(n) to measure.
func (w *docWalker) selections(set ast.SelectionSet) docStats {
	var out docStats
	w.checkSet(set)
	for _, sel := range set {
		switch x := sel.(type) {
		case *ast.Field:
			sub := w.selections(x.SelectionSet)
			depth := sub.depth + 1
			if strings.HasPrefix(x.Name, "__") {
				depth = 0 // introspection has its own depth rule (MaxIntrospectionDepth)
			}
			out.depth = max(out.depth, depth)
			out.add(sub)
			out.selections = satAdd(out.selections, 1)
			out.fieldCounts = addCount(out.fieldCounts, x.Name, 1)
			if x.Alias != "" && x.Alias != x.Name {
				out.aliases = satAdd(out.aliases, 1)
				out.aliasCounts = addCount(out.aliasCounts, x.Name, 1)
			}
			out.directives = satAdd(out.directives, int64(len(x.Directives)))
		case *ast.InlineFragment:
			sub := w.selections(x.SelectionSet)
			out.depth = max(out.depth, sub.depth)
			out.add(sub)
			out.directives = satAdd(out.directives, int64(len(x.Directives)))
		case *ast.FragmentSpread:
			f := w.fragment(x.Name)
			out.depth = max(out.depth, f.depth)
			out.add(f)
			out.selections = satAdd(out.selections, 1)
			out.directives = satAdd(out.directives, int64(len(x.Directives)))
		}
		if w.cycle != "" {
			return out
		}
	}
	return out
}

func (w *docWalker) fragment(name string) docStats {
	switch w.state[name] {
	case 1:
		if w.cycle == "" {
			w.cycle = name
		}
		return docStats{}
	case 2:
		return w.memo[name]
	}
	f := w.frags[name]
	if f == nil {
		return docStats{} // unknown fragment: the validator reports it
	}
	w.state[name] = 1
	s := w.selections(f.SelectionSet)
	s.directives = satAdd(s.directives, int64(len(f.Directives)))
	w.state[name] = 2
	w.memo[name] = s
	return s
}

func (q *queryLimits) checkDocument(doc *ast.QueryDocument) *gqlerror.Error {
	w := &docWalker{frags: map[string]*ast.FragmentDefinition{}, memo: map[string]docStats{}, state: map[string]int{}}
	for _, f := range doc.Fragments {
		w.frags[f.Name] = f
	}
	// Every fragment, used or not, must be acyclic and within maxSelections: the validator
	// walks them all.
	for _, f := range doc.Fragments {
		s := w.fragment(f.Name)
		if w.cycle != "" {
			e := gqlerror.Errorf("fragment %q spreads itself (directly or through other fragments)", w.cycle)
			e.Extensions = map[string]any{"code": resolvers.CodeBadUserInput}
			return e
		}
		if e := q.checkSelections(s, " in fragment "+f.Name); e != nil {
			return e
		}
		if w.crowded != nil {
			return w.crowded
		}
	}
	for _, op := range doc.Operations {
		s := w.selections(op.SelectionSet)
		s.directives = satAdd(s.directives, int64(len(op.Directives)))
		switch {
		case s.depth > int64(q.l.MaxDepth):
			return limitError(resolvers.CodeQueryTooComplex, "maxDepth", s.depth, int64(q.l.MaxDepth),
				"query depth %d exceeds the limit (maxDepth) of %d", s.depth, q.l.MaxDepth)
		case s.aliases > int64(q.l.MaxAliases):
			name, n := most(s.aliasCounts)
			e := limitError(resolvers.CodeQueryTooComplex, "maxAliases", s.aliases, int64(q.l.MaxAliases),
				"query uses %d aliases (%d of field %s); the limit (maxAliases) is %d", s.aliases, n, name, q.l.MaxAliases)
			e.Extensions["field"] = name
			return e
		case s.directives > int64(q.l.MaxDirectives):
			return limitError(resolvers.CodeQueryTooComplex, "maxDirectives", s.directives, int64(q.l.MaxDirectives),
				"query uses %d directives; the limit (maxDirectives) is %d", s.directives, q.l.MaxDirectives)
		}
		if e := q.checkSelections(s, ""); e != nil {
			return e
		}
		if w.crowded != nil {
			return w.crowded
		}
	}
	return nil
}

// checkSelections refuses a selection count over maxSelections, naming the most selected field.
func (q *queryLimits) checkSelections(s docStats, where string) *gqlerror.Error {
	if s.selections <= int64(q.l.MaxSelections) {
		return nil
	}
	name, n := most(s.fieldCounts)
	e := limitError(resolvers.CodeQueryTooComplex, "maxSelections", s.selections, int64(q.l.MaxSelections),
		"query makes %d selections%s once fragments are expanded (field %s %d times); the limit (maxSelections) is %d",
		s.selections, where, name, n, q.l.MaxSelections)
	e.Extensions["field"] = name
	return e
}

func (q *queryLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if e := checkEnumVariables(q.schema, oc.Operation.VariableDefinitions, oc.Variables); e != nil {
		return e
	}
	return checkFirst(oc.Operation.SelectionSet, oc.Variables, int64(q.l.MaxFirst), map[string]bool{})
}

// checkEnumVariables refuses (BAD_USER_INPUT) a variable holding an enum value that is not
// written exactly as the schema writes it. gqlparser's variable validation compares enum names
// ignoring case ("exchange" passes for EXCHANGE), so such a value would otherwise reach the
// enum's UnmarshalGQL during execution, where gqlgen's generated enums refuse it with a plain
// error that is presented as INTERNAL. Enum literals in the document are already checked exactly
// by validation; this covers every enum behind a variable, at any depth of lists and input
// objects, in one place.
func checkEnumVariables(s *ast.Schema, defs ast.VariableDefinitionList, vars map[string]any) *gqlerror.Error {
	for _, d := range defs {
		v, ok := vars[d.Variable]
		if !ok {
			continue
		}
		if value, enum := inexactEnum(s, d.Type, v); enum != "" {
			e := gqlerror.Errorf("variable $%s: %s is not a value of enum %s (enum values are written exactly as in the schema)",
				d.Variable, excerpt([]byte(value), 0), enum)
			e.Extensions = map[string]any{"code": resolvers.CodeBadUserInput}
			return e
		}
	}
	return nil
}

// inexactEnum finds, in the coerced value v of type t, an enum value the schema does not have
// exactly; it returns the value and its enum's name ("" when there is none).
func inexactEnum(s *ast.Schema, t *ast.Type, v any) (value, enum string) {
	if v == nil || t == nil {
		return "", ""
	}
	if t.Elem != nil {
		// A list as decoded ([]any), or one value given for a list, which gqlparser's
		// coercion wraps in a typed slice ([]string).
		list := reflect.ValueOf(v)
		if list.Kind() != reflect.Slice {
			return inexactEnum(s, t.Elem, v)
		}
		for i := range list.Len() {
			if value, enum := inexactEnum(s, t.Elem, list.Index(i).Interface()); enum != "" {
				return value, enum
			}
		}
		return "", ""
	}
	def := s.Types[t.NamedType]
	if def == nil {
		return "", ""
	}
	switch def.Kind {
	case ast.Enum:
		if str, ok := v.(string); ok && def.EnumValues.ForName(str) == nil {
			return str, def.Name
		}
	case ast.InputObject:
		m, _ := v.(map[string]any)
		for _, f := range def.Fields {
			if x, ok := m[f.Name]; ok {
				if value, enum := inexactEnum(s, f.Type, x); enum != "" {
					return value, enum
				}
			}
		}
	}
	return "", ""
}

// checkFirst rejects any `first` argument outside 0..maxFirst, before execution starts (a
// nested connection would otherwise be rejected only after its parents were loaded).
func checkFirst(set ast.SelectionSet, vars map[string]any, maxFirst int64, seen map[string]bool) *gqlerror.Error {
	for _, sel := range set {
		switch x := sel.(type) {
		case *ast.Field:
			if a := x.Arguments.ForName("first"); a != nil {
				v, err := a.Value.Value(vars)
				if err == nil {
					if n, ok := toInt64(v); ok && (n < 0 || n > maxFirst) {
						return limitError(resolvers.CodeBadUserInput, "maxFirst", n, maxFirst,
							"%s(first: %d): first must be between 0 and %d (maxFirst)", x.Name, n, maxFirst)
					}
				}
			}
			if e := checkFirst(x.SelectionSet, vars, maxFirst, seen); e != nil {
				return e
			}
		case *ast.InlineFragment:
			if e := checkFirst(x.SelectionSet, vars, maxFirst, seen); e != nil {
				return e
			}
		case *ast.FragmentSpread:
			if seen[x.Name] || x.Definition == nil {
				continue
			}
			seen[x.Name] = true
			if e := checkFirst(x.Definition.SelectionSet, vars, maxFirst, seen); e != nil {
				return e
			}
		}
	}
	return nil
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}
