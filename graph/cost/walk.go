package cost

import (
	"math"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// maxSteps bounds the work of one estimate (selections visited, fragments memoised). A
// document that needs more is reported as too large to estimate (an infinite estimate).
const maxSteps = 200_000

// Estimate estimates op (validated: fragment spreads carry their definitions) with its
// coerced variables, for a caller who sees vis.
func (e *Estimator) Estimate(op *ast.OperationDefinition, vars map[string]any, vis Visible) Estimate {
	w := &walker{e: e, vars: vars, vis: vis, memo: map[memoKey]*result{}, busy: map[memoKey]bool{}}
	root := e.schema.Query
	switch op.Operation {
	case ast.Mutation:
		root = e.schema.Mutation
	case ast.Subscription:
		root = e.schema.Subscription
	}
	r := newResult()
	if root != nil {
		r = w.selectionSet(root, op.SelectionSet, 1, nil, true)
	}
	if r.orgLists && vis.Servers > 0 {
		n := float64(vis.Servers)
		r.v[UpstreamCalls] += n
		r.addShare(OrgLists, UpstreamCalls, n, nil)
	}
	if w.over {
		r.v = [dimensions]float64{math.Inf(1), math.Inf(1)}
	}
	out := Estimate{UpstreamCalls: saturate(r.v[UpstreamCalls]), ResponseObjects: saturate(r.v[ResponseObjects]),
		SizedByOrganizations: w.orgSized}
	for d := range dimensions {
		out.Top[d] = r.top(d)
		if w.over {
			out.Top[d] = Contributor{Field: "the whole query (too large to estimate)", Amount: saturate(math.Inf(1))}
		}
	}
	return out
}

// link is one field on a response path.
type link struct {
	key   string // response key (alias or name)
	coord string // schema coordinate
	knob  *Knob  // set when this field multiplies what is below it
}

// occurrence is one place a contributor contributes: amount and the path to it.
type occurrence struct {
	amount float64
	path   []link
}

// share is what one contributor (a field coordinate) adds, in total and at its heaviest place.
type share struct {
	amount [dimensions]float64
	worst  [dimensions]occurrence
}

// result is the cost of a selection set, with paths relative to it.
type result struct {
	v        [dimensions]float64
	orgLists bool
	// shares by owner: the nearest field on the path that multiplies (a list or a connection's
	// edges) or a root field; "" while no such field has been passed yet.
	shares map[string]*share
}

func newResult() *result { return &result{shares: map[string]*share{}} }

func (r *result) addShare(owner string, d Dimension, amount float64, path []link) {
	if amount <= 0 {
		return
	}
	s := r.shares[owner]
	if s == nil {
		s = &share{}
		r.shares[owner] = s
	}
	s.amount[d] += amount
	if amount > s.worst[d].amount {
		s.worst[d] = occurrence{amount: amount, path: path}
	}
}

// add adds o to r (o is not modified; paths are shared read-only).
func (r *result) add(o *result) {
	for d := range dimensions {
		r.v[d] += o.v[d]
	}
	r.orgLists = r.orgLists || o.orgLists
	for owner, s := range o.shares {
		for d := range dimensions {
			if s.amount[d] > 0 {
				r.addShare(owner, d, s.amount[d], s.worst[d].path)
			}
		}
	}
}

// atLeast raises r to o in every dimension (the cost of an abstract type is that of its most
// expensive possible type).
func (r *result) atLeast(o *result) {
	for d := range dimensions {
		r.v[d] = max(r.v[d], o.v[d])
	}
	r.orgLists = r.orgLists || o.orgLists
	for owner, s := range o.shares {
		for d := range dimensions {
			mine := r.shares[owner]
			if mine == nil || mine.amount[d] < s.amount[d] {
				r.addShare(owner, d, s.amount[d]-shareAmount(mine, d), s.worst[d].path)
			}
		}
	}
}

func shareAmount(s *share, d Dimension) float64 {
	if s == nil {
		return 0
	}
	return s.amount[d]
}

// fold puts the field l in front of every path of r; the shares nobody owns yet become
// claim's (when claim is not "").
func (r *result) fold(l link, claim string) *result {
	out := &result{v: r.v, orgLists: r.orgLists, shares: make(map[string]*share, len(r.shares))}
	for owner, s := range r.shares {
		to := owner
		if owner == "" {
			to = claim
		}
		for d := range dimensions {
			if s.amount[d] <= 0 {
				continue
			}
			var path []link
			if owner != "" || claim != "" {
				path = make([]link, 0, len(s.worst[d].path)+1)
				path = append(path, l)
				path = append(path, s.worst[d].path...)
			}
			out.addShare(to, d, s.amount[d], path)
		}
	}
	return out
}

// top is the contributor that adds most in dimension d.
func (r *result) top(d Dimension) Contributor {
	var best string
	var bestAmount float64
	for owner, s := range r.shares {
		if owner != "" && (s.amount[d] > bestAmount || s.amount[d] == bestAmount && owner < best) {
			best, bestAmount = owner, s.amount[d]
		}
	}
	if best == "" {
		return Contributor{}
	}
	s := r.shares[best]
	c := Contributor{Field: best, Amount: saturate(bestAmount)}
	keys := make([]string, 0, len(s.worst[d].path))
	for _, l := range s.worst[d].path {
		keys = append(keys, l.key)
	}
	c.Path = strings.Join(keys, ".")
	for i := len(s.worst[d].path) - 1; i >= 0; i-- {
		k := s.worst[d].path[i].knob
		// A field's own page size does not change the calls it makes (one call per session,
		// one walk per server), only what it returns.
		// A calls path ends at the field making the calls, before its own page size (which
		// does not change them); a field nested in itself is named once.
		if k == nil || slices.ContainsFunc(c.Knobs, func(o Knob) bool { return o.Field == k.Field }) {
			continue
		}
		c.Knobs = append(c.Knobs, *k)
	}
	return c
}

// walker is the state of one estimate.
type walker struct {
	e     *Estimator
	vars  map[string]any
	vis   Visible
	memo  map[memoKey]*result
	busy  map[memoKey]bool
	steps int
	over  bool
	// orgSized: a list was sized by vis.Organizations
	orgSized bool
	// archived: the sessions below come from a listing the archive answers (their events too).
	archived bool
}

// memoKey is a fragment's cost in one context: the type it applies to, how many times it
// occurs (the multiplier), the sized fields its parent connection passes down, and whether it
// sits at the root.
type memoKey struct {
	frag, typ string
	mult      float64
	sized     sizing
	root      bool
	archived  bool
}

// sizing is the size a connection gives its sized fields (`edges`), and the knob behind it.
type sizing struct {
	fields string // comma-joined sized field names
	size   float64
	knob   Knob
	byOrgs bool // the size is (at most) the caller's organisation count
}

func (w *walker) step() bool {
	w.steps++
	if w.steps > maxSteps {
		w.over = true
	}
	return !w.over
}

// selectionSet costs set on typ (abstract types: the most expensive possible type).
func (w *walker) selectionSet(typ *ast.Definition, set ast.SelectionSet, mult float64, sized *sizing, root bool) *result {
	if typ.Kind == ast.Object {
		return w.concrete(typ, set, mult, sized, root)
	}
	out := newResult()
	for _, t := range w.e.schema.GetPossibleTypes(typ) {
		out.atLeast(w.concrete(t, set, mult, sized, root))
		if w.over {
			break
		}
	}
	return out
}

// concrete costs set on an object type.
func (w *walker) concrete(typ *ast.Definition, set ast.SelectionSet, mult float64, sized *sizing, root bool) *result {
	r := newResult()
	for _, sel := range set {
		if !w.step() {
			return r
		}
		switch x := sel.(type) {
		case *ast.Field:
			if w.included(x.Directives) {
				r.add(w.field(typ, x, mult, sized, root))
			}
		case *ast.InlineFragment:
			if w.included(x.Directives) && w.satisfies(typ, x.TypeCondition) {
				r.add(w.concrete(typ, x.SelectionSet, mult, sized, root))
			}
		case *ast.FragmentSpread:
			def := x.Definition
			if def == nil || !w.included(x.Directives) || !w.satisfies(typ, def.TypeCondition) {
				continue
			}
			key := memoKey{frag: def.Name, typ: typ.Name, mult: mult, root: root, archived: w.archived}
			if sized != nil {
				key.sized = *sized
			}
			if m, ok := w.memo[key]; ok {
				r.add(m)
				continue
			}
			if w.busy[key] {
				continue // a cycle: validation refuses it; never loop here
			}
			w.busy[key] = true
			m := w.concrete(typ, def.SelectionSet, mult, sized, root)
			delete(w.busy, key)
			w.memo[key] = m
			r.add(m)
		}
	}
	return r
}

// satisfies reports whether a fragment with type condition cond applies to the object type typ.
func (w *walker) satisfies(typ *ast.Definition, cond string) bool {
	if cond == "" || cond == typ.Name {
		return true
	}
	c := w.e.schema.Types[cond]
	if c == nil || c.Kind == ast.Object {
		return false
	}
	for _, t := range w.e.schema.GetPossibleTypes(c) {
		if t.Name == typ.Name {
			return true
		}
	}
	return false
}

// included evaluates @skip and @include (unknown values include).
func (w *walker) included(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		a := d.Arguments.ForName("if")
		if a == nil {
			continue
		}
		v, err := a.Value.Value(w.vars)
		b, ok := v.(bool)
		if err != nil || !ok {
			continue
		}
		if d.Name == "skip" && b || d.Name == "include" && !b {
			return false
		}
	}
	return true
}

// field costs one field occurring mult times.
func (w *walker) field(parent *ast.Definition, f *ast.Field, mult float64, sized *sizing, root bool) *result {
	r := newResult()
	switch f.Name {
	case "__typename":
		return r
	case "__schema", "__type":
		// Introspection reads no VBO server; its size is bounded by the schema and by the
		// depth and alias limits. It counts as one object per occurrence.
		r.v[ResponseObjects] = mult
		r.addShare("", ResponseObjects, mult, nil)
		return r.fold(link{key: responseKey(f), coord: "Query." + f.Name}, "Query."+f.Name)
	}
	def := parent.Fields.ForName(f.Name)
	if def == nil {
		return r // validation refuses unknown fields
	}
	coord := parent.Name + "." + f.Name
	info := w.e.fields[coord]
	if info == nil {
		info = &fieldInfo{weight: -1}
	}
	target := w.e.schema.Types[def.Type.Name()]
	if target == nil {
		return r
	}
	l := link{key: responseKey(f), coord: coord}
	own := 1.0
	var childSized *sizing
	switch {
	case sized != nil && containsName(sized.fields, f.Name):
		own = sized.size
		k := sized.knob
		l.knob = &k
		w.orgSized = w.orgSized || sized.byOrgs
	case info.listSize != nil:
		n, arg, byOrgs := w.listSize(coord, f, def, info.listSize)
		k := Knob{Field: coord, Argument: arg, Size: saturate(n)}
		if len(info.listSize.sized) > 0 {
			childSized = &sizing{fields: strings.Join(info.listSize.sized, ","), size: n, knob: k, byOrgs: byOrgs}
		} else {
			own = n
			l.knob = &k
			w.orgSized = w.orgSized || byOrgs
		}
	}
	inst := mult * own
	composite := target.Kind == ast.Object || target.Kind == ast.Interface || target.Kind == ast.Union
	if composite {
		weight := info.weight
		if weight < 0 {
			weight = w.e.typeWeight(target)
		}
		obj := weight * inst
		r.v[ResponseObjects] += obj
		r.addShare("", ResponseObjects, obj, nil)
	}
	calls, orgLists := w.calls(coord, f, def, mult, target)
	r.v[UpstreamCalls] += calls
	r.orgLists = orgLists
	r.addShare(coord, UpstreamCalls, calls, nil)
	if composite && len(f.SelectionSet) > 0 && inst > 0 {
		if coord == "Query.node" {
			if t := w.nodeType(f, def); t != nil {
				target = t
			}
		}
		saved := w.archived
		w.archived = w.sessionsArchived(coord, f, def, target)
		r.add(w.selectionSet(target, f.SelectionSet, inst, childSized, false))
		w.archived = saved
	}
	claim := ""
	switch {
	case l.knob != nil:
		claim = l.knob.Field
	case root:
		claim = coord
	}
	// The field's own calls are owned by itself: give their path this link.
	out := r.fold(l, claim)
	return out
}

// sessionsArchived is whether the sessions below field coord come from the archive: a listing
// the archive answers says yes, and its edges and nodes keep it; any other way to a session
// (restoreSession, node, an event's session, the subscriptions) says no (VBO may answer it).
func (w *walker) sessionsArchived(coord string, f *ast.Field, def *ast.FieldDefinition, target *ast.Definition) bool {
	switch {
	case coord == "Query.restoreSessions" || coord == "Organization.restoreSessions":
		return w.archiveServes(f, def)
	case coord == "RestoreSessionEdge.node":
		return w.archived
	case target.Name == "RestoreSession" || target.Kind != ast.Object:
		return false
	}
	return w.archived
}

func responseKey(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

func containsName(commaList, name string) bool {
	for s := range strings.SplitSeq(commaList, ",") {
		if s == name {
			return true
		}
	}
	return false
}

// listSize is the size of a @listSize field: its slicing argument (or the argument's default),
// else the assumed size; for the lists the gateway sizes by what the caller sees, at most that.
// arg is the slicing argument that set it ("" when none did).
func (w *walker) listSize(coord string, f *ast.Field, def *ast.FieldDefinition, ls *listSize) (n float64, arg string, byOrgs bool) {
	n = -1
	for _, s := range ls.slicing {
		if v, ok := toFloat(w.arg(f, def, s)); ok {
			n, arg = max(v, 0), s
			break
		}
	}
	if n < 0 {
		n = max(ls.assumed, 0)
	}
	if see, ok, orgs := visibleSize(coord, w.vis); ok {
		byOrgs = orgs
		if arg == "" {
			n = see // the gateway knows the size; the assumption is for clients
		} else {
			n = min(n, see)
		}
	}
	return n, arg, byOrgs
}

// arg is an argument's value (variables resolved), else its default; nil when neither.
func (w *walker) arg(f *ast.Field, def *ast.FieldDefinition, name string) any {
	if a := f.Arguments.ForName(name); a != nil && a.Value != nil {
		if v, err := a.Value.Value(w.vars); err == nil && v != nil {
			return v
		}
	}
	if d := def.Arguments.ForName(name); d != nil && d.DefaultValue != nil {
		if v, err := d.DefaultValue.Value(nil); err == nil {
			return v
		}
	}
	return nil
}

// selects reports whether set selects a field named name on typ (fragments followed once).
func (w *walker) selects(typ *ast.Definition, set ast.SelectionSet, name string, seen map[string]bool) bool {
	for _, sel := range set {
		switch x := sel.(type) {
		case *ast.Field:
			if x.Name == name && w.included(x.Directives) {
				return true
			}
		case *ast.InlineFragment:
			if w.included(x.Directives) && w.satisfies(typ, x.TypeCondition) && w.selects(typ, x.SelectionSet, name, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if x.Definition == nil || seen[x.Name] || !w.included(x.Directives) || !w.satisfies(typ, x.Definition.TypeCondition) {
				continue
			}
			seen[x.Name] = true
			if w.selects(typ, x.Definition.SelectionSet, name, seen) {
				return true
			}
		}
	}
	return false
}
