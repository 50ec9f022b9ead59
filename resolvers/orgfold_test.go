package resolvers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/vbo-gateway/vbo-gateway/graph"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// simGateway is one simulated VBO server ("syd1") behind the GraphQL schema, queried over HTTP
// with gqlgen's client: the upstream client, the loaders, the resolvers, the error presenter and
// the partial-result dedupe as the gateway runs them. principals, given the simulator's
// organisations (after renames), maps the X-Test-Principal header to the caller.
type simGateway struct {
	sim  *vbosim.Server
	orgs []upstream.Organization
	h    http.Handler
}

func startSimGateway(t *testing.T, o vbosim.Options, renames map[int]string, principals func([]upstream.Organization) map[string]*auth.Principal) *simGateway {
	t.Helper()
	o.Name, o.Username, o.Password = "syd1", "svc", "pw"
	o.Now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	sim := vbosim.New(o)
	for i, name := range renames { // organisation i (server order) is renamed before serving
		if err := sim.RenameOrganization(sim.Organizations()[i].ID, name); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	c, err := upstream.NewClient(ts.URL, upstream.ClientOptions{Name: "syd1", APIVersion: sim.APIVersion(), Username: "svc", Password: "pw",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "syd1", APIVersion: sim.APIVersion(), Client: c}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{Backend: b, Logger: logger, Cursors: testCursors}}))
	srv.AddTransport(transport.POST{})
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp != nil {
			resp.Errors = DedupeServerErrors(resp.Errors)
		}
		return resp
	})
	orgs := sim.Organizations()
	callers := principals(orgs)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := callers[r.Header.Get("X-Test-Principal")]
		if p == nil {
			http.Error(w, "no such test principal", http.StatusUnauthorized)
			return
		}
		ctx := loaders.With(auth.WithPrincipal(requestid.With(r.Context(), "req-1"), p), b.New())
		srv.ServeHTTP(w, r.WithContext(ctx))
	})
	return &simGateway{sim: sim, orgs: orgs, h: h}
}

// query runs q as the principal named who; errs are the response's errors.
func (g *simGateway) query(t *testing.T, who, q string, vars map[string]any, out any) (errs []gqlErr) {
	t.Helper()
	opts := []client.Option{client.AddHeader("X-Test-Principal", who)}
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := client.New(g.h).RawPost(q, opts...)
	if err != nil {
		t.Fatalf("post as %s: %v", who, err)
	}
	if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			t.Fatalf("errors: %v: %s", err, resp.Errors)
		}
	}
	data, err := json.Marshal(resp.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return errs
}

type gqlErr struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type foldSession struct {
	ID           string `json:"id"`
	UpstreamID   string `json:"upstreamId"`
	Organization struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Detached  bool   `json:"detached"`
		Ambiguous bool   `json:"ambiguous"`
	} `json:"organization"`
}

type foldConn struct {
	Edges []struct {
		Node foldSession `json:"node"`
	} `json:"edges"`
}

type foldOrg struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	NameAmbiguous   bool     `json:"nameAmbiguous"`
	RestoreSessions foldConn `json:"restoreSessions"`
}

const foldTenantQuery = `{
  viewer { organizations { id name nameAmbiguous restoreSessions(first: 500) { edges { node { id upstreamId organization { id name detached ambiguous } } } } } }
  restoreSessions(first: 500) { edges { node { id upstreamId organization { id name detached ambiguous } } } }
}`

// Issue 20 M3 and L6, end to end: a neighbour organisation on the same VBO server whose name is
// a Unicode case variant of a tenant's (the long s U+017F, the Kelvin sign U+212A) makes the
// name ambiguous for both, under full case folding: neither tenant gets the other's sessions
// (nor, now, its own), and each is told, on its own organisation (nameAmbiguous) and with an
// ORG_NAME_AMBIGUOUS error naming only its own organisation, instead of seeing its sessions
// vanish with no error. Provider admins see the sessions, flagged ambiguous. An unrelated name
// (the control) changes nothing.
func TestOrgNameCaseVariantsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, victim, neighbour string
		ambiguous               bool
	}{
		{"long s", "Star Ltd", "ſtar Ltd", true},
		{"Kelvin sign", "Kiwi Ltd", "\u212Aiwi Ltd", true},
		{"Kelvin sign and long s", "Kiosk Ltd", "\u212Aioſk Ltd", true},
		{"unrelated names", "Star Ltd", "Stark Ltd", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Org 0 is the victim's, org 1 its neighbour's; the simulator's sessions spread over all.
			g := startSimGateway(t, vbosim.Options{Orgs: 4, Sessions: 240}, map[int]string{0: tc.victim, 1: tc.neighbour},
				func(orgs []upstream.Organization) map[string]*auth.Principal {
					return map[string]*auth.Principal{
						"victim":    auth.NewTenantAuditor("v@star", "tenant-v", []auth.OrgRef{{Server: "syd1", OrgID: orgs[0].ID}}),
						"neighbour": auth.NewTenantAuditor("n@star", "tenant-n", []auth.OrgRef{{Server: "syd1", OrgID: orgs[1].ID}}),
						"admin":     admin,
					}
				})
			victim, neighbour := g.orgs[0], g.orgs[1]
			if victim.Name != tc.victim || neighbour.Name != tc.neighbour {
				t.Fatalf("simulator organisations %q, %q; want %q, %q", victim.Name, neighbour.Name, tc.victim, tc.neighbour)
			}
			own := map[string]string{} // upstream session id -> organisation id, by the name VBO recorded
			for _, s := range g.sim.Sessions() {
				switch s.Organization {
				case victim.Name:
					own[s.ID] = victim.ID
				case neighbour.Name:
					own[s.ID] = neighbour.ID
				}
			}
			if len(own) == 0 {
				t.Fatal("the simulator gave the two organisations no sessions")
			}
			for who, mine := range map[string]upstream.Organization{"victim": victim, "neighbour": neighbour} {
				other := neighbour
				if mine.ID == neighbour.ID {
					other = victim
				}
				myGID := gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: mine.ID}.String()
				otherGID := gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: other.ID}.String()
				var out struct {
					Viewer struct {
						Organizations []foldOrg `json:"organizations"`
					} `json:"viewer"`
					RestoreSessions foldConn `json:"restoreSessions"`
				}
				errs := g.query(t, who, foldTenantQuery, nil, &out)
				if len(out.Viewer.Organizations) != 1 || out.Viewer.Organizations[0].ID != myGID {
					t.Fatalf("%s: viewer.organizations = %+v; want its own organisation only", who, out.Viewer.Organizations)
				}
				org := out.Viewer.Organizations[0]
				if org.NameAmbiguous != tc.ambiguous {
					t.Errorf("%s: own organisation %q nameAmbiguous = %v, want %v (the neighbour is %q)", who, org.Name, org.NameAmbiguous, tc.ambiguous, other.Name)
				}
				// Never the other tenant's sessions; its own only while its name is its own.
				for _, conn := range []foldConn{out.RestoreSessions, org.RestoreSessions} {
					for _, e := range conn.Edges {
						if own[e.Node.UpstreamID] != mine.ID || e.Node.Organization.ID != myGID {
							t.Fatalf("%s sees session %s of organisation %s (%q): not its own", who, e.Node.UpstreamID, e.Node.Organization.ID, e.Node.Organization.Name)
						}
					}
				}
				n := 0
				for _, o := range own {
					if o == mine.ID {
						n++
					}
				}
				want := n
				if tc.ambiguous {
					want = 0
				}
				if got := len(out.RestoreSessions.Edges); got != want || len(org.RestoreSessions.Edges) != want {
					t.Errorf("%s: restoreSessions %d, organization.restoreSessions %d; want %d of its %d", who, got, len(org.RestoreSessions.Edges), want, n)
				}
				// Told why, about its own organisation only (deduplicated: one error).
				var told int
				for _, e := range errs {
					if e.Extensions["code"] != CodeOrgNameAmbiguous || e.Extensions["server"] != "syd1" || e.Extensions["organizationId"] != myGID {
						t.Errorf("%s: unexpected error %+v", who, e)
						continue
					}
					if b, _ := json.Marshal(e); strings.Contains(string(b), otherGID) || strings.Contains(string(b), other.ID) || strings.Contains(string(b), other.Name) {
						t.Errorf("%s: the error names the other organisation: %s", who, b)
					}
					told++
				}
				if tc.ambiguous && told != 1 || !tc.ambiguous && len(errs) != 0 {
					t.Errorf("%s: errors %+v; want %d ORG_NAME_AMBIGUOUS error naming %s", who, errs, map[bool]int{true: 1}[tc.ambiguous], myGID)
				}
				// node() does not find a session of its own organisation's (now shared) name.
				for sid, o := range own {
					if o != mine.ID {
						continue
					}
					var node struct {
						Node *foldSession `json:"node"`
					}
					g.query(t, who, `query($id: ID!) { node(id: $id) { ... on RestoreSession { id upstreamId } } }`,
						map[string]any{"id": gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: sid}.String()}, &node)
					if (node.Node != nil) == tc.ambiguous {
						t.Errorf("%s: node(session %s) = %v; want found %v", who, sid, node.Node, !tc.ambiguous)
					}
					break
				}
			}

			// The provider admin sees every session, the colliding ones flagged, and both
			// organisations' nameAmbiguous.
			var adm struct {
				Organizations struct {
					Edges []struct {
						Node foldOrg `json:"node"`
					} `json:"edges"`
				} `json:"organizations"`
				RestoreSessions foldConn `json:"restoreSessions"`
			}
			if errs := g.query(t, "admin", `{ organizations(first: 50) { edges { node { id name nameAmbiguous } } }
			  restoreSessions(first: 500) { edges { node { id upstreamId organization { id name detached ambiguous } } } } }`, nil, &adm); len(errs) != 0 {
				t.Fatalf("admin: errors %+v", errs)
			}
			for _, e := range adm.Organizations.Edges {
				want := tc.ambiguous && (e.Node.Name == tc.victim || e.Node.Name == tc.neighbour)
				if e.Node.NameAmbiguous != want {
					t.Errorf("admin: organisation %q nameAmbiguous = %v, want %v", e.Node.Name, e.Node.NameAmbiguous, want)
				}
			}
			flagged := 0
			for _, e := range adm.RestoreSessions.Edges {
				if _, ok := own[e.Node.UpstreamID]; ok && e.Node.Organization.Ambiguous != tc.ambiguous {
					t.Errorf("admin: session %s of %q: organization ambiguous = %v, want %v", e.Node.UpstreamID, e.Node.Organization.Name, e.Node.Organization.Ambiguous, tc.ambiguous)
				}
				if e.Node.Organization.Ambiguous {
					flagged++
				}
			}
			if tc.ambiguous && flagged != len(own) {
				t.Errorf("admin: %d sessions flagged ambiguous, want the two organisations' %d", flagged, len(own))
			}
		})
	}
}

// Issue 20 M3: the watch archives a session naming a shared name under no organisation, so its
// report rows (and rule deliveries) are missing for the tenant; restoreAudit still answers from
// the archive and tells a tenant whose organisation's name another organisation of its server
// now shares (under Unicode case folding) with ORG_NAME_AMBIGUOUS, naming only its own
// organisation. An admin without an organisation filter is not told (it sees those rows under
// no organisation); with a filter naming the organisation, it is.
func TestRestoreAuditTellsAmbiguousOrgName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, neighbour string
		p               *auth.Principal
		filter          *model.RestoreSessionFilter
		want            bool
	}{
		{"long s", "Contoſo", contoso, nil, true},
		{"Kelvin sign", "\u212Aontoso", contoso, nil, true},    // against "Kontoso" below
		{"unrelated name", "Contoso Two", contoso, nil, false}, // no collision: no error
		{"admin, no filter", "Contoſo", admin, nil, false},
		{"admin, the organisation", "Contoſo", admin, &model.RestoreSessionFilter{OrganizationIds: []string{
			gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: "c0a0-0001"}.String()}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, audit := rulesEnv(t)
			syd := e.fleet["syd1"]
			syd.orgs = slices.Clone(syd.orgs) // the fixture's slice is shared
			if strings.HasPrefix(tc.neighbour, "\u212A") {
				syd.orgs[0].Name = "Kontoso"
			}
			syd.orgs = append(syd.orgs, upstream.Organization{ID: "x0a0-0001", Name: tc.neighbour})
			ctx := e.ctx(tc.p)
			res, err := e.r.Query().RestoreAudit(ctx, t0.Add(-time.Hour), t0, tc.filter, nil)
			if err != nil || res == nil || audit.calls != 1 {
				t.Fatalf("restoreAudit = %v, %v after %d archive calls; want the report", res, err, audit.calls)
			}
			var got []string
			for _, ge := range graphql.GetErrors(ctx) {
				got = append(got, fmt.Sprint(ge.Extensions["code"], " ", ge.Extensions["server"], " ", ge.Extensions["organizationId"]))
				if strings.Contains(ge.Message, "x0a0-0001") || strings.Contains(ge.Message, tc.neighbour) {
					t.Errorf("the error names the neighbour: %q", ge.Message)
				}
			}
			var want []string
			if tc.want {
				want = []string{CodeOrgNameAmbiguous + " syd1 " + gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: "c0a0-0001"}.String()}
			}
			if !slices.Equal(got, want) {
				t.Errorf("errors %q, want %q", got, want)
			}
		})
	}
}
