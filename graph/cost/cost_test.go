package cost_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/vbo-gateway/vbo-gateway/graph/cost"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

var (
	schema = loadSchema()
	paging = cost.Paging{ListingPageSize: 10_000, ScanBudget: 20_000, EventsPageSize: 10_000, EventsCounted: 10_000}
	admin  = cost.Visible{Servers: 3, Organizations: 36}
	tenant = cost.Visible{Servers: 2, Organizations: 3, Tenant: true}
)

// loadSchema reads the gateway's schema files (graph/*.graphqls), as gqlgen does.
func loadSchema() *ast.Schema {
	files, err := filepath.Glob("../*.graphqls")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("schema files: %v", err))
	}
	var sources []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	return gqlparser.MustLoadSchema(sources...)
}

func estimator(t testing.TB) *cost.Estimator {
	t.Helper()
	e, err := cost.New(schema, paging)
	if err != nil {
		t.Fatalf("cost.New: %v", err)
	}
	return e
}

// operation parses and validates q (as gqlgen does before the estimate) and coerces vars.
func operation(t testing.TB, q string, vars map[string]any) (*ast.OperationDefinition, map[string]any) {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(schema, q)
	if len(errs) > 0 {
		t.Fatalf("invalid query: %v", errs)
	}
	op := doc.Operations[0]
	coerced, err := validator.VariableValues(schema, op, vars)
	if err != nil {
		t.Fatalf("variables: %v", err)
	}
	return op, coerced
}

func fanout(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ viewer { ...L%d } } fragment L0 on Viewer { tenant }", n-1)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, " fragment L%d on Viewer { ...L%d ...L%d }", i, i-1, i-1)
	}
	return b.String()
}

const (
	defaultPages = `{ restoreSessions { edges { node { events { edges { node { type } } } } } } }`
	dashboard    = `query($orgs: Int, $sessions: Int, $events: Int) {
	  organizations(first: $orgs) { edges { node { name
	    restoreSessions(first: $sessions) { edges { node { startTime
	      events(first: $events) { edges { node { type itemName } } } } } } } } } }`
)

func TestEstimate(t *testing.T) {
	e := estimator(t)
	sessionID := gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: "0b4e8f5a-1"}.String()
	eventID := gid.ID{Kind: gid.KindRestoreEvent, Server: "syd1", Parent: "0b4e8f5a-1", Upstream: "77"}.String()
	orgID := gid.ID{Kind: gid.KindOrganization, Server: "mel1", Upstream: "9"}.String()
	cases := []struct {
		name           string
		query          string
		vars           map[string]any
		vis            cost.Visible
		calls, objects int64
	}{
		// 1 connection + 50 × (edge, node, events connection) + 50 × 50 × (edge, node); one
		// page per server; one events call per session.
		{"default page sizes, admin", defaultPages, nil, admin, 3 + 50, 5151},
		// Tenants filter in the gateway: each stream may read up to the scan budget (2 pages),
		// and the organisation lists are read for scope.
		{"default page sizes, tenant", defaultPages, nil, tenant, 2 + 2*2 + 50, 5151},
		// 36 × 10 × 20: organisation lists (3), one walk per server (3 × 2 pages), 360 events calls.
		{"36x10x20, admin", dashboard, map[string]any{"orgs": 36, "sessions": 10, "events": 20}, admin,
			3 + 3*2 + 360, 1 + 3*36 + 3*360 + 2*7200},
		// A tenant sees 3 organisations: the page holds 3, not 36.
		{"36x10x20, tenant", dashboard, map[string]any{"orgs": 36, "sessions": 10, "events": 20}, tenant,
			2 + 2*2 + 30, 1 + 3*3 + 3*30 + 2*600},
		{"viewer organisations sized by what the caller sees", `{ viewer { organizations { name } } }`, nil, tenant, 2, 1 + 3},
		{"servers sized by what the caller sees", `{ servers { name status } }`, nil, admin, 0, 3},
		{"totalCount counts one page of events", `{ restoreSessions(first: 5) { edges { node { events(first: 1) { totalCount } } } } }`, nil, admin,
			3 + 5, 1 + 5*3},
		{"events page beyond the counted ones", `query($a: String) { restoreSession(id: "` + sessionID + `") { events(first: 10, after: $a) { totalCount edges { node { type } } } } }`,
			map[string]any{"a": gid.EncodeOffset(9_995)}, admin, 1 + 2, 1 + 1 + 20},
		{"node: an event costs its session and itself", `{ node(id: "` + eventID + `") { ... on RestoreEvent { type session { name } } } }`, nil, admin,
			2 + 1, 2},
		{"node: an event, tenant scope check", `{ node(id: "` + eventID + `") { id } }`, nil, tenant, 2 + 2, 1},
		{"node: an organisation reads the organisation lists", `{ node(id: "` + orgID + `") { ... on Organization { name } } }`, nil, admin, 3, 1},
		{"node: a malformed id costs nothing upstream", `{ node(id: "nope") { id } }`, nil, admin, 0, 1},
		{"server filter narrows the streams", `{ restoreSessions(first: 10, filter: {servers: ["syd1"]}) { edges { node { name } } } }`, nil, admin,
			1, 1 + 20},
		{"organisation filter: organisation lists and a gateway-filtered stream on one server",
			`query($ids: [ID!]) { restoreSessions(first: 10, filter: {organizationIds: $ids}) { edges { node { name } } } }`,
			map[string]any{"ids": []any{orgID}}, admin, 3 + 1*2, 1 + 20},
		{"a cursor may need one more page", `{ restoreSessions(first: 10, after: "x") { edges { node { name } } } }`, nil, admin, 3 * 2, 1 + 20},
		{"@skip drops a field", `query($no: Boolean!) { restoreSessions { edges { node { events @skip(if: $no) { edges { node { type } } } } } } }`,
			map[string]any{"no": true}, admin, 3, 1 + 50 + 50},
		{"introspection reads no server", `{ __schema { types { name fields { name } } } }`, nil, admin, 0, 1},
		{"aliases count twice", `{ a: servers { name } b: servers { name } }`, nil, admin, 0, 6},
		// The restore front door: one Explore after the organisation lists; a Stop and the session read back.
		{"startRestoreSession", `mutation($o: ID!) { startRestoreSession(input: {organizationId: $o, type: EXCHANGE, reason: "r"}) { id } }`,
			map[string]any{"o": orgID}, tenant, 2 + 1, 1},
		{"stopRestoreSession, admin", `mutation { stopRestoreSession(id: "` + sessionID + `") { id } }`, nil, admin, 2, 1},
		{"stopRestoreSession, tenant", `mutation { stopRestoreSession(id: "` + sessionID + `") { id attribution { person actions { edges { node { kind } } } } } }`,
			nil, tenant, 2 + 2, 1 + 1 + 1 + 2*50},
		// One call per page: a session's mailboxes (1), each mailbox's folders (10), each folder's items (10 × 5).
		{"browse pages multiply like nested lists", `query($s: ID!) { restoreSession(id: $s) { browse {
			mailboxes(first: 10) { edges { node { id
				children(kind: MAIL_FOLDER, first: 5) { edges { node { name
					children(kind: MAIL_ITEM, first: 2) { edges { node { name } } } } } } } } } } } }`,
			map[string]any{"s": sessionID}, admin, 1 + 1 + 10 + 50, 1 + 1 + 1 + 2*10 + 10*(1+2*5) + 50*(1+2*2)},
		// The item actions: one VBO action each after the organisation lists, plus one read
		// per item id (items VBO takes as objects are read back first); approval one;
		// pending approvals none.
		{"restoreItemsTo", `mutation { restoreItemsTo(input: {sessionId: "` + sessionID + `", itemIds: ["i"], idempotencyKey: "k", target: "a@b.c"}) { state } }`,
			nil, tenant, 2 + 1 + 1, 1},
		{"downloadRestoreItems, admin", `mutation { downloadRestoreItems(input: {sessionId: "` + sessionID + `", itemIds: ["i"], idempotencyKey: "k"}) { url } }`,
			nil, admin, 3 + 1 + 1, 1},
		{"sendRestoreItems, ids in a variable", `mutation($in: SendRestoreItemsInput!) { sendRestoreItems(input: $in) { state } }`,
			map[string]any{"in": map[string]any{"sessionId": sessionID, "itemIds": []any{"a", "b", "c"}, "idempotencyKey": "k", "to": []any{"a@b.c"}}},
			tenant, 2 + 1 + 3, 1},
		{"approveRestoreAction", `mutation { approveRestoreAction(id: "a") { state } }`, nil, tenant, 1, 1},
		{"pendingRestoreApprovals reads no server", `{ pendingRestoreApprovals { edges { node { kind } } } }`, nil, tenant, 0, 1 + 2*50},
		{"verifyRestoreActionLog reads no server", `{ verifyRestoreActionLog { ok records } }`, nil, admin, 0, 1},
		{"event -> session -> events", `{ restoreSessions { edges { node { events { edges { node { session { events { edges { node { type } } } } } } } } } } }`, nil, admin,
			3 + 50 + 2500 + 2500, 1 + 3*50 + 2500*2 + 2500*2 + 2500*50*2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op, vars := operation(t, tc.query, tc.vars)
			got := e.Estimate(op, vars, tc.vis)
			if got.UpstreamCalls != tc.calls || got.ResponseObjects != tc.objects {
				t.Errorf("estimate = %d calls, %d objects; want %d, %d", got.UpstreamCalls, got.ResponseObjects, tc.calls, tc.objects)
			}
		})
	}
}

func TestFragmentsCountAsTheirExpansion(t *testing.T) {
	e := estimator(t)
	inline := `{ organizations(first: 4) { edges { node { restoreSessions(first: 3) { edges { node { events(first: 2) { edges { node { type } } } } } } } } } }`
	withFrags := `{ organizations(first: 4) { edges { node { ...O } } } }
	  fragment O on Organization { restoreSessions(first: 3) { edges { node { ...S } } } }
	  fragment S on RestoreSession { events(first: 2) { ...E } }
	  fragment E on RestoreEventConnection { edges { node { type } } }`
	a := e.Estimate(must(operation(t, inline, nil)), nil, admin)
	b := e.Estimate(must(operation(t, withFrags, nil)), nil, admin)
	if a.UpstreamCalls != b.UpstreamCalls || a.ResponseObjects != b.ResponseObjects {
		t.Fatalf("inline %+v, fragments %+v: want equal", a, b)
	}
	// A fragment spread twice counts twice (fields are not merged: a bound).
	twice := e.Estimate(must(operation(t, `{ organizations(first: 4) { edges { node { ...O ...O } } } } fragment O on Organization { restoreSessions(first: 3) { edges { node { name } } } }`, nil)), nil, admin)
	once := e.Estimate(must(operation(t, `{ organizations(first: 4) { edges { node { ...O } } } } fragment O on Organization { restoreSessions(first: 3) { edges { node { name } } } }`, nil)), nil, admin)
	if twice.ResponseObjects <= once.ResponseObjects {
		t.Fatalf("twice %d objects, once %d", twice.ResponseObjects, once.ResponseObjects)
	}
}

func must(op *ast.OperationDefinition, _ map[string]any) *ast.OperationDefinition { return op }

// The 2^n fragment fan-out estimates in O(n): memoised per fragment.
func TestFragmentFanOutIsLinear(t *testing.T) {
	e := estimator(t)
	for _, n := range []int{20, 30, 40} {
		op, vars := operation(t, fanout(n+1), nil)
		var durations []time.Duration
		var got cost.Estimate
		for range 5 {
			start := time.Now()
			got = e.Estimate(op, vars, admin)
			durations = append(durations, time.Since(start))
		}
		if got.ResponseObjects != 1 || got.UpstreamCalls != 0 {
			t.Errorf("2^%d: %+v, want 1 object (viewer), 0 calls", n, got)
		}
		if m := median(durations); m > 50*time.Millisecond {
			t.Errorf("2^%d: median %v to estimate, want well under 100 ms", n, m)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

func TestTopContributorAndAdvice(t *testing.T) {
	e := estimator(t)
	op, vars := operation(t, dashboard, map[string]any{"orgs": 36, "sessions": 50, "events": 50})
	got := e.Estimate(op, vars, admin)
	calls := got.Top[cost.UpstreamCalls]
	if calls.Field != "RestoreSession.events" || calls.Amount != 36*50 ||
		calls.Path != "organizations.edges.node.restoreSessions.edges.node.events" {
		t.Errorf("top calls = %+v", calls)
	}
	if want := "lower `first` on Organization.restoreSessions (50) or Query.organizations (36)"; calls.Advice() != want {
		t.Errorf("advice = %q, want %q", calls.Advice(), want)
	}
	objects := got.Top[cost.ResponseObjects]
	if objects.Field != "RestoreSession.events" || objects.Amount != 36*50*(2*50) {
		t.Errorf("top objects = %+v", objects)
	}
	if want := "lower `first` on RestoreSession.events (50), Organization.restoreSessions (50) or Query.organizations (36)"; objects.Advice() != want {
		t.Errorf("advice = %q, want %q", objects.Advice(), want)
	}

	op, vars = operation(t, `{ viewer { organizations { restoreSessions(first: 500) { edges { node { name } } } } } }`, nil)
	got = e.Estimate(op, vars, admin)
	objects = got.Top[cost.ResponseObjects]
	if objects.Field != "Organization.restoreSessions" {
		t.Fatalf("top objects = %+v", objects)
	}
	if want := "lower `first` on Organization.restoreSessions (500), or select fewer items than the whole list Viewer.organizations (36)"; objects.Advice() != want {
		t.Errorf("advice = %q, want %q", objects.Advice(), want)
	}
}

// A field reached through a fragment is named with its full path.
func TestTopContributorThroughFragments(t *testing.T) {
	e := estimator(t)
	op, vars := operation(t, `{ a: organizations(first: 20) { edges { node { ...O } } } }
	  fragment O on Organization { restoreSessions(first: 30) { edges { node { ...S } } } }
	  fragment S on RestoreSession { events(first: 40) { edges { node { type } } } }`, nil)
	got := e.Estimate(op, vars, admin).Top[cost.UpstreamCalls]
	if got.Field != "RestoreSession.events" || got.Path != "a.edges.node.restoreSessions.edges.node.events" || got.Amount != 20*30 {
		t.Fatalf("top = %+v", got)
	}
}

func TestNewRefusesUnsizedLists(t *testing.T) {
	for name, sdl := range map[string]string{
		"list without @listSize":   `type Query { things: [Thing!]! } type Thing { a: Int }`,
		"unknown slicing argument": `type Query { things(n: Int): [Thing!]! @listSize(slicingArguments: ["first"]) } type Thing { a: Int }`,
		"sized field that is no list": `type Query { things(first: Int): Conn! @listSize(slicingArguments: ["first"], sizedFields: ["page"]) }
		  type Conn { page: Thing } type Thing { a: Int }`,
		"weight that is no number": `type Query { thing: Thing @cost(weight: "heavy") } type Thing { a: Int }`,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := gqlparser.LoadSchema(&ast.Source{Input: directives + sdl})
			if err != nil {
				t.Fatalf("schema: %v", err)
			}
			if _, err := cost.New(s, paging); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := cost.New(schema, cost.Paging{}); err == nil {
		t.Fatal("New accepted zero paging")
	}
}

const directives = `directive @cost(weight: String!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
`

func TestCostWeights(t *testing.T) {
	s, err := gqlparser.LoadSchema(&ast.Source{Input: directives + `
	  type Query { heavy: Thing @cost(weight: "5") light: Light items(first: Int = 10): [Thing!]! @listSize(slicingArguments: ["first"]) }
	  type Thing { a: Int }
	  type Light @cost(weight: "0") { a: Int }`})
	if err != nil {
		t.Fatal(err)
	}
	e, err := cost.New(s, paging)
	if err != nil {
		t.Fatal(err)
	}
	doc, errs := gqlparser.LoadQuery(s, `{ heavy { a } light { a } items { a } few: items(first: 2) { a } }`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := e.Estimate(doc.Operations[0], nil, cost.Visible{}); got.ResponseObjects != 5+0+10+2 {
		t.Fatalf("objects = %d, want 17", got.ResponseObjects)
	}
}

func TestEventsCalls(t *testing.T) {
	p := cost.Paging{ListingPageSize: 10_000, ScanBudget: 20_000, EventsPageSize: 10_000, EventsCounted: 25_000}
	for _, tc := range []struct {
		first, after     int
		selective, total bool
		want             int
	}{
		{50, 0, false, false, 1},
		{50, 0, true, false, 1},
		{50, 0, false, true, 3},
		{50, 24_000, false, true, 3},
		{50, 24_990, false, true, 4},
		{50, 24_000, true, true, 4},
	} {
		if got := cost.EventsCalls(tc.first, tc.after, tc.selective, tc.total, p); got != tc.want {
			t.Errorf("EventsCalls(%+v) = %d, want %d", tc, got, tc.want)
		}
	}
}

// The worst query the defaults accept (docs: README "Query cost"): an admin's dashboard of
// 24 organisations × 10 sessions × 50 events, through fragments.
func BenchmarkEstimate(b *testing.B) {
	e := estimator(b)
	op, vars := operation(b, `query($orgs: Int, $sessions: Int, $events: Int) {
	  organizations(first: $orgs) { totalCount edges { node { ...Org } } pageInfo { endCursor hasNextPage } } }
	fragment Org on Organization { name server { name status } restoreSessions(first: $sessions) { totalCount edges { node { ...Session } } } }
	fragment Session on RestoreSession { startTime type result initiatedBy clientHost { machineName viaAddress }
	  organization { name } events(first: $events) { edges { node { type status itemName source target } } } }`,
		map[string]any{"orgs": 24, "sessions": 10, "events": 50})
	b.ReportAllocs()
	for b.Loop() {
		e.Estimate(op, vars, admin)
	}
}

// The largest document the defaults accept is GraphiQL's introspection query (236 selections,
// within maxSelections 500): what the estimator walks per request at most, in practice.
func BenchmarkEstimateIntrospection(b *testing.B) {
	e := estimator(b)
	op, vars := operation(b, introspection.Query, nil)
	b.ReportAllocs()
	for b.Loop() {
		e.Estimate(op, vars, admin)
	}
}

// TestWalkCallsWithFirstPage: a walk whose first call asks for fewer sessions than its later
// ones is estimated at 1 + ceil((budget - first) / pageSize) calls, the most it can make.
func TestWalkCallsWithFirstPage(t *testing.T) {
	q := `{ organizations(first: 1) { edges { node { restoreSessions(first: 10) { edges { node { id } } } } } } }`
	vis := cost.Visible{Servers: 1, Organizations: 1}
	for _, tc := range []struct {
		first, budget int
		want          int64
	}{
		{0, 20_000, 2},      // pages of 10,000: 2
		{10_000, 20_000, 2}, // a first page as large as the others
		{1_000, 20_000, 3},  // 1,000 + 10,000 + 10,000 (the budget is checked between pages)
		{1_000, 1_000, 1},
		{1_000, 1_001, 2},
		{1_000, 0, 1 + (cost.UnboundedScan-1_000+9_999)/10_000}, // no budget: UnboundedScan
		{0, -1, cost.UnboundedScan / 10_000},
	} {
		tc.want++ // and the organisation list
		p := paging
		p.FirstListingPageSize, p.ScanBudget = tc.first, tc.budget
		e, err := cost.New(schema, p)
		if err != nil {
			t.Fatal(err)
		}
		op, vars := operation(t, q, nil)
		if got := e.Estimate(op, vars, vis).UpstreamCalls; got != tc.want {
			t.Errorf("first %d, budget %d: %d calls, want %d", tc.first, tc.budget, got, tc.want)
		}
	}
}
