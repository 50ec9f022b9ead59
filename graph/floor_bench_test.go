package graph_test

// BenchmarkDashboardExecutionFloor measures what gqlgen alone costs to execute and write the
// dashboard's answer (cmd/internal/e2e benchDashboardQuery: 60 organisations x 10 sessions with
// their events), with no data source: a hand-written ResolverRoot answers every resolver with
// model values built from the simulators' data before the timer starts (no SQL, no loaders, no
// network, no gateway middleware). Whatever a data source costs comes on top of these figures,
// so they are the floor of the issue-28 dashboard target for this response shape on gqlgen
// v0.17.98 (docs/benchmarks-floor.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// The bench fleet of cmd/internal/e2e (benchFleet, demo.Start): three servers with the demo's
// seeds, 20 organisations and 1,500 sessions each, anchored at the same time.
var (
	floorServers = []string{"syd1", "mel1", "akl1"}
	floorNow     = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

const (
	floorSeed     = 20261125 // demo.Seed; server i gets floorSeed+i
	floorOrgs     = 20       // per server (cmd/internal/e2e benchOrgs)
	floorSessions = 1500     // per server
	floorPage     = 10       // restoreSessions(first: 10)
	floorEvents   = 100      // events(first: 100)
	// floorFlatEvents is the length of the flat event list (the dashboard's own event edges,
	// 7,384 on this data, repeated).
	floorFlatEvents = 18_000
)

// The queries. dashboard is cmd/internal/e2e's benchDashboardQuery verbatim.
const (
	floorDashboard      = `{"query":"{ organizations(first: 500) { edges { node { id name server { name } restoreSessions(first: 10) { pageInfo { hasNextPage } edges { node { id startTime state type result initiatedBy clientHost { machineName viaAddress } events(first: 100) { totalCount edges { node { type status itemName itemSizeBytes } } } } } } } } } }"}`
	floorDashboardCount = `{"query":"{ organizations(first: 500) { edges { node { id name server { name } restoreSessions(first: 10) { pageInfo { hasNextPage } edges { node { id startTime state type result initiatedBy clientHost { machineName viaAddress } events(first: 100) { totalCount } } } } } } } }"}`
	floorFlat           = `{"query":"{ restoreSession(id: \"flat\") { id events(first: 100000) { totalCount edges { node { type status itemName itemSizeBytes } } } } }"}`
	floorFlatOneField   = `{"query":"{ restoreSession(id: \"flat\") { id events(first: 100000) { totalCount edges { node { type } } } } }"}`
)

// floorData is the dashboard's answer as model values, built once.
type floorData struct {
	orgs     *model.OrganizationConnection
	servers  map[string]*model.VboServer
	sessions map[*model.Organization]*model.RestoreSessionConnection
	events   map[*model.RestoreSession]*model.RestoreEventConnection
	flat     *model.RestoreSession // its events: floorFlatEvents edges in one list
	flatConn *model.RestoreEventConnection

	nSessions, nEvents int
}

// newFloorData reads the simulators' organisations, sessions and events in memory (no HTTP)
// and shapes them as the gateway's resolvers do: organisations by server then name, each
// organisation's newest 10 sessions, each session's events without the session-started/stopped
// markers (the events filter's default), at most 100.
func newFloorData(tb testing.TB) *floorData {
	tb.Helper()
	d := &floorData{
		orgs:     &model.OrganizationConnection{PageInfo: &model.PageInfo{}},
		servers:  map[string]*model.VboServer{},
		sessions: map[*model.Organization]*model.RestoreSessionConnection{},
		events:   map[*model.RestoreSession]*model.RestoreEventConnection{},
	}
	var allEvents []*model.RestoreEventEdge
	for i, name := range floorServers {
		sim := vbosim.New(vbosim.Options{Name: name, Seed: floorSeed + int64(i), Orgs: floorOrgs, Sessions: floorSessions, Now: floorNow})
		d.servers[name] = &model.VboServer{Name: name, APIVersion: sim.APIVersion()}
		byOrg := map[string][]upstream.RestoreSession{}
		for _, s := range sim.Sessions() { // newest first
			byOrg[s.Organization] = append(byOrg[s.Organization], s)
		}
		orgs := sim.Organizations()
		slices.SortFunc(orgs, func(a, b upstream.Organization) int { return strings.Compare(a.Name, b.Name) })
		for _, o := range orgs {
			org := &model.Organization{ServerName: name, Upstream: o}
			d.orgs.Edges = append(d.orgs.Edges, model.NewOrganizationEdge(org, nil, len(d.orgs.Edges)+1))
			all := byOrg[o.Name]
			page := &model.RestoreSessionConnection{PageInfo: &model.PageInfo{HasNextPage: len(all) > floorPage}}
			for _, s := range all[:min(floorPage, len(all))] {
				sess := &model.RestoreSession{ServerName: name, Upstream: s}
				page.Edges = append(page.Edges, model.NewServerSessionEdge(sess, nil, name, gid.Position{Time: s.CreationTime}))
				var evs []*model.RestoreEventEdge
				for _, ev := range sim.Events(s.ID) {
					if ev.Type == upstream.EventTypeNone {
						continue
					}
					evs = append(evs, model.NewRestoreEventEdge(&model.RestoreEvent{ServerName: name, SessionID: s.ID, Upstream: ev}, nil, len(evs)+1))
				}
				total := len(evs)
				evs = evs[:min(floorEvents, len(evs))]
				d.events[sess] = &model.RestoreEventConnection{Edges: evs, TotalCount: &total,
					PageInfo: &model.PageInfo{HasNextPage: total > len(evs)}}
				allEvents = append(allEvents, evs...)
				d.nSessions++
				d.nEvents += len(evs)
			}
			d.sessions[org] = page
		}
	}
	d.orgs.TotalCount = len(d.orgs.Edges)
	d.flat = &model.RestoreSession{ServerName: "syd1", Upstream: upstream.RestoreSession{ID: "flat", Type: upstream.SessionTypeExchange}}
	// The flat list: the dashboard's event edges, repeated up to floorFlatEvents.
	flat := make([]*model.RestoreEventEdge, 0, floorFlatEvents)
	for len(flat) < floorFlatEvents && len(allEvents) > 0 {
		flat = append(flat, allEvents[:min(len(allEvents), floorFlatEvents-len(flat))]...)
	}
	total := len(flat)
	d.flatConn = &model.RestoreEventConnection{Edges: flat, TotalCount: &total, PageInfo: &model.PageInfo{}}
	return d
}

// floorRoot is the ResolverRoot: only the dashboard's resolvers are implemented; any other
// resolver is a nil embedded interface, so a query reaching one panics (gqlgen answers an
// error, and the bench's completeness check fails).
type floorRoot struct {
	graph.ResolverRoot
	d *floorData
}

func (r floorRoot) Query() graph.QueryResolver               { return floorQuery{d: r.d} }
func (r floorRoot) Organization() graph.OrganizationResolver { return floorOrg{d: r.d} }
func (r floorRoot) RestoreSession() graph.RestoreSessionResolver {
	return floorSession{d: r.d}
}

type floorQuery struct {
	graph.QueryResolver
	d *floorData
}

func (q floorQuery) Organizations(context.Context, *int, *string, *model.OrganizationFilter) (*model.OrganizationConnection, error) {
	return q.d.orgs, nil
}

func (q floorQuery) RestoreSession(_ context.Context, id string, _ *bool) (*model.RestoreSession, error) {
	if id != "flat" {
		return nil, fmt.Errorf("floor: no session %q", id)
	}
	return q.d.flat, nil
}

type floorOrg struct {
	graph.OrganizationResolver
	d *floorData
}

func (o floorOrg) Server(_ context.Context, obj *model.Organization) (*model.VboServer, error) {
	return o.d.servers[obj.ServerName], nil
}

func (o floorOrg) RestoreSessions(_ context.Context, obj *model.Organization, _ *int, _ *string, _ *model.RestoreSessionFilter, _ *bool) (*model.RestoreSessionConnection, error) {
	return o.d.sessions[obj], nil
}

type floorSession struct {
	graph.RestoreSessionResolver
	d *floorData
}

func (s floorSession) Events(_ context.Context, obj *model.RestoreSession, _ *int, _ *string, _ *model.RestoreEventFilter) (*model.RestoreEventConnection, error) {
	if obj == s.d.flat {
		return s.d.flatConn, nil
	}
	return s.d.events[obj], nil
}

// rawPOST is transport.POST without its final encoding/json pass over the whole response: the
// executor's data, already compact JSON, is written as it is (what the gateway's own POST
// transport, cmd/internal/edge/httpapi/post.go, does). Errors go out through encoding/json.
type rawPOST struct{}

func (rawPOST) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

func (rawPOST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/json")
	params := &graphql.RawParams{}
	if err := json.NewDecoder(r.Body).Decode(params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("body: %v", err)}))
		return
	}
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		_ = json.NewEncoder(w).Encode(exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if len(resp.Errors) > 0 || len(resp.Extensions) > 0 {
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	b := make([]byte, 0, len(resp.Data)+len(`{"data":}`))
	b = append(append(append(b, `{"data":`...), resp.Data...), '}')
	_, _ = w.Write(b)
}

// floorHandler is gqlgen's handler for the schema over the fake root, with the transport asked
// for and the gateway's query cache (so parsing and validation are paid once, as in production).
func floorHandler(d *floorData, tr graphql.Transport) *handler.Server {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: floorRoot{d: d}}))
	srv.AddTransport(tr)
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	return srv
}

// countingWriter is a ResponseWriter that keeps the status and counts the body's bytes: the
// timed ops write the answer without growing a buffer per op.
type countingWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) WriteHeader(code int)        { w.status = code }
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// floorAnswer is the part of an answer the completeness check reads.
type floorAnswer struct {
	Data struct {
		Organizations *struct {
			Edges []struct {
				Node struct {
					ID              string
					RestoreSessions struct {
						Edges []struct {
							Node floorSessionAnswer
						}
					}
				}
			}
		}
		RestoreSession *floorSessionAnswer
	}
	Errors json.RawMessage
}

type floorSessionAnswer struct {
	ID     string
	Events struct {
		TotalCount *int
		Edges      []struct {
			Node struct {
				Type     *string
				ItemName *string
			}
		}
	}
}

// counts are the sessions, event edges and events' totalCount values an answer holds.
func (a *floorAnswer) counts() (sessions, edges, totals int) {
	add := func(s *floorSessionAnswer) {
		edges += len(s.Events.Edges)
		if s.Events.TotalCount != nil {
			totals += *s.Events.TotalCount
		}
	}
	if a.Data.Organizations != nil {
		for _, o := range a.Data.Organizations.Edges {
			for _, s := range o.Node.RestoreSessions.Edges {
				sessions++
				add(&s.Node)
			}
		}
	}
	if a.Data.RestoreSession != nil {
		add(a.Data.RestoreSession)
	}
	return sessions, edges, totals
}

// floorDo serves one request into w.
func floorDo(h http.Handler, body string, w http.ResponseWriter) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, req)
}

// floorCheck runs the query once and fails unless the answer is complete: no errors, the
// sessions and event edges the data holds. It returns the answer's length, which every timed
// op must match (the answer is deterministic).
func floorCheck(tb testing.TB, h http.Handler, body string, wantSessions, wantEdges int) int {
	tb.Helper()
	rec := httptest.NewRecorder()
	floorDo(h, body, rec)
	if rec.Code != http.StatusOK {
		tb.Fatalf("HTTP %d: %.500s", rec.Code, rec.Body.String())
	}
	var a floorAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		tb.Fatalf("answer: %v", err)
	}
	if len(a.Errors) > 0 {
		tb.Fatalf("errors: %.500s", a.Errors)
	}
	sessions, edges, totals := a.counts()
	if sessions != wantSessions || edges != wantEdges || totals < wantEdges {
		tb.Fatalf("answer holds %d sessions, %d event edges (totalCount sum %d); want %d, %d", sessions, edges, totals, wantSessions, wantEdges)
	}
	if edges > 0 && !bytes.Contains(rec.Body.Bytes(), []byte(`"itemName":"`)) && strings.Contains(body, "itemName") {
		tb.Fatal("no event carries an itemName")
	}
	return rec.Body.Len()
}

// cpuTime is this process's user + system CPU time so far (cmd/internal/e2e's measure).
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The shapes: the dashboard; the dashboard with events { totalCount } only (no event edges);
// 18,000 event edges in one flat list, with the dashboard's 4 event fields and with 1.
var floorShapes = []struct {
	name, body      string
	sessions, edges func(*floorData) int
}{
	{"dashboard", floorDashboard, func(d *floorData) int { return d.nSessions }, func(d *floorData) int { return d.nEvents }},
	{"dashboard-no-event-edges", floorDashboardCount, func(d *floorData) int { return d.nSessions }, func(*floorData) int { return 0 }},
	{"flat-events", floorFlat, func(*floorData) int { return 0 }, func(*floorData) int { return floorFlatEvents }},
	{"flat-events-1-field", floorFlatOneField, func(*floorData) int { return 0 }, func(*floorData) int { return floorFlatEvents }},
}

func BenchmarkDashboardExecutionFloor(b *testing.B) {
	d := newFloorData(b)
	b.Logf("data: %d organisations, %d sessions, %d event edges", len(d.orgs.Edges), d.nSessions, d.nEvents)
	for _, shape := range floorShapes {
		for _, tr := range []struct {
			name string
			t    graphql.Transport
		}{{"raw", rawPOST{}}, {"post", transport.POST{}}} {
			for _, gogc := range []int{100, 400} {
				if tr.name == "post" && gogc != 100 {
					continue // transport.POST's cost shows at one GOGC
				}
				b.Run(fmt.Sprintf("%s/%s/gogc=%d", shape.name, tr.name, gogc), func(b *testing.B) {
					h := floorHandler(d, tr.t)
					size := floorCheck(b, h, shape.body, shape.sessions(d), shape.edges(d))
					defer debug.SetGCPercent(debug.SetGCPercent(gogc))
					b.ReportAllocs()
					w := &countingWriter{h: http.Header{}}
					var cpu time.Duration
					for b.Loop() {
						clear(w.h)
						w.status, w.n = http.StatusOK, 0
						c0 := cpuTime(b)
						floorDo(h, shape.body, w)
						cpu += cpuTime(b) - c0
						if w.status != http.StatusOK || w.n != size {
							b.Fatalf("HTTP %d, %d bytes; want 200, %d", w.status, w.n, size)
						}
					}
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
					b.ReportMetric(float64(size), "resp-bytes")
				})
			}
		}
	}
}

// TestDashboardExecutionFloorAnswers holds the bench honest: the data has the dashboard's shape
// (60 organisations, 600 sessions, about 7,400 event edges, as the gateway answers on the same
// simulators), every shape's answer is complete through both transports, and both transports
// write the same answer.
func TestDashboardExecutionFloorAnswers(t *testing.T) {
	d := newFloorData(t)
	if len(d.orgs.Edges) != len(floorServers)*floorOrgs || d.nSessions != len(floorServers)*floorOrgs*floorPage {
		t.Fatalf("data: %d organisations, %d sessions; want %d, %d", len(d.orgs.Edges), d.nSessions, len(floorServers)*floorOrgs, len(floorServers)*floorOrgs*floorPage)
	}
	// The gateway's dashboard on the same simulators answers 7,384 event edges (939,152 bytes).
	if d.nEvents < 6_000 || d.nEvents > 9_000 || len(d.flatConn.Edges) != floorFlatEvents {
		t.Fatalf("data: %d dashboard event edges, %d flat; want about 7,400 and %d", d.nEvents, len(d.flatConn.Edges), floorFlatEvents)
	}
	for _, shape := range floorShapes {
		t.Run(shape.name, func(t *testing.T) {
			t.Parallel()
			var bodies [2][]byte
			for i, tr := range []graphql.Transport{rawPOST{}, transport.POST{}} {
				h := floorHandler(d, tr)
				floorCheck(t, h, shape.body, shape.sessions(d), shape.edges(d))
				rec := httptest.NewRecorder()
				floorDo(h, shape.body, rec)
				// transport.POST's encoding/json escapes <, > and & (\u0026...); the raw
				// transport writes the executor's bytes as they are.
				var esc bytes.Buffer
				json.HTMLEscape(&esc, bytes.TrimSpace(rec.Body.Bytes()))
				bodies[i] = esc.Bytes()
			}
			if !bytes.Equal(bodies[0], bodies[1]) {
				t.Fatalf("raw and transport.POST answers differ: %d vs %d bytes", len(bodies[0]), len(bodies[1]))
			}
		})
	}
	t.Run("the checks fail on an incomplete answer", func(t *testing.T) {
		t.Parallel()
		h := floorHandler(d, rawPOST{})
		floorCheckFails(t, h, floorDashboard, d.nSessions+1, d.nEvents)                    // a session short
		floorCheckFails(t, h, floorDashboard, d.nSessions, d.nEvents+1)                    // an event edge short
		floorCheckFails(t, h, floorDashboardCount, d.nSessions, d.nEvents)                 // no event edges
		floorCheckFails(t, h, `{"query":"{ restoreSession(id: \"nope\") { id } }"}`, 0, 0) // an error
	})
}

// floorCheckFails asserts floorCheck rejects the answer to body (short of what it wants, or
// with errors).
func floorCheckFails(t *testing.T, h http.Handler, body string, wantSessions, wantEdges int) {
	t.Helper()
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		floorCheck(ft, h, body, wantSessions, wantEdges)
	}()
	if !ft.failed {
		t.Fatalf("floorCheck accepted the answer to %.80s (want %d sessions, %d event edges)", body, wantSessions, wantEdges)
	}
}

// fatalRecorder records Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
func (f *fatalRecorder) Fatal(...any) {
	f.failed = true
	panic("fatal")
}
