package resolvers

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// collisionEnv is one server whose organisations' names collide: "Contoso" and "contoso" (two
// tenants' organisations, differing only in case), two organisations both named "Twin", and
// "Unique", whose sessions record the name in another case.
func collisionEnv(t *testing.T) (*env, map[string][]string) {
	t.Helper()
	f := &fakeVBO{name: "syd1", events: map[string][]upstream.RestoreSessionEvent{}, orgs: []upstream.Organization{
		{ID: "a-1", Name: "Contoso"}, {ID: "b-1", Name: "contoso"},
		{ID: "t-1", Name: "Twin"}, {ID: "t-2", Name: "Twin"},
		{ID: "u-1", Name: "Unique"},
	}}
	byName := map[string][]string{}
	n := 0
	for _, name := range []string{"Contoso", "contoso", "Twin", "UNIQUE"} {
		for k := range 3 {
			s := upstream.RestoreSession{ID: sessionID("syd1", name, k) + "-" + name, Organization: name,
				CreationTime: t0.Add(-time.Duration(n) * time.Minute), State: upstream.SessionStateStopped}
			n++
			f.sessions = append(f.sessions, s)
			byName[name] = append(byName[name], s.ID)
		}
	}
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "syd1", APIVersion: "v6", Client: f}}, loaders.Config{ListingTTL: -1, PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, r: &Resolver{Backend: b, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Cursors: testCursors},
		fleet: map[string]*fakeVBO{"syd1": f}, log: &bytes.Buffer{}}, byName
}

// Issue 11 item 12: organisations whose names collide under the join (here: "Contoso" and
// "contoso" of two tenants, and two organisations named "Twin") do not get each other's
// sessions: such a session belongs to neither tenant (lists, node, organization.restoreSessions)
// and provider admins see it with an ambiguous, detached organisation. A unique name still
// joins whatever case the session recorded it in.
func TestCollidingOrganisationNames(t *testing.T) {
	e, byName := collisionEnv(t)
	tenantA := auth.NewTenantAuditor("a@contoso", "tenant-a", []auth.OrgRef{{Server: "syd1", OrgID: "a-1"}})
	tenantB := auth.NewTenantAuditor("b@contoso", "tenant-b", []auth.OrgRef{{Server: "syd1", OrgID: "b-1"}})
	twins := auth.NewTenantAuditor("t@twin", "tenant-t", []auth.OrgRef{{Server: "syd1", OrgID: "t-1"}})
	unique := auth.NewTenantAuditor("u@unique", "tenant-u", []auth.OrgRef{{Server: "syd1", OrgID: "u-1"}})

	listed := func(p *auth.Principal) []string {
		conn, err := e.r.Query().RestoreSessions(e.ctx(p), ptr(100), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ed := range conn.Edges {
			ids = append(ids, ed.Node.Upstream.ID)
		}
		slices.Sort(ids)
		return ids
	}
	for name, p := range map[string]*auth.Principal{"tenant A (Contoso)": tenantA, "tenant B (contoso)": tenantB, "a Twin's tenant": twins} {
		if got := listed(p); len(got) != 0 {
			t.Errorf("%s lists %v, want none: their names collide", name, got)
		}
		for _, sid := range append(slices.Clone(byName["Contoso"]), append(byName["contoso"], byName["Twin"]...)...) {
			if _, err := e.r.Query().Node(e.ctx(p), sessionGID("syd1", sid)); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: node(%s) = %v, want not found", name, sid, err)
			}
		}
	}
	for _, tc := range []struct {
		p     *auth.Principal
		orgID string
	}{{tenantA, "a-1"}, {tenantB, "b-1"}, {twins, "t-1"}} {
		org, err := e.r.Query().Organization(e.ctx(tc.p), orgGID("syd1", tc.orgID))
		if err != nil {
			t.Fatalf("own organisation %s: %v", tc.orgID, err)
		}
		conn, err := e.r.Organization().RestoreSessions(e.ctx(tc.p), org, ptr(50), nil, nil, nil)
		if err != nil || len(conn.Edges) != 0 {
			t.Errorf("organization(%s).restoreSessions = %d sessions, %v; want none", tc.orgID, len(conn.Edges), err)
		}
	}
	want := slices.Sorted(slices.Values(byName["UNIQUE"]))
	if got := listed(unique); !slices.Equal(got, want) {
		t.Errorf("tenant of Unique lists %v, want %v (its sessions record UNIQUE)", got, want)
	}

	if got := listed(admin); len(got) != 12 {
		t.Errorf("admin lists %d sessions, want all 12", len(got))
	}
	for name, want := range map[string]model.Organization{
		"Contoso": {Detached: true, Ambiguous: true}, "contoso": {Detached: true, Ambiguous: true},
		"Twin": {Detached: true, Ambiguous: true}, "UNIQUE": {Upstream: upstream.Organization{ID: "u-1"}},
	} {
		s, err := e.r.Query().RestoreSession(e.ctx(admin), sessionGID("syd1", byName[name][0]), nil)
		if err != nil {
			t.Fatalf("admin: session of %s: %v", name, err)
		}
		org, err := e.r.RestoreSession().Organization(e.ctx(admin), s)
		if err != nil || org.Detached != want.Detached || org.Ambiguous != want.Ambiguous || org.Upstream.ID != want.Upstream.ID {
			t.Errorf("admin: organisation of a session naming %s = %+v, %v; want detached %v, ambiguous %v, id %q",
				name, org, err, want.Detached, want.Ambiguous, want.Upstream.ID)
		}
	}
}
