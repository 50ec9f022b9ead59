package resolvers

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

const found = "found"

// Objects by id: out of scope answers exactly like missing (NOT_FOUND, same message, nothing
// else on the response), through node and through each typed field. Scope that can be decided
// from the id alone is decided before any upstream call.
func TestByIDScope(t *testing.T) {
	fab1 := sessionID("syd1", "Fabrikam", 1)
	con1 := sessionID("syd1", "Contoso", 1)
	melCon2 := sessionID("mel1", "Contoso", 2)
	tail0 := sessionID("akl1", "Tailspin", 0)
	tests := []struct {
		name    string
		p       *auth.Principal
		id      string
		want    string // found or an extensions.code
		noCalls bool   // decided without asking upstream
	}{
		{"admin: a server", admin, serverGID("akl1"), found, false},
		{"tenant: a server hosting its organisations", contoso, serverGID("mel1"), found, false},
		{"tenant: another server", contoso, serverGID("akl1"), CodeNotFound, true},
		{"admin: an unknown server", admin, serverGID("nosuch"), CodeNotFound, true},

		{"admin: an organisation", admin, orgGID("syd1", "f0a0-0001"), found, false},
		{"tenant: its organisation", contoso, orgGID("syd1", "c0a0-0001"), found, false},
		{"tenant: its organisation, id in upper case", contoso, orgGID("mel1", "C0A0-0002"), found, false},
		{"tenant: another organisation on its server", contoso, orgGID("syd1", "f0a0-0001"), CodeNotFound, true},
		{"tenant: an organisation on another server", contoso, orgGID("akl1", "t0a0-0001"), CodeNotFound, true},
		{"admin: a missing organisation", admin, orgGID("syd1", "dead-0001"), CodeNotFound, false},
		{"admin: an organisation on an unknown server", admin, orgGID("nosuch", "c0a0-0001"), CodeNotFound, true},
		{"admin: a detached organisation's id", admin, gid.ID{Kind: gid.KindDetachedOrganization, Server: "syd1", Upstream: goneOrg}.String(), CodeNotFound, true},

		{"admin: a session", admin, sessionGID("syd1", fab1), found, false},
		{"tenant: its session", contoso, sessionGID("syd1", con1), found, false},
		{"tenant: its session on a second server", contoso, sessionGID("mel1", melCon2), found, false},
		{"tenant: another tenant's session on its server", contoso, sessionGID("syd1", fab1), CodeNotFound, false},
		{"tenant: a session on another server", contoso, sessionGID("akl1", tail0), CodeNotFound, true},
		{"tenant: a session of a deleted organisation", contoso, sessionGID("syd1", goneSessionID), CodeNotFound, false},
		{"admin: a session of a deleted organisation", admin, sessionGID("syd1", goneSessionID), found, false},
		{"admin: a missing session", admin, sessionGID("syd1", "dead-0001"), CodeNotFound, false},
		{"admin: a session on an unknown server", admin, sessionGID("nosuch", con1), CodeNotFound, true},

		{"admin: an event", admin, eventGID("syd1", fab1, fab1+"-e2"), found, false},
		{"tenant: its event", contoso, eventGID("mel1", melCon2, melCon2+"-e1"), found, false},
		{"tenant: another tenant's event", contoso, eventGID("syd1", fab1, fab1+"-e1"), CodeNotFound, false},
		{"tenant: an event on another server", tailspin, eventGID("syd1", con1, con1+"-e1"), CodeNotFound, true},
		{"admin: an event served under a session it does not link to", admin, eventGID("syd1", goneSessionID, rogueEventID), CodeNotFound, false},
		{"admin: an event served without links (issue 11 item 13)", admin, eventGID("syd1", goneSessionID, linklessEventID), CodeNotFound, false},
		{"admin: a missing event", admin, eventGID("syd1", fab1, "dead-0001"), CodeNotFound, false},
		{"tenant: its session, another session's event id", contoso, eventGID("syd1", con1, fab1+"-e1"), CodeNotFound, false},

		{"malformed id", admin, "not an id!", CodeBadUserInput, true},
		{"unknown kind", admin, "WFlaOmE6Yg", CodeBadUserInput, true},
		{"no principal", nil, serverGID("syd1"), CodeUnauthenticated, true},
		{"no principal, session", nil, sessionGID("syd1", con1), CodeUnauthenticated, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, field := range byIDFields(tt.id) {
				e := newEnv(t)
				ctx := e.ctx(tt.p)
				got, err := field.lookup(e.r, ctx, tt.id)
				if c := e.code(err); tt.want == found && err != nil || tt.want != found && c != tt.want {
					t.Fatalf("%s: err = %v (code %q), want %s", field.name, err, c, tt.want)
				}
				if tt.want == found {
					if got == nil || !sameID(got.GetID(), tt.id) {
						t.Fatalf("%s: got %v, want the object %s", field.name, got, tt.id)
					}
				} else if got != nil && !reflect.ValueOf(got).IsNil() {
					t.Fatalf("%s: got %v alongside an error", field.name, got)
				}
				if tt.want == CodeNotFound {
					assertLikeMissing(t, e, ctx, err)
				}
				if errs := responseErrors(ctx); len(errs) > 0 {
					t.Errorf("%s: response errors %v, want none", field.name, errs)
				}
				if n := e.calls(); tt.noCalls && n > 0 {
					t.Errorf("%s: %d upstream calls, want none (scope is decided from the id)", field.name, n)
				}
			}
		})
	}
}

// sameID compares global ids; upstream ids compare case-insensitively, as VBO's UUIDs do.
func sameID(a, b string) bool {
	x, errA := gid.Parse(a)
	y, errB := gid.Parse(b)
	return errA == nil && errB == nil && x.Kind == y.Kind && x.Server == y.Server &&
		strings.EqualFold(x.Upstream, y.Upstream) && strings.EqualFold(x.Parent, y.Parent)
}

type byIDField struct {
	name   string
	lookup func(r *Resolver, ctx context.Context, id string) (model.Node, error)
}

// byIDFields are the fields that fetch an object of id's kind by id: node, and the typed field.
func byIDFields(id string) []byIDField {
	fields := []byIDField{{"node", func(r *Resolver, ctx context.Context, id string) (model.Node, error) {
		return r.Query().Node(ctx, id)
	}}}
	parsed, err := gid.Parse(id)
	if err != nil {
		return fields
	}
	switch parsed.Kind {
	case gid.KindOrganization:
		fields = append(fields, byIDField{"organization", func(r *Resolver, ctx context.Context, id string) (model.Node, error) {
			o, err := r.Query().Organization(ctx, id)
			if o == nil {
				return nil, err
			}
			return o, err
		}})
	case gid.KindRestoreSession:
		fields = append(fields, byIDField{"restoreSession", func(r *Resolver, ctx context.Context, id string) (model.Node, error) {
			s, err := r.Query().RestoreSession(ctx, id, nil)
			if s == nil {
				return nil, err
			}
			return s, err
		}})
	}
	return fields
}

// assertLikeMissing checks err reads exactly as a missing object does.
func assertLikeMissing(t *testing.T, e *env, ctx context.Context, err error) {
	t.Helper()
	got, want := e.present(ctx, err), e.present(ctx, ErrNotFound)
	if got.Message != want.Message || !reflect.DeepEqual(got.Extensions, want.Extensions) {
		t.Errorf("presented as %q %v, want exactly %q %v", got.Message, got.Extensions, want.Message, want.Extensions)
	}
}

// A tenant's session check that cannot read the organisations answers not found (the upstream
// error would confirm the session exists) and logs why; an admin needs no such check.
func TestSessionScopeWhenOrganisationsFail(t *testing.T) {
	con1 := sessionID("syd1", "Contoso", 1)
	for _, tt := range []struct {
		name string
		p    *auth.Principal
		want string
	}{
		{"tenant", contoso, CodeNotFound},
		{"admin", admin, found},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.fleet["syd1"].failWith("orgs", &upstream.Error{Server: "syd1", StatusCode: 503})
			ctx := e.ctx(tt.p)
			s, err := e.r.Query().RestoreSession(ctx, sessionGID("syd1", con1), nil)
			if tt.want == found {
				if err != nil || s == nil {
					t.Fatalf("got %v, %v; want the session", s, err)
				}
				return
			}
			if s != nil || e.code(err) != tt.want {
				t.Fatalf("got %v, %v; want %s", s, err, tt.want)
			}
			assertLikeMissing(t, e, ctx, err)
			if !strings.Contains(e.log.String(), "organisations unavailable") || !strings.Contains(e.log.String(), "request_id=req-1") {
				t.Errorf("log %q does not say why, with the request id", e.log.String())
			}
		})
	}
}

// Lists hold exactly the caller's scope: servers, organisations (every list that has them) and
// sessions; totalCount counts only those.
func TestListScope(t *testing.T) {
	tests := []struct {
		name    string
		p       *auth.Principal
		servers []string
		orgs    []string
	}{
		{"admin", admin, []string{"syd1", "mel1", "akl1"},
			[]string{"syd1/Contoso", "syd1/Fabrikam", "mel1/Contoso", "mel1/Northwind", "akl1/Tailspin"}},
		{"contoso", contoso, []string{"syd1", "mel1"}, []string{"syd1/Contoso", "mel1/Contoso"}},
		{"tailspin", tailspin, []string{"akl1"}, []string{"akl1/Tailspin"}},
		{"a tenant with no organisations", auth.NewTenantAuditor("x", "empty", nil), []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := e.ctx(tt.p)
			servers, err := e.r.Query().Servers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, s := range servers {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tt.servers) {
				t.Errorf("servers = %v, want %v", names, tt.servers)
			}

			conn, err := e.r.Query().Organizations(ctx, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := orgEdgeNames(conn); !slices.Equal(got, tt.orgs) || conn.TotalCount != len(tt.orgs) {
				t.Errorf("organizations = %v (totalCount %d), want %v", got, conn.TotalCount, tt.orgs)
			}
			viewerOrgs, err := e.r.Viewer().Organizations(ctx, &model.Viewer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := orgNamesOf(viewerOrgs); !slices.Equal(got, tt.orgs) {
				t.Errorf("viewer.organizations = %v, want %v", got, tt.orgs)
			}
			var perServer []string
			for _, s := range servers {
				c, err := e.r.VboServer().Organizations(ctx, s, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				perServer = append(perServer, orgEdgeNames(c)...)
			}
			if perServer == nil {
				perServer = []string{}
			}
			if !slices.Equal(perServer, tt.orgs) {
				t.Errorf("servers { organizations } = %v, want %v", perServer, tt.orgs)
			}

			sessions, err := e.r.Query().RestoreSessions(ctx, ptr(500), nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := wantSessions(e.fleet, tt.p, nil)
			if got := sessionIDs(sessions); !slices.Equal(got, want) {
				t.Errorf("restoreSessions = %v\nwant %v", got, want)
			}
			if sessions.PageInfo.HasNextPage {
				t.Error("hasNextPage on the only page")
			}
			if errs := responseErrors(ctx); len(errs) > 0 {
				t.Errorf("response errors %v", errs)
			}
		})
	}
}

// The total is known whenever the whole match fits in the page (hasNextPage false): an admin
// listing everything, and a tenant, whose list the gateway filters, counting only the tenant's
// own sessions (those on the page). A page with more to follow has no total.
func TestRestoreSessionsTotalCount(t *testing.T) {
	for _, tt := range []struct {
		name  string
		p     *auth.Principal
		first int
		want  *int // nil: the number of edges
		known bool
	}{
		{"admin, everything", admin, 500, ptr(len(allSessions(newFleet()))), true},
		{"tenant, everything", contoso, 500, nil, true},
		{"tenant, more to follow", contoso, 2, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			conn, err := e.r.Query().RestoreSessions(e.ctx(tt.p), ptr(tt.first), nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.known {
				if conn.TotalCount != nil || !conn.PageInfo.HasNextPage {
					t.Errorf("totalCount = %v, hasNextPage %v; want null with a next page", deref(conn.TotalCount), conn.PageInfo.HasNextPage)
				}
				return
			}
			want := tt.want
			if want == nil {
				want = ptr(len(conn.Edges))
			}
			if conn.PageInfo.HasNextPage || !reflect.DeepEqual(conn.TotalCount, want) || *want == 0 {
				t.Errorf("totalCount = %v (hasNextPage %v), want %v", deref(conn.TotalCount), conn.PageInfo.HasNextPage, deref(want))
			}
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// A session names its organisation; the organisation field resolves it (case-insensitively) or,
// when the server no longer has it, answers a detached stub. When the server's organisations
// cannot be read, the field still answers the stub and the response carries the server's error.
func TestSessionOrganization(t *testing.T) {
	con1 := sessionID("syd1", "Contoso", 1)
	tests := []struct {
		name, session string
		orgsDown      bool
		wantName      string
		wantDetached  bool
		wantErrors    []string
	}{
		{"its organisation", con1, false, "Contoso", false, nil},
		{"a deleted organisation: the name VBO recorded", goneSessionID, false, "GONE LTD", true, nil},
		{"organisations unavailable", con1, true, "CONTOSO", true, []string{CodeUpstreamUnavailable + " syd1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := e.ctx(admin)
			s, err := e.r.Query().RestoreSession(ctx, sessionGID("syd1", tt.session), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.orgsDown {
				e.fleet["syd1"].failWith("orgs", &upstream.Error{Server: "syd1", StatusCode: 503})
			}
			o, err := e.r.RestoreSession().Organization(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if o.Upstream.Name != tt.wantName || o.Detached != tt.wantDetached || o.ServerName != "syd1" {
				t.Errorf("organization = %+v, want %s detached=%v", o, tt.wantName, tt.wantDetached)
			}
			if got := responseErrors(ctx); !slices.Equal(got, tt.wantErrors) {
				t.Errorf("response errors = %v, want %v", got, tt.wantErrors)
			}
		})
	}
}

// The organisation's server field and an event's session field stay within scope.
func TestObjectFields(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx(contoso)
	o, err := e.r.Query().Organization(ctx, orgGID("mel1", "c0a0-0002"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.r.Organization().Server(ctx, o)
	if err != nil || s.Name != "mel1" || s.APIVersion != "v6" {
		t.Errorf("organization.server = %+v, %v; want mel1 v6", s, err)
	}
	con1 := sessionID("syd1", "Contoso", 1)
	ev := &model.RestoreEvent{ServerName: "syd1", SessionID: con1}
	if got, err := e.r.RestoreEvent().Session(ctx, ev); err != nil || got.Upstream.ID != con1 {
		t.Errorf("event.session = %v, %v; want %s", got, err, con1)
	}
	other := &model.RestoreEvent{ServerName: "syd1", SessionID: sessionID("syd1", "Fabrikam", 1)}
	if got, err := e.r.RestoreEvent().Session(ctx, other); got != nil || !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's event.session = %v, %v; want not found", got, err)
	}
}

// viewer and servers { status } describe the caller; only admins see server health.
func TestViewerAndStatus(t *testing.T) {
	status := func(name string) model.ServerStatus {
		if name == "mel1" {
			return model.ServerStatusDegraded
		}
		return model.ServerStatusUp
	}
	tests := []struct {
		name       string
		p          *auth.Principal
		statusFn   StatusFunc
		wantRole   model.Role
		wantTenant *string
		wantStatus *model.ServerStatus
	}{
		{"admin", admin, status, model.RoleProviderAdmin, nil, ptr(model.ServerStatusDegraded)},
		{"admin without a status source", admin, nil, model.RoleProviderAdmin, nil, ptr(model.ServerStatusUp)},
		{"tenant", contoso, status, model.RoleTenantAuditor, ptr("contoso"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.r.ServerStatus = tt.statusFn
			ctx := e.ctx(tt.p)
			v, err := e.r.Query().Viewer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v.Subject != tt.p.Subject || v.Role != tt.wantRole || !reflect.DeepEqual(v.Tenant, tt.wantTenant) {
				t.Errorf("viewer = %+v, want %s %s %v", v, tt.p.Subject, tt.wantRole, tt.wantTenant)
			}
			st, err := e.r.VboServer().Status(ctx, &model.VboServer{Name: "mel1"})
			if err != nil || !reflect.DeepEqual(st, tt.wantStatus) {
				t.Errorf("status = %v, %v; want %v", st, err, tt.wantStatus)
			}
		})
	}
	e := newEnv(t)
	ctx := e.ctx(nil)
	if _, err := e.r.Query().Viewer(ctx); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("viewer without a principal: %v, want ErrUnauthenticated", err)
	}
	if st, err := e.r.VboServer().Status(ctx, &model.VboServer{Name: "mel1"}); st != nil || err != nil {
		t.Errorf("status without a principal = %v, %v; want null", st, err)
	}
}

// Every list and field answers UNAUTHENTICATED without a principal, before any upstream call.
func TestUnauthenticatedLists(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx(nil)
	calls := map[string]func() error{
		"servers":       func() error { _, err := e.r.Query().Servers(ctx); return err },
		"organizations": func() error { _, err := e.r.Query().Organizations(ctx, nil, nil, nil); return err },
		"restoreSessions": func() error {
			_, err := e.r.Query().RestoreSessions(ctx, nil, nil, nil, nil)
			return err
		},
		"viewer.organizations": func() error { _, err := e.r.Viewer().Organizations(ctx, &model.Viewer{}); return err },
		"server.organizations": func() error {
			_, err := e.r.VboServer().Organizations(ctx, &model.VboServer{Name: "syd1"}, nil, nil)
			return err
		},
	}
	for name, call := range calls {
		if err := call(); e.code(err) != CodeUnauthenticated {
			t.Errorf("%s: %v, want UNAUTHENTICATED", name, err)
		}
	}
	if n := e.calls(); n > 0 {
		t.Errorf("%d upstream calls without a principal", n)
	}
}
