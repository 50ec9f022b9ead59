package resolvers

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// restoreSessions filters, for an admin and a tenant: each filter keeps exactly the sessions
// the reference predicate keeps, within the caller's scope, newest first.
func TestRestoreSessionsFilters(t *testing.T) {
	contosoSyd := orgGID("syd1", "c0a0-0001")
	fabrikam := orgGID("syd1", "f0a0-0001")
	from, to := t0.Add(-65*time.Minute), t0.Add(-20*time.Minute)
	tests := []struct {
		name   string
		filter *model.RestoreSessionFilter
		keep   func(fixtureSession) bool
	}{
		{"no filter", nil, nil},
		{"empty filter", &model.RestoreSessionFilter{}, nil},
		{"types", &model.RestoreSessionFilter{Types: []model.RestoreSessionType{model.RestoreSessionTypeExchange, model.RestoreSessionTypeTeams}},
			func(f fixtureSession) bool {
				return f.s.Type == upstream.SessionTypeExchange || f.s.Type == upstream.SessionTypeTeams
			}},
		{"states", &model.RestoreSessionFilter{States: []model.RestoreSessionState{model.RestoreSessionStateWorking}},
			func(f fixtureSession) bool { return f.s.State == upstream.SessionStateWorking }},
		{"results", &model.RestoreSessionFilter{Results: []model.RestoreSessionResult{model.RestoreSessionResultFailed}},
			func(f fixtureSession) bool { return f.s.Result == upstream.SessionResultFailed }},
		{"initiatedBy, any case", &model.RestoreSessionFilter{InitiatedBy: ptr("alice")},
			func(f fixtureSession) bool { return strings.Contains(f.s.InitiatedBy, "Alice") }},
		{"empty initiatedBy matches all", &model.RestoreSessionFilter{InitiatedBy: ptr("")}, nil},
		{"clientHost: machine name", &model.RestoreSessionFilter{ClientHost: ptr("WS-03")},
			func(f fixtureSession) bool { return strings.HasPrefix(strings.ToLower(f.s.ClientHost), "ws-03") }},
		{"clientHost: the via address in the raw text", &model.RestoreSessionFilter{ClientHost: ptr("203.0.113.5")},
			func(f fixtureSession) bool { return strings.Contains(f.s.ClientHost, "203.0.113.5") }},
		{"time window", &model.RestoreSessionFilter{StartTimeFrom: &from, StartTimeTo: &to},
			func(f fixtureSession) bool { return !f.s.CreationTime.Before(from) && f.s.CreationTime.Before(to) }},
		{"time window in another zone", &model.RestoreSessionFilter{StartTimeFrom: ptr(from.In(time.FixedZone("NZ", 13*3600)))},
			func(f fixtureSession) bool { return !f.s.CreationTime.Before(from) }},
		{"servers", &model.RestoreSessionFilter{Servers: []string{"mel1"}},
			func(f fixtureSession) bool { return f.server == "mel1" }},
		{"organizationIds", &model.RestoreSessionFilter{OrganizationIds: []string{contosoSyd}},
			func(f fixtureSession) bool { return f.server == "syd1" && f.orgID == "c0a0-0001" }},
		{"organizationIds, another server's organisation too", &model.RestoreSessionFilter{OrganizationIds: []string{contosoSyd, orgGID("akl1", "T0A0-0001")}},
			func(f fixtureSession) bool { return f.orgID == "c0a0-0001" || f.orgID == "t0a0-0001" }},
		{"organizationIds out of the tenant's scope match nothing", &model.RestoreSessionFilter{OrganizationIds: []string{fabrikam}},
			func(f fixtureSession) bool { return f.orgID == "f0a0-0001" }},
		{"an empty organizationIds matches nothing", &model.RestoreSessionFilter{OrganizationIds: []string{}},
			func(fixtureSession) bool { return false }},
		{"organizationIds and servers", &model.RestoreSessionFilter{OrganizationIds: []string{contosoSyd}, Servers: []string{"mel1"}},
			func(fixtureSession) bool { return false }},
		{"everything at once", &model.RestoreSessionFilter{Types: []model.RestoreSessionType{model.RestoreSessionTypeOnedrive},
			Results: []model.RestoreSessionResult{model.RestoreSessionResultWarning}, ClientHost: ptr("via"), Servers: []string{"syd1", "mel1"}},
			func(f fixtureSession) bool {
				return f.s.Type == upstream.SessionTypeOneDrive && f.s.Result == upstream.SessionResultWarning &&
					strings.Contains(f.s.ClientHost, "via") && f.server != "akl1"
			}},
	}
	for _, p := range []*auth.Principal{admin, contoso} {
		for _, tt := range tests {
			t.Run(p.Subject+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t)
				ctx := e.ctx(p)
				conn, err := e.r.Query().RestoreSessions(ctx, ptr(500), nil, tt.filter, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := wantSessions(e.fleet, p, tt.keep)
				if got := sessionIDs(conn); !slices.Equal(got, want) {
					t.Errorf("got  %v\nwant %v", got, want)
				}
				if tt.keep != nil && len(want) == len(wantSessions(e.fleet, p, nil)) {
					t.Errorf("the filter keeps everything: the case checks nothing")
				}
				if errs := responseErrors(ctx); len(errs) > 0 {
					t.Errorf("response errors %v", errs)
				}
			})
		}
	}
}

// The time window goes upstream (startTimeFrom/startTimeTo); the other filters are the gateway's.
func TestTimeWindowGoesUpstream(t *testing.T) {
	e := newEnv(t)
	from := t0.Add(-30 * time.Minute)
	if _, err := e.r.Query().RestoreSessions(e.ctx(admin), ptr(500), nil, &model.RestoreSessionFilter{StartTimeFrom: &from}, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range serverNames {
		listings := e.fleet[name].listings
		if len(listings) == 0 {
			t.Fatalf("%s: no listing call", name)
		}
		for _, o := range listings {
			if o.StartTimeFrom == nil || !o.StartTimeFrom.Equal(from) {
				t.Errorf("%s: listing asked with startTimeFrom %v, want %v", name, o.StartTimeFrom, from)
			}
		}
	}
}

// An organisation's sessions: the same filters, and only that organisation's sessions.
func TestOrganizationRestoreSessions(t *testing.T) {
	tests := []struct {
		name     string
		server   string
		org      string
		filter   *model.RestoreSessionFilter
		keep     func(fixtureSession) bool
		wantTot  bool
		pageSize int
	}{
		{"all", "syd1", "c0a0-0001", nil, nil, true, 500},
		{"filtered", "mel1", "c0a0-0002", &model.RestoreSessionFilter{States: []model.RestoreSessionState{model.RestoreSessionStateStopped}},
			func(f fixtureSession) bool { return f.s.State == upstream.SessionStateStopped }, true, 500},
		{"one page of two: the walk stops early, the total is unknown", "syd1", "f0a0-0001", nil, nil, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := e.ctx(admin)
			o, err := e.r.Query().Organization(ctx, orgGID(tt.server, tt.org))
			if err != nil {
				t.Fatal(err)
			}
			conn, err := e.r.Organization().RestoreSessions(ctx, o, ptr(tt.pageSize), nil, tt.filter, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := wantSessions(e.fleet, admin, func(f fixtureSession) bool {
				return f.server == tt.server && f.orgID == tt.org && (tt.keep == nil || tt.keep(f))
			})
			all := len(want)
			want = want[:min(len(want), tt.pageSize)]
			if got := sessionIDs(conn); !slices.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
			switch {
			case tt.wantTot && (conn.TotalCount == nil || *conn.TotalCount != all):
				t.Errorf("totalCount = %v, want %d", deref(conn.TotalCount), all)
			case !tt.wantTot && conn.TotalCount != nil:
				t.Errorf("totalCount = %d, want null", *conn.TotalCount)
			}
			if conn.PageInfo.HasNextPage != (all > tt.pageSize) {
				t.Errorf("hasNextPage = %v with %d of %d", conn.PageInfo.HasNextPage, len(want), all)
			}
		})
	}
}

// Paging arguments are checked before anything is loaded: every connection refuses a bad
// first, a cursor that does not decode or names a server outside the caller's view, and a
// reversed time window, with BAD_USER_INPUT and no upstream call.
func TestPagingArguments(t *testing.T) {
	syd1 := &model.VboServer{Name: "syd1"}
	org := &model.Organization{ServerName: "syd1", Upstream: upstream.Organization{ID: "c0a0-0001", Name: "Contoso"}}
	session := &model.RestoreSession{ServerName: "syd1", Upstream: upstream.RestoreSession{ID: sessionID("syd1", "Contoso", 1)}}
	akl1Cursor := testCursors.EncodeStream(gid.StreamCursor{"akl1": {Time: t0}})
	reversed := &model.RestoreSessionFilter{StartTimeFrom: ptr(t0), StartTimeTo: ptr(t0.Add(-time.Hour))}
	tests := []struct {
		name   string
		first  *int
		after  *string
		filter *model.RestoreSessionFilter
		msg    string // part of the message
		merged bool   // restoreSessions only (organization.restoreSessions has no organisation filter)
	}{
		{"negative first", ptr(-1), nil, nil, "first must be between 0 and 500, got -1", false},
		{"first over the ceiling", ptr(501), nil, nil, "first must be between 0 and 500, got 501", false},
		{"a cursor that does not decode", nil, ptr("%%%"), nil, "invalid id or cursor", false},
		{"an id as a cursor", nil, ptr(serverGID("syd1")), nil, "invalid id or cursor", false},
		{"a reversed time window", nil, nil, reversed, "startTimeFrom is after filter.startTimeTo", false},
		{"a malformed organisation id", nil, nil, &model.RestoreSessionFilter{OrganizationIds: []string{"nope"}}, "invalid id or cursor", true},
		{"a session id as an organisation id", nil, nil, &model.RestoreSessionFilter{OrganizationIds: []string{sessionGID("syd1", "s1")}}, "invalid id or cursor", true},
		{"a cursor naming a server the tenant cannot see", nil, &akl1Cursor, nil, "invalid id or cursor", false},
	}
	type connection struct {
		name   string
		offset bool // an offset cursor (organisations, events), no session filter
		call   func(e *env, first *int, after *string, f *model.RestoreSessionFilter) error
	}
	conns := []connection{
		{"restoreSessions", false, func(e *env, first *int, after *string, f *model.RestoreSessionFilter) error {
			_, err := e.r.Query().RestoreSessions(e.ctx(contoso), first, after, f, nil)
			return err
		}},
		{"organization.restoreSessions", false, func(e *env, first *int, after *string, f *model.RestoreSessionFilter) error {
			_, err := e.r.Organization().RestoreSessions(e.ctx(contoso), org, first, after, f, nil)
			return err
		}},
		{"organizations", true, func(e *env, first *int, after *string, _ *model.RestoreSessionFilter) error {
			_, err := e.r.Query().Organizations(e.ctx(contoso), first, after, nil)
			return err
		}},
		{"server.organizations", true, func(e *env, first *int, after *string, _ *model.RestoreSessionFilter) error {
			_, err := e.r.VboServer().Organizations(e.ctx(contoso), syd1, first, after)
			return err
		}},
		{"session.events", true, func(e *env, first *int, after *string, _ *model.RestoreSessionFilter) error {
			_, err := e.r.RestoreSession().Events(e.ctx(contoso), session, first, after, nil)
			return err
		}},
	}
	for _, c := range conns {
		for _, tt := range tests {
			if c.offset && (tt.filter != nil || tt.after != nil && *tt.after == akl1Cursor) {
				continue // no session filter; an offset cursor names no server
			}
			if tt.merged && c.name != "restoreSessions" {
				continue
			}
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t)
				err := c.call(e, tt.first, tt.after, tt.filter)
				p := e.present(e.ctx(contoso), err)
				if p.Extensions["code"] != CodeBadUserInput || !strings.Contains(p.Message, tt.msg) {
					t.Errorf("got %q %v, want BAD_USER_INPUT with %q", p.Message, p.Extensions, tt.msg)
				}
				if n := e.calls(); n > 0 {
					t.Errorf("%d upstream calls before the arguments were checked", n)
				}
			})
		}
	}
}

// first: 0 is a valid, empty page that still says whether more follow.
func TestFirstZero(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx(admin)
	sessions, err := e.r.Query().RestoreSessions(ctx, ptr(0), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions.Edges) != 0 || !sessions.PageInfo.HasNextPage {
		t.Errorf("restoreSessions(first: 0) = %d edges, hasNextPage %v; want 0, true", len(sessions.Edges), sessions.PageInfo.HasNextPage)
	}
	orgs, err := e.r.Query().Organizations(ctx, ptr(0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs.Edges) != 0 || !orgs.PageInfo.HasNextPage || orgs.TotalCount != 5 || orgs.PageInfo.EndCursor != nil {
		t.Errorf("organizations(first: 0) = %+v, total %d", orgs.PageInfo, orgs.TotalCount)
	}
}

// Paging through restoreSessions with the endCursor of each page yields every visible session
// exactly once, newest first; later pages say they have a previous page.
func TestRestoreSessionsPaging(t *testing.T) {
	for _, tt := range []struct {
		name   string
		p      *auth.Principal
		first  int
		filter *model.RestoreSessionFilter
		keep   func(fixtureSession) bool
	}{
		{"admin, pages of 4", admin, 4, nil, nil},
		{"admin, filtered, pages of 3", admin, 3, &model.RestoreSessionFilter{Results: []model.RestoreSessionResult{model.RestoreSessionResultSuccess}},
			func(f fixtureSession) bool { return f.s.Result == upstream.SessionResultSuccess }},
		{"tenant, pages of 5", contoso, 5, nil, nil},
		{"tenant, pages of 1", contoso, 1, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var got []string
			var after *string
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatalf("no end after 100 pages: %v", got)
				}
				conn, err := e.r.Query().RestoreSessions(e.ctx(tt.p), ptr(tt.first), after, tt.filter, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(conn.Edges) > tt.first {
					t.Fatalf("page %d has %d edges, first is %d", page, len(conn.Edges), tt.first)
				}
				if conn.PageInfo.HasPreviousPage != (page > 0) {
					t.Errorf("page %d: hasPreviousPage = %v", page, conn.PageInfo.HasPreviousPage)
				}
				if n := len(conn.Edges); n > 0 && (*conn.PageInfo.StartCursor != conn.Edges[0].Cursor() || *conn.PageInfo.EndCursor != conn.Edges[n-1].Cursor()) {
					t.Errorf("page %d: start/end cursors are not the edges'", page)
				}
				got = append(got, sessionIDs(conn)...)
				if !conn.PageInfo.HasNextPage {
					break
				}
				after = conn.PageInfo.EndCursor
			}
			if want := wantSessions(e.fleet, tt.p, tt.keep); !slices.Equal(got, want) {
				t.Errorf("paged %v\nwant  %v", got, want)
			}
		})
	}
}

// An organisation's sessions page on with the stream cursor of its last edge.
func TestOrganizationRestoreSessionsPaging(t *testing.T) {
	e := newEnv(t)
	org := &model.Organization{ServerName: "mel1", Upstream: fixtureOrgs["mel1"][1]}
	var got []string
	var after *string
	for page := 0; page < 10; page++ {
		conn, err := e.r.Organization().RestoreSessions(e.ctx(admin), org, ptr(4), after, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, sessionIDs(conn)...)
		if conn.PageInfo.HasPreviousPage != (page > 0) {
			t.Errorf("page %d: hasPreviousPage = %v", page, conn.PageInfo.HasPreviousPage)
		}
		if !conn.PageInfo.HasNextPage {
			break
		}
		after = conn.PageInfo.EndCursor
	}
	want := wantSessions(e.fleet, admin, func(f fixtureSession) bool { return f.orgID == "n0a0-0001" })
	if !slices.Equal(got, want) {
		t.Errorf("paged %v\nwant  %v", got, want)
	}
}

// Organisations page by offset, ordered by server (display order) then name.
func TestOrganizationsPagingAndFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter *model.OrganizationFilter
		want   []string
	}{
		{"all", nil, []string{"syd1/Contoso", "syd1/Fabrikam", "mel1/Contoso", "mel1/Northwind", "akl1/Tailspin"}},
		{"servers", &model.OrganizationFilter{Servers: []string{"akl1", "mel1"}}, []string{"mel1/Contoso", "mel1/Northwind", "akl1/Tailspin"}},
		{"nameContains, any case", &model.OrganizationFilter{NameContains: ptr("CONT")}, []string{"syd1/Contoso", "mel1/Contoso"}},
		{"nameContains and servers", &model.OrganizationFilter{NameContains: ptr("o"), Servers: []string{"mel1"}}, []string{"mel1/Contoso", "mel1/Northwind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var got []string
			var after *string
			for page := 0; page < 10; page++ {
				conn, err := e.r.Query().Organizations(e.ctx(admin), ptr(2), after, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				if conn.TotalCount != len(tt.want) {
					t.Errorf("totalCount = %d, want %d", conn.TotalCount, len(tt.want))
				}
				if conn.PageInfo.HasPreviousPage != (page > 0) {
					t.Errorf("page %d: hasPreviousPage = %v", page, conn.PageInfo.HasPreviousPage)
				}
				got = append(got, orgEdgeNames(conn)...)
				if !conn.PageInfo.HasNextPage {
					break
				}
				after = conn.PageInfo.EndCursor
			}
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// A cursor past the end is an empty last page, not an error.
	e := newEnv(t)
	conn, err := e.r.Query().Organizations(e.ctx(admin), ptr(2), ptr(testCursors.EncodeOffset(99)), nil)
	if err != nil || len(conn.Edges) != 0 || conn.PageInfo.HasNextPage {
		t.Errorf("past the end: %v, %v", conn, err)
	}
}

// A session's events: the filter (items only by default, types, statuses) and offset paging.
func TestEventsFilterAndPaging(t *testing.T) {
	sid := sessionID("syd1", "Contoso", 2)
	session := &model.RestoreSession{ServerName: "syd1", Upstream: upstream.RestoreSession{ID: sid, State: upstream.SessionStateStopped}}
	tests := []struct {
		name   string
		filter *model.RestoreEventFilter
		want   []string // event id suffixes
	}{
		{"items only by default", nil, []string{"e1", "e2", "e3"}},
		{"with the markers", &model.RestoreEventFilter{ItemsOnly: ptr(false)}, []string{"e0", "e1", "e2", "e3"}},
		{"types", &model.RestoreEventFilter{Types: []model.RestoreEventType{model.RestoreEventTypeSave}}, []string{"e2"}},
		{"statuses", &model.RestoreEventFilter{Statuses: []model.RestoreEventStatus{model.RestoreEventStatusSuccess, model.RestoreEventStatusWarning}}, []string{"e1", "e3"}},
		{"markers by type", &model.RestoreEventFilter{ItemsOnly: ptr(false), Types: []model.RestoreEventType{model.RestoreEventTypeNone}}, []string{"e0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var got []string
			var after *string
			for page := 0; page < 10; page++ {
				conn, err := e.r.RestoreSession().Events(e.ctx(contoso), session, ptr(2), after, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				if *conn.TotalCount != len(tt.want) {
					t.Errorf("totalCount = %d, want %d", *conn.TotalCount, len(tt.want))
				}
				for _, edge := range conn.Edges {
					if edge.Node.SessionID != sid || edge.Node.ServerName != "syd1" {
						t.Errorf("event %s belongs to %s/%s", edge.Node.Upstream.ID, edge.Node.ServerName, edge.Node.SessionID)
					}
					got = append(got, strings.TrimPrefix(edge.Node.Upstream.ID, sid+"-"))
				}
				if !conn.PageInfo.HasNextPage {
					break
				}
				after = conn.PageInfo.EndCursor
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if n := e.fleet["syd1"].calls["events"]; n != 1 {
				t.Errorf("%d events calls over the pages, want 1 (a stopped session's events are cached)", n)
			}
		})
	}
}

// A provider admin's filter naming a server the gateway does not have is a mistake: it says so,
// listing the servers. A tenant's narrows to nothing, as for a server it cannot see.
func TestUnknownServerInFilter(t *testing.T) {
	sydney := []string{"sydney", "syd1"}
	calls := []struct {
		name string
		call func(e *env, p *auth.Principal) (int, error)
	}{
		{"organizations", func(e *env, p *auth.Principal) (int, error) {
			c, err := e.r.Query().Organizations(e.ctx(p), nil, nil, &model.OrganizationFilter{Servers: sydney})
			if err != nil {
				return 0, err
			}
			return len(c.Edges), nil
		}},
		{"restoreSessions", func(e *env, p *auth.Principal) (int, error) {
			c, err := e.r.Query().RestoreSessions(e.ctx(p), nil, nil, &model.RestoreSessionFilter{Servers: []string{"sydney"}}, nil)
			if err != nil {
				return 0, err
			}
			return len(c.Edges), nil
		}},
	}
	for _, c := range calls {
		t.Run(c.name+"/admin", func(t *testing.T) {
			e := newEnv(t)
			_, err := c.call(e, admin)
			p := e.present(e.ctx(admin), err)
			if p.Extensions["code"] != CodeBadUserInput || !strings.Contains(p.Message, `unknown server ("sydney")`) ||
				!strings.Contains(p.Message, "the servers are "+strings.Join(serverNames, ", ")) {
				t.Errorf("got %q %v, want BAD_USER_INPUT naming sydney and the servers", p.Message, p.Extensions)
			}
			if n := e.calls(); n > 0 {
				t.Errorf("%d upstream calls", n)
			}
		})
		t.Run(c.name+"/tenant", func(t *testing.T) {
			e := newEnv(t)
			if _, err := c.call(e, contoso); err != nil {
				t.Errorf("tenant: %v, want a narrowed answer", err)
			}
		})
	}
	// A tenant's filter naming only unknown or invisible servers narrows to nothing.
	for _, servers := range [][]string{{"nosuch"}, {"akl1"}} {
		e := newEnv(t)
		sessions, err := e.r.Query().RestoreSessions(e.ctx(contoso), nil, nil, &model.RestoreSessionFilter{Servers: servers}, nil)
		if err != nil || len(sessions.Edges) != 0 {
			t.Errorf("tenant, servers %v: %v, %d sessions; want none", servers, err, len(sessions.Edges))
		}
		orgs, err := e.r.Query().Organizations(e.ctx(contoso), nil, nil, &model.OrganizationFilter{Servers: servers})
		if err != nil || len(orgs.Edges) != 0 || orgs.TotalCount != 0 {
			t.Errorf("tenant, servers %v: %v, %d organisations; want none", servers, err, len(orgs.Edges))
		}
	}
}
