package resolvers

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// fakeVBO is one in-memory VBO server implementing loaders.Upstream. It serves its listing
// newest first with VBO's startTimeFrom/startTimeTo and offset/limit semantics, counts calls by
// method, and fails a method with the error set in fail.
type fakeVBO struct {
	name     string
	orgs     []upstream.Organization
	sessions []upstream.RestoreSession // newest first
	events   map[string][]upstream.RestoreSessionEvent

	mu    sync.Mutex
	fail  map[string]error // method ("orgs", "sessions", "session", "events", "event") -> error
	calls map[string]int
	// listings records the options of every RestoreSessions call.
	listings []upstream.RestoreSessionListOptions
}

var _ loaders.Upstream = (*fakeVBO)(nil)

// testCursors seals the cursors of every test resolver (tests craft cursors with it).
var testCursors = gid.NewRandomCursors()

func (f *fakeVBO) call(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[method]++
	return f.fail[method]
}

func (f *fakeVBO) failWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]error{}
	}
	f.fail[method] = err
}

// totalCalls counts every upstream call the server received.
func (f *fakeVBO) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakeVBO) Organizations(context.Context) ([]upstream.Organization, error) {
	if err := f.call("orgs"); err != nil {
		return nil, err
	}
	return slices.Clone(f.orgs), nil
}

func (f *fakeVBO) RestoreSessions(_ context.Context, o upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	if err := f.call("sessions"); err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	f.listings = append(f.listings, o)
	f.mu.Unlock()
	var match []upstream.RestoreSession
	for _, s := range f.sessions {
		if o.StartTimeFrom != nil && s.CreationTime.Before(*o.StartTimeFrom) ||
			o.StartTimeTo != nil && !s.CreationTime.Before(*o.StartTimeTo) {
			continue
		}
		match = append(match, s)
	}
	limit := o.Limit
	if limit == 0 {
		limit = upstream.DefaultPageSize
	}
	start := min(o.Offset, len(match))
	end := min(start+limit, len(match))
	return &upstream.Page[upstream.RestoreSession]{Offset: o.Offset, Limit: limit, Results: slices.Clone(match[start:end])}, nil, nil
}

func (f *fakeVBO) RestoreSession(_ context.Context, id string) (*upstream.RestoreSession, *upstream.Response, error) {
	if err := f.call("session"); err != nil {
		return nil, nil, err
	}
	for _, s := range f.sessions {
		if s.ID == id {
			return &s, nil, nil
		}
	}
	return nil, nil, &upstream.Error{Server: f.name, StatusCode: 404}
}

func (f *fakeVBO) RestoreSessionEvents(_ context.Context, id string, o upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	if err := f.call("events"); err != nil {
		return nil, nil, err
	}
	evs := f.events[id]
	start := min(o.Offset, len(evs))
	end := min(start+o.Limit, len(evs))
	return &upstream.Page[upstream.RestoreSessionEvent]{Offset: o.Offset, Limit: o.Limit, Results: slices.Clone(evs[start:end])}, nil, nil
}

func (f *fakeVBO) RestoreSessionEvent(_ context.Context, sid, eid string) (*upstream.RestoreSessionEvent, *upstream.Response, error) {
	if err := f.call("event"); err != nil {
		return nil, nil, err
	}
	for _, e := range f.events[sid] {
		if e.ID == eid {
			return &e, nil, nil
		}
	}
	return nil, nil, &upstream.Error{Server: f.name, StatusCode: 404}
}

// The fixture: three servers, five organisations, two tenants.
//
//	syd1: Contoso (tenant contoso), Fabrikam, and sessions of "Gone Ltd" (deleted since)
//	mel1: Contoso (tenant contoso), Northwind
//	akl1: Tailspin (tenant tailspin)
//
// Each organisation has sessionsPerOrg sessions; every session has a unique creation time.
const sessionsPerOrg = 6

var (
	t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

	serverNames = []string{"syd1", "mel1", "akl1"}

	fixtureOrgs = map[string][]upstream.Organization{
		"syd1": {{ID: "c0a0-0001", Name: "Contoso"}, {ID: "f0a0-0001", Name: "Fabrikam"}},
		"mel1": {{ID: "c0a0-0002", Name: "Contoso"}, {ID: "n0a0-0001", Name: "Northwind"}},
		"akl1": {{ID: "t0a0-0001", Name: "Tailspin"}},
	}

	// goneOrg is the organisation the detached session names; syd1 no longer has it.
	goneOrg       = "Gone Ltd"
	goneSessionID = "syd1-goneltd-0"
	// rogueEventID is served under goneSessionID but links to another session.
	rogueEventID = "rogue-e"
	// linklessEventID is served under goneSessionID without any links (nothing proves where it
	// belongs).
	linklessEventID = "linkless-e"
)

var (
	sessionTypes = []upstream.RestoreSessionType{upstream.SessionTypeExchange, upstream.SessionTypeOneDrive,
		upstream.SessionTypeSharePoint, upstream.SessionTypeTeams, upstream.SessionTypeExchange, upstream.SessionTypeOneDrive}
	sessionResults = []upstream.RestoreSessionResult{upstream.SessionResultSuccess, upstream.SessionResultWarning, upstream.SessionResultFailed}
)

func sessionID(server, org string, k int) string {
	return fmt.Sprintf("%s-%s-%d", server, strings.ToLower(strings.ReplaceAll(org, " ", "")), k)
}

func orgID(server, org string) string {
	for _, o := range fixtureOrgs[server] {
		if o.Name == org {
			return o.ID
		}
	}
	panic("no organisation " + org + " on " + server)
}

func eventsOf(sid string) []upstream.RestoreSessionEvent {
	link := func(eid string) upstream.Links {
		return upstream.Links{"self": {Href: "/v6/RestoreSessions/" + sid + "/Events/" + eid}}
	}
	return []upstream.RestoreSessionEvent{
		{ID: sid + "-e0", Type: upstream.EventTypeNone, Status: upstream.EventStatusSuccess, Order: 0, Links: link(sid + "-e0")},
		{ID: sid + "-e1", Type: upstream.EventTypeRestore, Status: upstream.EventStatusSuccess, Order: 1, ItemName: "Inbox", Links: link(sid + "-e1")},
		{ID: sid + "-e2", Type: upstream.EventTypeSave, Status: upstream.EventStatusFailed, Order: 2, ItemName: "Report.docx", Links: link(sid + "-e2")},
		{ID: sid + "-e3", Type: upstream.EventTypeRestore, Status: upstream.EventStatusWarning, Order: 3, ItemName: "Sent", Links: link(sid + "-e3")},
	}
}

// newFleet builds the fixture's servers. Session k of the j-th organisation of server i was
// created (k*20 + i*5 + j) minutes before t0: the servers' listings interleave.
func newFleet() map[string]*fakeVBO {
	fleet := map[string]*fakeVBO{}
	for i, name := range serverNames {
		f := &fakeVBO{name: name, orgs: fixtureOrgs[name], events: map[string][]upstream.RestoreSessionEvent{}}
		orgNames := []string{}
		for _, o := range f.orgs {
			orgNames = append(orgNames, o.Name)
		}
		if name == "syd1" {
			orgNames = append(orgNames, goneOrg)
		}
		for j, org := range orgNames {
			for k := range sessionsPerOrg {
				if org == goneOrg && k > 0 {
					break
				}
				s := upstream.RestoreSession{
					ID: sessionID(name, org, k), Name: "restore " + org, Organization: strings.ToUpper(org), // VBO's case may differ
					CreationTime: t0.Add(-time.Duration(k*20+i*5+j) * time.Minute),
					Type:         sessionTypes[k], State: upstream.SessionStateStopped, Result: sessionResults[k%3],
					InitiatedBy: "bob@example.net", ClientHost: fmt.Sprintf("ws-%02d", k),
				}
				if k == 0 {
					s.State = upstream.SessionStateWorking
				}
				if k%2 == 0 {
					s.InitiatedBy = `CONTOSO\Alice`
				}
				if k%2 == 1 {
					s.ClientHost = fmt.Sprintf("WS-%02d (via: 203.0.113.%d)", k, k)
				}
				f.sessions = append(f.sessions, s)
				f.events[s.ID] = eventsOf(s.ID)
			}
		}
		sort.SliceStable(f.sessions, func(a, b int) bool { return f.sessions[a].CreationTime.After(f.sessions[b].CreationTime) })
		fleet[name] = f
	}
	// An event served under the detached session that links to another session.
	fleet["syd1"].events[goneSessionID] = append(fleet["syd1"].events[goneSessionID], upstream.RestoreSessionEvent{
		ID: rogueEventID, Type: upstream.EventTypeRestore,
		Links: upstream.Links{"self": {Href: "/v6/RestoreSessions/" + sessionID("syd1", "Fabrikam", 1) + "/Events/" + rogueEventID}}},
		upstream.RestoreSessionEvent{ID: linklessEventID, Type: upstream.EventTypeRestore})
	return fleet
}

// Principals of the fixture.
var (
	admin    = auth.NewAdmin("admin@provider")
	contoso  = auth.NewTenantAuditor("auditor@contoso", "contoso", []auth.OrgRef{{Server: "syd1", OrgID: "c0a0-0001"}, {Server: "mel1", OrgID: "C0A0-0002"}})
	tailspin = auth.NewTenantAuditor("auditor@tailspin", "tailspin", []auth.OrgRef{{Server: "akl1", OrgID: "t0a0-0001"}})
)

// env is a Resolver over the fixture's fake servers.
type env struct {
	t     *testing.T
	r     *Resolver
	fleet map[string]*fakeVBO
	log   *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fleet := newFleet()
	var servers []loaders.VBOServer
	for _, name := range serverNames {
		servers = append(servers, loaders.VBOServer{Name: name, APIVersion: "v6", Client: fleet[name]})
	}
	b, err := loaders.NewBackend(servers, loaders.Config{ListingTTL: -1, PageSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	buf := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(buf, nil))
	return &env{t: t, r: &Resolver{Backend: b, Logger: logger, Cursors: testCursors}, fleet: fleet, log: buf}
}

// ctx is one request of p (nil: unauthenticated): fresh loaders, a response context that
// collects the partial-result errors, and a request id.
func (e *env) ctx(p *auth.Principal) context.Context {
	ctx := graphql.WithResponseContext(context.Background(), ErrorPresenter(e.r.Logger), nil)
	ctx = requestid.With(ctx, "req-1")
	ctx = loaders.With(ctx, e.r.Backend.New())
	if p != nil {
		ctx = auth.WithPrincipal(ctx, p)
	}
	return ctx
}

// calls is the number of upstream calls all servers received.
func (e *env) calls() int {
	n := 0
	for _, f := range e.fleet {
		n += f.totalCalls()
	}
	return n
}

// present is what the client would see for err.
func (e *env) present(ctx context.Context, err error) *gqlerror.Error {
	return ErrorPresenter(e.r.Logger)(ctx, err)
}

// code is err's extensions.code as the client sees it ("" for no error).
func (e *env) code(err error) string {
	if err == nil {
		return ""
	}
	c, _ := e.present(context.Background(), err).Extensions["code"].(string)
	return c
}

// responseErrors lists the partial-result errors of a request as "CODE server".
func responseErrors(ctx context.Context) []string {
	var out []string
	for _, e := range graphql.GetErrors(ctx) {
		code, _ := e.Extensions["code"].(string)
		server, _ := e.Extensions["server"].(string)
		out = append(out, strings.TrimSpace(code+" "+server))
	}
	return out
}

// fixtureSession is a session of the fixture with where it lives.
type fixtureSession struct {
	server string
	orgID  string // "" for the detached organisation
	s      upstream.RestoreSession
}

// allSessions lists every session of the fleet, newest first (ties: display order).
func allSessions(fleet map[string]*fakeVBO) []fixtureSession {
	var out []fixtureSession
	for _, name := range serverNames {
		for _, s := range fleet[name].sessions {
			id := ""
			for _, o := range fleet[name].orgs {
				if strings.EqualFold(o.Name, s.Organization) {
					id = o.ID
				}
			}
			out = append(out, fixtureSession{server: name, orgID: id, s: s})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].s.CreationTime.After(out[b].s.CreationTime) })
	return out
}

// wantSessions lists the ids of the fixture's sessions p may see that keep returns true for.
func wantSessions(fleet map[string]*fakeVBO, p *auth.Principal, keep func(fixtureSession) bool) []string {
	out := []string{}
	for _, fs := range allSessions(fleet) {
		visible := p.SeesAll() || fs.orgID != "" && p.CanSeeOrg(fs.server, fs.orgID)
		if visible && (keep == nil || keep(fs)) {
			out = append(out, fs.s.ID)
		}
	}
	return out
}

func sessionIDs(conn *model.RestoreSessionConnection) []string {
	out := []string{}
	for _, e := range conn.Edges {
		out = append(out, e.Node.Upstream.ID)
	}
	return out
}

func orgNamesOf(orgs []*model.Organization) []string {
	out := []string{}
	for _, o := range orgs {
		out = append(out, o.ServerName+"/"+o.Upstream.Name)
	}
	return out
}

func orgEdgeNames(conn *model.OrganizationConnection) []string {
	out := []string{}
	for _, e := range conn.Edges {
		out = append(out, e.Node.ServerName+"/"+e.Node.Upstream.Name)
	}
	return out
}

// Global IDs of the fixture's objects.
func serverGID(server string) string { return gid.ID{Kind: gid.KindServer, Server: server}.String() }

func orgGID(server, id string) string {
	return gid.ID{Kind: gid.KindOrganization, Server: server, Upstream: id}.String()
}

func sessionGID(server, id string) string {
	return gid.ID{Kind: gid.KindRestoreSession, Server: server, Upstream: id}.String()
}

func eventGID(server, sid, eid string) string {
	return gid.ID{Kind: gid.KindRestoreEvent, Server: server, Parent: sid, Upstream: eid}.String()
}
