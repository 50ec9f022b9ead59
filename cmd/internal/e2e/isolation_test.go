package e2e_test

// Cross-tenant isolation: every tenant of the demo fleet tries every ID it does not own, through
// every query root and ID-taking field, and every list; nothing of another tenant may show, and
// an out-of-scope ID must answer exactly like a missing one.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"

	"github.com/99designs/gqlgen/client"
	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

var isoNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// isoEnv is the demo fleet behind a gateway authenticating like cmd/vbo-gateway does.
type isoEnv struct {
	t     *testing.T
	fleet *demo.Fleet
	gw    *app.Gateway
	log   *lockedBuffer
	authn *authn.Authenticator

	listenOnce sync.Once
	url        string // the gateway on loopback, for websocket and SSE clients (listen)
}

// isoStart starts the demo fleet and the gateway exactly as cmd/vbo-gateway does. jwt, when
// non-nil, is added to the demo's API keys.
func isoStart(t *testing.T, jwt *config.JWT, prepare func(*demo.Fleet)) *isoEnv {
	t.Helper()
	fleet, err := demo.Start(demo.Options{Orgs: 6, Sessions: 150, Now: isoNow})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(fleet.Close)
	if prepare != nil {
		prepare(fleet)
	}
	fleet.Config = fleet.Config.WithCursorSecret([]byte(testCursorSecret))
	cfg := fleet.Config
	cfg.Auth.JWT = jwt
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	gw, err := runGateway(t, ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	return &isoEnv{t: t, fleet: fleet, gw: gw, log: logs, authn: gw.Authenticator}
}

func (e *isoEnv) client(key string) *client.Client {
	return client.New(e.gw.Handler, client.Path("/graphql"), client.AddHeader("Authorization", "Bearer "+key))
}

// isoCaller sends one GraphQL operation as one caller: the gqlgen client over HTTP, or a
// graphql-transport-ws socket sending it as a subscribe operation (isolation_ws_test.go). Every
// check below runs through it, so the same table of query shapes runs over each transport.
type isoCaller interface {
	RawPost(query string, options ...client.Option) (*client.Response, error)
}

// isoTransport connects a tenant's caller over one transport.
type isoTransport struct {
	name string
	dial func(t *testing.T, e *isoEnv, key string) isoCaller
}

// isoTransports are the transports the isolation suite runs every query shape over.
var isoTransports = []isoTransport{
	{"http", func(_ *testing.T, e *isoEnv, key string) isoCaller { return e.client(key) }},
	{"websocket", isoDialWS},
}

type isoErr struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e isoErr) code() string { c, _ := e.Extensions["code"].(string); return c }

// shape is what a caller can compare between two errors: everything but the path.
func (e isoErr) shape() string {
	b, _ := json.Marshal(map[string]any{"message": e.Message, "extensions": e.Extensions})
	return string(b)
}

func isoRun(t *testing.T, c isoCaller, q string, vars map[string]any) (map[string]json.RawMessage, []isoErr) {
	t.Helper()
	var opts []client.Option
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := c.RawPost(q, opts...)
	if err != nil {
		t.Fatalf("post: %v\n%s", err, q)
	}
	raw, err := json.Marshal(resp.Data)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatalf("data: %v: %s", err, raw)
	}
	var errs []isoErr
	if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			t.Fatalf("errors: %v: %s", err, resp.Errors)
		}
	}
	return data, errs
}

func isoMust(t *testing.T, c isoCaller, q string, vars map[string]any, out any) {
	t.Helper()
	data, errs := isoRun(t, c, q, vars)
	if len(errs) > 0 {
		t.Fatalf("errors: %+v\nquery: %s", errs, q)
	}
	b, _ := json.Marshal(data)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode: %v: %s", err, b)
	}
}

// ---- the admin's view of the fleet ----

type isoOrg struct{ ID, UpstreamID, Name, Server string }

type isoSession struct {
	ID, UpstreamID, Server, OrgID string
	Detached                      bool
	Events                        []string
}

type isoWorld struct {
	orgs     []isoOrg
	orgByID  map[string]isoOrg
	sessions []isoSession
	servers  []string
}

type isoConn[T any] struct {
	TotalCount *int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
	Edges []struct {
		Node T `json:"node"`
	} `json:"edges"`
}

type isoIDNode struct {
	ID string `json:"id"`
}

func (c isoConn[T]) nodes() []T {
	out := make([]T, 0, len(c.Edges))
	for _, e := range c.Edges {
		out = append(out, e.Node)
	}
	return out
}

func isoIDs(nodes []isoIDNode) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.ID)
	}
	sort.Strings(out)
	return out
}

const isoSessionPage = `query($after: String, $filter: RestoreSessionFilter) {
  restoreSessions(first: 50, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id upstreamId
      organization { id detached server { name } }
      events(first: 4, filter: {itemsOnly: false}) { edges { node { id } } } } }
  }
}`

type isoSessionNode struct {
	ID           string `json:"id"`
	UpstreamID   string `json:"upstreamId"`
	Organization struct {
		ID       string `json:"id"`
		Detached bool   `json:"detached"`
		Server   struct {
			Name string `json:"name"`
		} `json:"server"`
	} `json:"organization"`
	Events isoConn[isoIDNode] `json:"events"`
}

// isoSessions walks every page of restoreSessions for a caller.
func isoSessions(t *testing.T, c isoCaller, filter map[string]any) ([]isoSessionNode, []*int) {
	t.Helper()
	var all []isoSessionNode
	var totals []*int
	var after any
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("restoreSessions does not end")
		}
		var out struct {
			RestoreSessions isoConn[isoSessionNode] `json:"restoreSessions"`
		}
		vars := map[string]any{"after": after}
		if filter != nil {
			vars["filter"] = filter
		}
		isoMust(t, c, isoSessionPage, vars, &out)
		all = append(all, out.RestoreSessions.nodes()...)
		totals = append(totals, out.RestoreSessions.TotalCount)
		if !out.RestoreSessions.PageInfo.HasNextPage {
			return all, totals
		}
		after = *out.RestoreSessions.PageInfo.EndCursor
	}
}

func (e *isoEnv) world(admin isoCaller) *isoWorld {
	t := e.t
	w := &isoWorld{orgByID: map[string]isoOrg{}}
	var out struct {
		Servers []struct {
			Name   string  `json:"name"`
			Status *string `json:"status"`
		} `json:"servers"`
		Organizations isoConn[struct {
			ID         string `json:"id"`
			UpstreamID string `json:"upstreamId"`
			Name       string `json:"name"`
			Server     struct {
				Name string `json:"name"`
			} `json:"server"`
		}] `json:"organizations"`
	}
	isoMust(t, admin, `{ servers { name status }
	  organizations(first: 100) { totalCount edges { node { id upstreamId name server { name } } } } }`, nil, &out)
	for _, s := range out.Servers {
		if s.Status == nil {
			t.Errorf("admin sees no status for %s", s.Name)
		}
		w.servers = append(w.servers, s.Name)
	}
	for _, o := range out.Organizations.nodes() {
		org := isoOrg{ID: o.ID, UpstreamID: o.UpstreamID, Name: o.Name, Server: o.Server.Name}
		w.orgs = append(w.orgs, org)
		w.orgByID[o.ID] = org
	}
	wantOrgs := 0
	for _, sim := range e.fleet.Sims {
		wantOrgs += len(sim.Organizations())
	}
	if len(w.orgs) != wantOrgs || *out.Organizations.TotalCount != wantOrgs {
		t.Fatalf("admin sees %d organisations (totalCount %d), the simulators have %d", len(w.orgs), *out.Organizations.TotalCount, wantOrgs)
	}
	nodes, _ := isoSessions(t, admin, nil)
	wantSessions := 0
	for _, sim := range e.fleet.Sims {
		wantSessions += len(sim.Sessions())
	}
	if len(nodes) != wantSessions {
		t.Fatalf("admin sees %d sessions, the simulators have %d", len(nodes), wantSessions)
	}
	for _, n := range nodes {
		s := isoSession{ID: n.ID, UpstreamID: n.UpstreamID, Server: n.Organization.Server.Name,
			OrgID: n.Organization.ID, Detached: n.Organization.Detached}
		for _, ev := range n.Events.nodes() {
			s.Events = append(s.Events, ev.ID)
		}
		w.sessions = append(w.sessions, s)
	}
	return w
}

// isoTenant is what a tenant owns according to the config, resolved against the admin's view
// (independently of the gateway's Directory).
type isoTenant struct {
	id, key  string
	orgs     map[string]bool // global org id -> owned
	servers  []string        // in display order
	sessions map[string]bool // global session id -> owned
}

func (w *isoWorld) tenant(t *testing.T, ct config.Tenant, key string) *isoTenant {
	tn := &isoTenant{id: ct.ID, key: key, orgs: map[string]bool{}, sessions: map[string]bool{}}
	for _, o := range ct.Organizations {
		found := false
		for _, org := range w.orgs {
			if org.Server == o.Server && strings.EqualFold(org.Name, o.Name) {
				tn.orgs[org.ID], found = true, true
			}
		}
		if !found {
			t.Fatalf("tenant %s: organisation %s/%s not in the admin's view", ct.ID, o.Server, o.Name)
		}
	}
	for _, s := range w.servers {
		for id := range tn.orgs {
			if w.orgByID[id].Server == s && !slices.Contains(tn.servers, s) {
				tn.servers = append(tn.servers, s)
			}
		}
	}
	for _, s := range w.sessions {
		if !s.Detached && tn.orgs[s.OrgID] {
			tn.sessions[s.ID] = true
		}
	}
	return tn
}

func isoRandomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ---- probes ----

// isoProbe asks for one ID through one root field.
type isoProbe struct {
	root  string // node | organization | restoreSession
	id    string
	label string
}

var isoSelections = map[string]string{
	"node": `{ id __typename ...isoOrgFields ... on RestoreSession { name initiatedBy organization { name } }
	  ... on RestoreEvent { itemName session { id } } ... on VboServer { name } }`,
	"organization":   `{ id ...isoOrgFields ... on Organization { restoreSessions(first: 1) { edges { node { id } } } } }`,
	"restoreSession": `{ id name initiatedBy organization { id name } events(first: 1) { edges { node { id } } } }`,
}

const isoFragments = `
fragment isoOrgFields on Organization { name officeName upstreamId }`

// isoProber runs probes in aliased batches and counts leaks.
type isoProber struct {
	t       *testing.T
	c       isoCaller
	who     string
	ref     string // the shape of the error a missing ID gets
	probes  int
	leaks   int
	reports int
}

func (p *isoProber) leak(format string, args ...any) {
	p.leaks++
	if p.reports < 20 {
		p.reports++
		p.t.Errorf("LEAK (%s): "+format, append([]any{p.who}, args...)...)
	}
}

// run sends probes (at most 25 aliases a request) and checks each answers null with exactly
// the missing-ID error.
func (p *isoProber) run(probes []isoProbe) {
	p.t.Helper()
	for len(probes) > 0 {
		n := min(len(probes), 25)
		batch := probes[:n]
		probes = probes[n:]
		var q, params strings.Builder
		vars := map[string]any{}
		for i, pr := range batch {
			fmt.Fprintf(&params, "$v%d: ID!, ", i)
			fmt.Fprintf(&q, "  p%d: %s(id: $v%d) %s\n", i, pr.root, i, isoSelections[pr.root])
			vars[fmt.Sprintf("v%d", i)] = pr.id
		}
		query := "query(" + strings.TrimSuffix(params.String(), ", ") + ") {\n" + q.String() + "}" + isoFragments
		data, errs := isoRun(p.t, p.c, query, vars)
		byAlias := map[string][]isoErr{}
		for _, e := range errs {
			alias := ""
			if len(e.Path) > 0 {
				alias, _ = e.Path[0].(string)
			}
			byAlias[alias] = append(byAlias[alias], e)
		}
		if len(byAlias[""]) > 0 {
			p.t.Fatalf("request-level errors: %+v\n%s", byAlias[""], query)
		}
		for i, pr := range batch {
			p.probes++
			alias := fmt.Sprintf("p%d", i)
			if v := data[alias]; string(v) != "null" {
				p.leak("%s(%s) [%s] answered %s", pr.root, pr.id, pr.label, v)
				continue
			}
			es := byAlias[alias]
			if len(es) != 1 || es[0].code() != "NOT_FOUND" || es[0].shape() != p.ref || len(es[0].Path) != 1 {
				p.leak("%s(%s) [%s] errors %+v differ from a missing ID's %s", pr.root, pr.id, pr.label, es, p.ref)
			}
		}
	}
}

// missingRef returns the error shape of missing IDs, checking every root and kind agrees.
func missingRef(t *testing.T, c isoCaller, servers []string) string {
	t.Helper()
	var probes []isoProbe
	for _, s := range append(slices.Clone(servers), "nosuch1") {
		u := isoRandomUUID()
		org := gid.ID{Kind: gid.KindOrganization, Server: s, Upstream: u}.String()
		sess := gid.ID{Kind: gid.KindRestoreSession, Server: s, Upstream: u}.String()
		ev := gid.ID{Kind: gid.KindRestoreEvent, Server: s, Parent: u, Upstream: isoRandomUUID()}.String()
		probes = append(probes,
			isoProbe{"organization", org, "missing org"}, isoProbe{"node", org, "missing org"},
			isoProbe{"restoreSession", sess, "missing session"}, isoProbe{"node", sess, "missing session"},
			isoProbe{"node", ev, "missing event"},
			isoProbe{"node", gid.ID{Kind: gid.KindDetachedOrganization, Server: s, Upstream: "Nobody Ltd"}.String(), "detached org"})
	}
	probes = append(probes, isoProbe{"node", gid.ID{Kind: gid.KindServer, Server: "nosuch1"}.String(), "missing server"})
	// Learn the shape from the first, then require all to agree.
	_, errs := isoRun(t, c, `query($id: ID!) { organization(id: $id) { id } }`, map[string]any{"id": probes[0].id})
	if len(errs) != 1 || errs[0].code() != "NOT_FOUND" {
		t.Fatalf("missing organisation: errors %+v", errs)
	}
	p := &isoProber{t: t, c: c, who: "missing-reference", ref: errs[0].shape()}
	p.run(probes)
	if p.leaks > 0 {
		t.Fatalf("missing IDs do not all answer alike")
	}
	return p.ref
}

func TestIsoTenantIsolation(t *testing.T) {
	t.Parallel()
	var detachedID, workingID string
	e := isoStart(t, nil, func(f *demo.Fleet) {
		// An untenanted session of an organisation that no longer exists (a detached stub), on
		// a server tenant 1 can see, and a running session of tenant 2's organisation on the
		// server tenant 1 shares with it.
		mel := f.Sims[demo.Names[1]]
		s := mel.AddSession(upstream.RestoreSession{Organization: "Deleted Org Ltd", CreationTime: isoNow.Add(-time.Hour)})
		detachedID = gid.ID{Kind: gid.KindRestoreSession, Server: demo.Names[1], Upstream: s.ID}.String()
		syd := f.Sims[demo.Names[0]]
		t2org := syd.Organizations()[2].Name
		s = syd.AddSession(upstream.RestoreSession{Organization: t2org, CreationTime: isoNow.Add(-30 * time.Minute)})
		if _, err := syd.AddEvent(s.ID, upstream.RestoreSessionEvent{ItemName: "secret.docx"}); err != nil {
			t.Fatal(err)
		}
		workingID = gid.ID{Kind: gid.KindRestoreSession, Server: demo.Names[0], Upstream: s.ID}.String()
	})
	admin := e.client(demo.AdminKey)
	w := e.world(admin)
	if len(w.servers) != 3 {
		t.Fatalf("admin servers = %v", w.servers)
	}
	var sawDetached, sawWorking bool
	for _, s := range w.sessions {
		sawDetached = sawDetached || s.ID == detachedID && s.Detached
		sawWorking = sawWorking || s.ID == workingID
	}
	if !sawDetached || !sawWorking {
		t.Fatalf("added sessions missing from the admin view (detached %v, working %v)", sawDetached, sawWorking)
	}

	// Every tenant over every transport (one caller, so one websocket, per pair), in parallel;
	// the group returns when all have, so the totals below add up every pair's.
	var mu sync.Mutex
	totalProbes, totalLeaks := map[string]int{}, 0
	refs := map[string]map[string]string{} // tenant -> transport -> the missing-ID error shape
	t.Run("tenants", func(t *testing.T) {
		for i, ct := range e.fleet.Config.Tenants {
			tn := w.tenant(t, ct, fmt.Sprintf("%s%d", demo.TenantKeyPrefix, i+1))
			for _, tr := range isoTransports {
				t.Run(tn.id+"/"+tr.name, func(t *testing.T) {
					t.Parallel()
					c := tr.dial(t, e, tn.key)
					ref := missingRef(t, c, w.servers)
					p := &isoProber{t: t, c: c, who: tn.id + " over " + tr.name, ref: ref}
					isoCheckLists(t, c, w, tn)
					isoCheckFilters(t, c, w, tn, p)
					isoCheckOwnIDs(t, c, w, tn)
					isoCheckCursors(t, c, e, tn, p)
					p.run(isoForeignProbes(w, tn))
					mu.Lock()
					totalProbes[tr.name] += p.probes
					totalLeaks += p.leaks
					if refs[tn.id] == nil {
						refs[tn.id] = map[string]string{}
					}
					refs[tn.id][tr.name] = ref
					mu.Unlock()
					t.Logf("%s over %s: %d organisations, %d sessions on %v; %d out-of-scope probes, %d leaks",
						tn.id, tr.name, len(tn.orgs), len(tn.sessions), tn.servers, p.probes, p.leaks)
				})
			}
		}
	})
	// A missing (and so every out-of-scope) ID answers the same error over every transport.
	for id, byTransport := range refs {
		for name, ref := range byTransport {
			if want := byTransport[isoTransports[0].name]; ref != want {
				t.Errorf("%s: a missing ID answers %s over %s, %s over %s", id, ref, name, want, isoTransports[0].name)
			}
		}
	}
	t.Logf("isolation: %v probes across %d tenants, %d leaks", totalProbes, len(e.fleet.Config.Tenants), totalLeaks)
	if totalLeaks != 0 {
		t.Fatalf("%d leaks", totalLeaks)
	}
	for _, tr := range isoTransports {
		if totalProbes[tr.name] < 1000 {
			t.Fatalf("only %d probes ran over %s", totalProbes[tr.name], tr.name)
		}
	}
}

// isoForeignProbes is every ID the tenant does not own, through every root that takes it.
func isoForeignProbes(w *isoWorld, tn *isoTenant) []isoProbe {
	var probes []isoProbe
	for _, o := range w.orgs {
		if tn.orgs[o.ID] {
			// The same upstream id under another server: a server/organisation pair it does not own.
			for _, s := range w.servers {
				if s != o.Server {
					id := gid.ID{Kind: gid.KindOrganization, Server: s, Upstream: o.UpstreamID}.String()
					probes = append(probes, isoProbe{"organization", id, "own org id, other server"}, isoProbe{"node", id, "own org id, other server"})
				}
			}
			continue
		}
		probes = append(probes, isoProbe{"organization", o.ID, "foreign org " + o.Server + "/" + o.Name},
			isoProbe{"node", o.ID, "foreign org " + o.Server + "/" + o.Name},
			// Upper-cased upstream id: still the same organisation upstream.
			isoProbe{"organization", gid.ID{Kind: gid.KindOrganization, Server: o.Server, Upstream: strings.ToUpper(o.UpstreamID)}.String(), "foreign org, upper-case id"},
			isoProbe{"node", gid.ID{Kind: gid.KindDetachedOrganization, Server: o.Server, Upstream: o.Name}.String(), "foreign org as detached stub"})
	}
	var ownSession *isoSession
	for i, s := range w.sessions {
		if tn.sessions[s.ID] {
			if ownSession == nil && len(s.Events) > 0 {
				ownSession = &w.sessions[i]
			}
			continue
		}
		label := "foreign session on " + s.Server
		if s.Detached {
			label = "detached-org session on " + s.Server
		}
		probes = append(probes, isoProbe{"restoreSession", s.ID, label}, isoProbe{"node", s.ID, label})
		for _, ev := range s.Events {
			probes = append(probes, isoProbe{"node", ev, "event of " + label})
		}
	}
	// Event ids grafted onto a session of the other side.
	if ownSession != nil {
		own, _ := gid.Parse(ownSession.ID)
		ownEv, _ := gid.Parse(ownSession.Events[len(ownSession.Events)-1])
		n := 0
		for _, s := range w.sessions {
			if tn.sessions[s.ID] || s.Server != ownSession.Server || len(s.Events) == 0 || n >= 20 {
				continue
			}
			n++
			foreign, _ := gid.Parse(s.ID)
			foreignEv, _ := gid.Parse(s.Events[len(s.Events)-1])
			probes = append(probes,
				isoProbe{"node", gid.ID{Kind: gid.KindRestoreEvent, Server: s.Server, Parent: own.Upstream, Upstream: foreignEv.Upstream}.String(), "foreign event under own session"},
				isoProbe{"node", gid.ID{Kind: gid.KindRestoreEvent, Server: s.Server, Parent: foreign.Upstream, Upstream: ownEv.Upstream}.String(), "own event under foreign session"})
		}
	}
	for _, s := range w.servers {
		if !slices.Contains(tn.servers, s) {
			probes = append(probes, isoProbe{"node", gid.ID{Kind: gid.KindServer, Server: s}.String(), "server hosting none of its orgs"})
		}
	}
	return probes
}

// isoCheckOwnIDs: the probes are not vacuous, the tenant's own IDs resolve through every root.
func isoCheckOwnIDs(t *testing.T, c isoCaller, w *isoWorld, tn *isoTenant) {
	t.Helper()
	var probes []isoProbe
	for id := range tn.orgs {
		probes = append(probes, isoProbe{"organization", id, "own org"}, isoProbe{"node", id, "own org"})
	}
	n := 0
	for _, s := range w.sessions {
		if !tn.sessions[s.ID] || n >= 10 {
			continue
		}
		n++
		probes = append(probes, isoProbe{"restoreSession", s.ID, "own session"}, isoProbe{"node", s.ID, "own session"})
		for _, ev := range s.Events {
			probes = append(probes, isoProbe{"node", ev, "own event"})
		}
	}
	for _, s := range tn.servers {
		probes = append(probes, isoProbe{"node", gid.ID{Kind: gid.KindServer, Server: s}.String(), "own server"})
	}
	for len(probes) > 0 {
		batch := probes[:min(len(probes), 25)]
		probes = probes[len(batch):]
		var q, params strings.Builder
		vars := map[string]any{}
		for i, pr := range batch {
			fmt.Fprintf(&params, "$v%d: ID!, ", i)
			fmt.Fprintf(&q, "  p%d: %s(id: $v%d) %s\n", i, pr.root, i, isoSelections[pr.root])
			vars[fmt.Sprintf("v%d", i)] = pr.id
		}
		var out map[string]*struct {
			ID      string `json:"id"`
			Session *struct {
				ID string `json:"id"`
			} `json:"session"`
			Organization *struct {
				ID string `json:"id"`
			} `json:"organization"`
		}
		isoMust(t, c, "query("+strings.TrimSuffix(params.String(), ", ")+") {\n"+q.String()+"}"+isoFragments, vars, &out)
		for i, pr := range batch {
			got := out[fmt.Sprintf("p%d", i)]
			if got == nil || got.ID != pr.id {
				t.Errorf("%s: own %s(%s) = %+v", tn.id, pr.root, pr.id, got)
				continue
			}
			if got.Session != nil && !tn.sessions[got.Session.ID] {
				t.Errorf("%s: own event's session %s not owned", tn.id, got.Session.ID)
			}
			if got.Organization != nil && pr.root == "restoreSession" && !tn.orgs[got.Organization.ID] {
				t.Errorf("%s: own session's organisation %s not owned", tn.id, got.Organization.ID)
			}
		}
	}
}

// isoCursorPage collects every cursor of one page of a session connection.
const isoCursorPage = `query($first: Int, $after: String, $id: ID!, $own: Boolean!) {
  restoreSessions(first: $first, after: $after) @skip(if: $own) {
    pageInfo { hasNextPage startCursor endCursor } edges { cursor } }
  organization(id: $id) @include(if: $own) { restoreSessions(first: $first, after: $after) {
    pageInfo { hasNextPage startCursor endCursor } edges { cursor } } }
}`

// isoCheckCursors pages through the tenant's session lists (across servers, and per own
// organisation) in several page sizes and checks that no cursor carries another tenant's
// session creation time, in any form a cursor could hold it (unix seconds, milliseconds or
// nanoseconds, raw or base64url-decoded). Issue 11 item 6: the merge reads past other tenants'
// sessions, and a readable cursor recorded where it stopped.
func isoCheckCursors(t *testing.T, c isoCaller, e *isoEnv, tn *isoTenant, p *isoProber) {
	t.Helper()
	own, foreign := map[string]bool{}, map[string]string{} // time text -> a session it belongs to
	for server, sim := range e.fleet.Sims {
		for _, s := range sim.Sessions() {
			ct := s.CreationTime
			texts := []string{strconv.FormatInt(ct.UnixNano(), 10), strconv.FormatInt(ct.UnixMilli(), 10), strconv.FormatInt(ct.Unix(), 10)}
			for _, x := range texts {
				if tn.sessions[gid.ID{Kind: gid.KindRestoreSession, Server: server, Upstream: s.ID}.String()] {
					own[x] = true
				} else {
					foreign[x] = server + "/" + s.ID
				}
			}
		}
	}
	check := func(label, cur string) {
		p.probes++
		dec, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(cur, "="))
		for x, who := range foreign {
			if !own[x] && (strings.Contains(cur, x) || bytes.Contains(dec, []byte(x))) {
				p.leak("%s cursor %q holds %s, the creation time of another tenant's session %s", label, cur, x, who)
				return
			}
		}
	}
	type page struct {
		PageInfo struct {
			HasNextPage bool    `json:"hasNextPage"`
			StartCursor *string `json:"startCursor"`
			EndCursor   *string `json:"endCursor"`
		} `json:"pageInfo"`
		Edges []struct {
			Cursor string `json:"cursor"`
		} `json:"edges"`
	}
	walk := func(label string, orgID string, first int) {
		var after any
		for n := 0; ; n++ {
			if n > 500 {
				t.Fatalf("%s does not end", label)
			}
			var out struct {
				RestoreSessions *page `json:"restoreSessions"`
				Organization    *struct {
					RestoreSessions *page `json:"restoreSessions"`
				} `json:"organization"`
			}
			id := orgID
			if id == "" {
				id = "unused"
			}
			isoMust(t, c, isoCursorPage, map[string]any{"first": first, "after": after, "id": id, "own": orgID != ""}, &out)
			pg := out.RestoreSessions
			if out.Organization != nil {
				pg = out.Organization.RestoreSessions
			}
			for _, e := range pg.Edges {
				check(label, e.Cursor)
			}
			for _, cur := range []*string{pg.PageInfo.StartCursor, pg.PageInfo.EndCursor} {
				if cur != nil {
					check(label, *cur)
				}
			}
			if !pg.PageInfo.HasNextPage {
				return
			}
			after = *pg.PageInfo.EndCursor
		}
	}
	for _, first := range []int{4, 25} {
		walk(fmt.Sprintf("restoreSessions(first: %d)", first), "", first)
		for id := range tn.orgs {
			walk(fmt.Sprintf("organization(%s).restoreSessions(first: %d)", id, first), id, first)
		}
	}
}

// isoCheckLists: every list shows exactly the tenant's own organisations and sessions.
func isoCheckLists(t *testing.T, c isoCaller, w *isoWorld, tn *isoTenant) {
	t.Helper()
	wantOrgs := slices.Sorted(maps.Keys(tn.orgs))
	wantSessions := slices.Sorted(maps.Keys(tn.sessions))
	if len(wantOrgs) == 0 || len(wantSessions) == 0 {
		t.Fatalf("%s owns nothing: the checks would be vacuous", tn.id)
	}

	type orgNode struct {
		ID     string `json:"id"`
		Server struct {
			Name string `json:"name"`
		} `json:"server"`
	}
	var out struct {
		Viewer struct {
			Subject       string      `json:"subject"`
			Role          string      `json:"role"`
			Tenant        *string     `json:"tenant"`
			Organizations []isoIDNode `json:"organizations"`
		} `json:"viewer"`
		Organizations isoConn[isoIDNode] `json:"organizations"`
		Aliased       isoConn[isoIDNode] `json:"aliased"`
		Servers       []struct {
			ID            string           `json:"id"`
			Name          string           `json:"name"`
			Status        *string          `json:"status"`
			Organizations isoConn[orgNode] `json:"organizations"`
		} `json:"servers"`
	}
	isoMust(t, c, `{
	  viewer { subject role tenant organizations { id } }
	  organizations(first: 100) { totalCount edges { node { id } } }
	  aliased: organizations(first: 1) { totalCount edges { node { ... on Organization { id } } } }
	  servers { id name status organizations(first: 100) { totalCount edges { node { id server { name } } } } }
	}`, nil, &out)
	if out.Viewer.Role != "TENANT_AUDITOR" || out.Viewer.Tenant == nil || *out.Viewer.Tenant != tn.id {
		t.Errorf("viewer = %+v", out.Viewer)
	}
	if got := isoIDs(out.Viewer.Organizations); !slices.Equal(got, wantOrgs) {
		t.Errorf("viewer.organizations = %v, want %v", got, wantOrgs)
	}
	if got := isoIDs(out.Organizations.nodes()); !slices.Equal(got, wantOrgs) {
		t.Errorf("organizations = %v, want %v", got, wantOrgs)
	}
	for name, conn := range map[string]isoConn[isoIDNode]{"organizations": out.Organizations, "aliased": out.Aliased} {
		if conn.TotalCount == nil || *conn.TotalCount != len(wantOrgs) {
			t.Errorf("%s.totalCount = %v, want %d", name, conn.TotalCount, len(wantOrgs))
		}
	}
	var servers []string
	for _, s := range out.Servers {
		servers = append(servers, s.Name)
		if s.Status != nil {
			t.Errorf("tenant sees status %s of %s", *s.Status, s.Name)
		}
		var want []string
		for _, id := range wantOrgs {
			if w.orgByID[id].Server == s.Name {
				want = append(want, id)
			}
		}
		var got []isoIDNode
		for _, n := range s.Organizations.nodes() {
			got = append(got, isoIDNode{n.ID})
			if n.Server.Name != s.Name {
				t.Errorf("VboServer(%s).organizations lists an organisation of %s", s.Name, n.Server.Name)
			}
		}
		if g := isoIDs(got); !slices.Equal(g, want) || s.Organizations.TotalCount == nil || *s.Organizations.TotalCount != len(want) {
			t.Errorf("VboServer(%s).organizations = %v (totalCount %v), want %v", s.Name, g, s.Organizations.TotalCount, want)
		}
	}
	if !slices.Equal(servers, tn.servers) {
		t.Errorf("servers = %v, want %v", servers, tn.servers)
	}
	if tn.id == "tenant-1" && len(servers) != 2 {
		t.Errorf("tenant-1 spans two servers, sees %v", servers)
	}

	// restoreSessions, all pages: exactly the admin's view filtered by the tenant's organisations.
	nodes, totals := isoSessions(t, c, nil)
	var got []string
	perServer := map[string]int{}
	for _, n := range nodes {
		got = append(got, n.ID)
		perServer[n.Organization.Server.Name]++
		if !tn.orgs[n.Organization.ID] || n.Organization.Detached {
			t.Errorf("session %s of organisation %s (detached %v) listed", n.ID, n.Organization.ID, n.Organization.Detached)
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, wantSessions) {
		t.Errorf("restoreSessions: %d sessions, want %d (the admin's view filtered by the tenant's organisations)", len(got), len(wantSessions))
	}
	for i, total := range totals {
		if total != nil && *total != len(wantSessions) {
			t.Errorf("restoreSessions page %d totalCount = %d, want %d", i, *total, len(wantSessions))
		}
	}
	if tn.id == "tenant-1" {
		for _, s := range tn.servers {
			if perServer[s] == 0 {
				t.Errorf("tenant-1 sees no sessions on %s", s)
			}
		}
	}

	// Organization.restoreSessions of each own organisation.
	for _, id := range wantOrgs {
		var o struct {
			Organization struct {
				RestoreSessions isoConn[isoIDNode] `json:"restoreSessions"`
			} `json:"organization"`
		}
		isoMust(t, c, `query($id: ID!) { organization(id: $id) { restoreSessions(first: 200) { totalCount edges { node { id } } } } }`,
			map[string]any{"id": id}, &o)
		var want []string
		for _, s := range w.sessions {
			if s.OrgID == id && !s.Detached {
				want = append(want, s.ID)
			}
		}
		sort.Strings(want)
		conn := o.Organization.RestoreSessions
		if got := isoIDs(conn.nodes()); !slices.Equal(got, want) {
			t.Errorf("organization(%s).restoreSessions: %d sessions, want %d", id, len(got), len(want))
		}
		if conn.TotalCount != nil && *conn.TotalCount != len(want) {
			t.Errorf("organization(%s).restoreSessions.totalCount = %d, want %d", id, *conn.TotalCount, len(want))
		}
	}
}

// isoCheckFilters: filters naming out-of-scope organisations or servers narrow to nothing and
// answer exactly like filters naming missing ones.
func isoCheckFilters(t *testing.T, c isoCaller, w *isoWorld, tn *isoTenant, p *isoProber) {
	t.Helper()
	const q = `query($f: RestoreSessionFilter, $o: OrganizationFilter) {
	  restoreSessions(first: 20, filter: $f) { totalCount pageInfo { hasNextPage hasPreviousPage } edges { node { id } } }
	  organizations(first: 20, filter: $o) { totalCount edges { node { id } } }
	}`
	answer := func(f, o map[string]any) string {
		data, errs := isoRun(t, c, q, map[string]any{"f": f, "o": o})
		b, _ := json.Marshal(map[string]any{"data": data, "errors": errs})
		return string(b)
	}
	compare := func(label string, probe, missing map[string]any) {
		p.probes++
		got, want := answer(probe, nil), answer(missing, nil)
		if got != want {
			p.leak("restoreSessions(filter: %s) [%s] = %s, a missing one gives %s", probe, label, got, want)
		}
	}
	missingOrg := func(server string) string {
		return gid.ID{Kind: gid.KindOrganization, Server: server, Upstream: isoRandomUUID()}.String()
	}
	for _, o := range w.orgs {
		if tn.orgs[o.ID] {
			continue
		}
		compare("foreign organizationIds on "+o.Server,
			map[string]any{"organizationIds": []string{o.ID}}, map[string]any{"organizationIds": []string{missingOrg(o.Server)}})
	}
	for _, s := range w.servers {
		if slices.Contains(tn.servers, s) {
			continue
		}
		compare("foreign server "+s, map[string]any{"servers": []string{s}}, map[string]any{"servers": []string{"nosuch1"}})
		p.probes++
		if got, want := answer(nil, map[string]any{"servers": []string{s}}), answer(nil, map[string]any{"servers": []string{"nosuch1"}}); got != want {
			p.leak("organizations(filter: {servers: [%s]}) = %s, a missing server gives %s", s, got, want)
		}
	}

	// An own organisation plus every foreign one: only the own organisation's sessions.
	for own := range tn.orgs {
		ids := []string{own}
		for _, o := range w.orgs {
			if !tn.orgs[o.ID] {
				ids = append(ids, o.ID)
			}
		}
		nodes, _ := isoSessions(t, c, map[string]any{"organizationIds": ids, "servers": w.servers})
		var got, want []string
		for _, n := range nodes {
			got = append(got, n.ID)
		}
		for _, s := range w.sessions {
			if s.OrgID == own && !s.Detached {
				want = append(want, s.ID)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		p.probes++
		if !slices.Equal(got, want) {
			p.leak("restoreSessions(organizationIds: own %s + all foreign) = %d sessions, want %d", own, len(got), len(want))
		}
	}
}

// ---- authentication through the HTTP layer ----

func TestIsoHTTPUnauthenticated(t *testing.T) {
	t.Parallel()
	kid := "iso-rsa"
	jwks, sign := isoJWKS(t, kid)
	e := isoStart(t, &config.JWT{JWKSURL: jwks, Issuer: "https://idp.iso.test/", Audience: "vbo-gateway",
		ClockSkew: 30 * time.Second, TenantClaim: "tenant", RoleClaim: "role"}, nil)
	now := time.Now()
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": "https://idp.iso.test/", "aud": "vbo-gateway", "sub": "auditor@t2",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "tenant": "tenant-2"}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	post := func(hdr map[string]string) (*http.Response, []byte) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { subject role tenant organizations { id } } }"}`))
		r.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.gw.Handler.ServeHTTP(rec, r)
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	cases := []struct {
		name   string
		hdr    map[string]string
		reason string // in the log, never in the body
	}{
		{"no credentials", nil, "no credentials"},
		{"wrong API key", bearer("demo-tenant-9"), "unknown API key"},
		{"wrong X-API-Key", map[string]string{"X-API-Key": "demo-admin2"}, "unknown API key"},
		{"API key hash instead of the key", bearer(e.fleet.Config.Auth.APIKeys[0].SHA256), "unknown API key"},
		{"basic auth", map[string]string{"Authorization": "Basic ZGVtby1hZG1pbjo="}, "no credentials"},
		{"expired JWT", bearer(sign(claims(map[string]any{"exp": now.Add(-time.Hour).Unix()}), "RS256", kid)), "token is expired"},
		{"wrong audience", bearer(sign(claims(map[string]any{"aud": "other"}), "RS256", kid)), "aud"},
		{"wrong issuer", bearer(sign(claims(map[string]any{"iss": "https://evil/"}), "RS256", kid)), "iss"},
		{"alg none", bearer(sign(claims(nil), "none", kid)), "signing method"},
		{"HS256 with the public key", bearer(sign(claims(nil), "HS256", kid)), "signing method"},
		{"unknown kid", bearer(sign(claims(nil), "RS256", "not-published")), "invalid bearer token"},
		{"garbage token", bearer("x.y.z"), "invalid bearer token"},
		{"no sub", bearer(sign(claims(map[string]any{"sub": nil}), "RS256", kid)), "no sub claim"},
		{"unknown tenant", bearer(sign(claims(map[string]any{"tenant": "tenant-9"}), "RS256", kid)), "unknown tenant"},
		{"admin naming a tenant", bearer(sign(claims(map[string]any{"role": "PROVIDER_ADMIN"}), "RS256", kid)), "must not name a tenant"},
	}
	var firstBody []byte
	for _, c := range cases {
		before := len(e.log.String())
		res, body := post(c.hdr)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d: %s", c.name, res.StatusCode, body)
			continue
		}
		var out struct {
			Data   any `json:"data"`
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Errors) == 0 || out.Errors[0].Extensions["code"] != "UNAUTHENTICATED" || out.Data != nil {
			t.Errorf("%s: body %s", c.name, body)
		}
		if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate = %q", c.name, res.Header.Get("WWW-Authenticate"))
		}
		// The reason goes to the log only: every failure gets the same body, without it.
		if firstBody == nil {
			firstBody = body
		} else if !bytes.Equal(body, firstBody) {
			t.Errorf("%s: body %s differs from %s", c.name, body, firstBody)
		}
		if strings.Contains(strings.ToLower(string(body)), strings.ToLower(c.reason)) {
			t.Errorf("%s: body %s carries the reason %q", c.name, body, c.reason)
		}
		if logged := e.log.String()[before:]; !strings.Contains(logged, "authentication failed") || !strings.Contains(logged, c.reason) {
			t.Errorf("%s: log does not carry the reason %q:\n%s", c.name, c.reason, logged)
		}
	}

	// And the right credentials work through the same handler.
	for _, c := range []struct {
		name, role, tenant string
		hdr                map[string]string
	}{
		{"admin key as bearer", "PROVIDER_ADMIN", "", bearer(demo.AdminKey)},
		{"admin key as X-API-Key", "PROVIDER_ADMIN", "", map[string]string{"X-API-Key": demo.AdminKey}},
		{"tenant key as X-API-Key", "TENANT_AUDITOR", "tenant-1", map[string]string{"X-API-Key": demo.TenantKeyPrefix + "1"}},
		{"tenant key as bearer", "TENANT_AUDITOR", "tenant-3", bearer(demo.TenantKeyPrefix + "3")},
		{"tenant JWT", "TENANT_AUDITOR", "tenant-2", bearer(sign(claims(nil), "RS256", kid))},
		{"admin JWT", "PROVIDER_ADMIN", "", bearer(sign(claims(map[string]any{"role": "PROVIDER_ADMIN", "tenant": nil}), "RS256", kid))},
	} {
		res, body := post(c.hdr)
		var out struct {
			Data struct {
				Viewer struct {
					Role          string      `json:"role"`
					Tenant        *string     `json:"tenant"`
					Organizations []isoIDNode `json:"organizations"`
				} `json:"viewer"`
			} `json:"data"`
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Errorf("%s: status %d: %s", c.name, res.StatusCode, body)
			continue
		}
		v := out.Data.Viewer
		tenant := ""
		if v.Tenant != nil {
			tenant = *v.Tenant
		}
		if v.Role != c.role || tenant != c.tenant {
			t.Errorf("%s: viewer %+v", c.name, v)
		}
		want := 3 * 6 // admin: every organisation of the three servers
		for _, ct := range e.fleet.Config.Tenants {
			if ct.ID == c.tenant {
				want = len(ct.Organizations)
			}
		}
		if len(v.Organizations) != want {
			t.Errorf("%s: %d organisations, want %d", c.name, len(v.Organizations), want)
		}
	}
}

// isoJWKS serves one RSA key as a JWKS and returns a signer: alg RS256 signs with it, HS256
// uses its public key bytes as the HMAC secret (alg confusion), none signs nothing.
func isoJWKS(t *testing.T, kid string) (string, func(claims map[string]any, alg, kid string) string) {
	t.Helper()
	key, err := isoRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{key.jwk(kid)}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func(claims map[string]any, alg, kid string) string {
		s, err := key.sign(claims, alg, kid)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

type isoKey struct{ k *rsa.PrivateKey }

func isoRSAKey() (isoKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	return isoKey{k}, err
}

func (k isoKey) jwk(kid string) map[string]string {
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": enc(k.k.N.Bytes()), "e": enc(big.NewInt(int64(k.k.E)).Bytes())}
}

func (k isoKey) sign(claims map[string]any, alg, kid string) (string, error) {
	var tok *jwt.Token
	var key any
	switch alg {
	case "RS256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims)), k.k
	case "HS256":
		der, err := x509.MarshalPKIXPublicKey(&k.k.PublicKey)
		if err != nil {
			return "", err
		}
		tok, key = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	case "none":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)), jwt.UnsafeAllowNoneSignatureType
	default:
		return "", fmt.Errorf("alg %s", alg)
	}
	tok.Header["kid"] = kid
	return tok.SignedString(key)
}

// ---- the restore front door (issue 24) ----

// TestIsoRestoreFrontDoor: tenant-2's auditor, admin and operator, over HTTP, websocket and
// SSE, name tenant-1's organisation, gateway session (started, browsed), session started
// outside the gateway, cursors and chain in every field and mutation of the front door
// (startRestoreSession, stopRestoreSession, RestoreSession.attribution and .browse through
// restoreSession and node, RestoreBrowser's roots, RestoreItem.children, attribution.actions,
// verifyRestoreActionLog, restoreAudit groupBy PERSON, restoreSessions' attribution): nothing of
// tenant-1 comes back, and each out-of-scope value answers exactly what a missing one does.
// Tenant-2's startedOutsideGateway rules fire for its own sessions only. Tenant-1's session is
// untouched after (open, no step by anyone else), and tenant-1 sees it all (the control).
func TestIsoRestoreFrontDoor(t *testing.T) {
	t.Parallel()
	e := hostileStart(t, nil)
	t1op, t2admin := demo.TenantOperatorKey(1), demo.TenantAdminKey(2)
	t1org, t2org := e.tenantOrgs(t, 1)["syd1"], e.tenantOrgs(t, 2)["syd1"]
	if t1org == "" || t2org == "" {
		t.Fatalf("fixture: tenant-1 org %q, tenant-2 org %q on syd1", t1org, t2org)
	}
	// Tenant-2's rules first (they fire for sessions first seen after them).
	outside, through := newHookReceiver(t), newHookReceiver(t)
	rule := map[string]any{"name": "bypassed", "url": outside.URL, "on": "STARTED", "startedOutsideGateway": true}
	mustPost(t, e.gw, t2admin, createRule, map[string]any{"in": rule}, nil)
	mustPost(t, e.gw, t2admin, createRule, map[string]any{"in": with(rule, "name", "portal", "url", through.URL, "startedOutsideGateway", false)}, nil)
	storeTick(t, e.gw.Store) // sessions first seen after the rules

	// Tenant-1: a session through the gateway, browsed three levels deep; one from outside.
	const secret = "T1-SECRET-REASON ticket 77"
	s1 := e.startExchange(t, t1op, t1org, secret)
	var b rfBrowseData
	postAs(t, e.c, t1op, rfBrowse, map[string]any{"id": s1}).decode(t, &b)
	mb := b.RestoreSession.Browse.Mailboxes
	t1BrowseCursor, t1FolderCursor := mb.PageInfo.EndCursor, mb.Edges[0].Node.Folders.PageInfo.EndCursor
	t1Item := mb.Edges[0].Node.ID
	var acts struct {
		RestoreSession struct {
			Attribution struct {
				Actions struct{ PageInfo struct{ EndCursor string } }
			}
		}
	}
	postAs(t, e.c, t1op, `query($id: ID!) { restoreSession(id: $id, live: true) { attribution { actions(first: 1) { pageInfo { endCursor } } } } }`,
		map[string]any{"id": s1}).decode(t, &acts)
	t1ActionsCursor := acts.RestoreSession.Attribution.Actions.PageInfo.EndCursor
	syd := e.fleet.Sims["syd1"]
	t1Name, t2Name := "", ""
	for _, o := range e.fleet.Config.Tenants[0].Organizations {
		if o.Server == "syd1" && t1Name == "" {
			t1Name = o.Name
		}
	}
	for _, o := range e.fleet.Config.Tenants[1].Organizations {
		if o.Server == "syd1" && t2Name == "" {
			t2Name = o.Name
		}
	}
	t1Outside := syd.AddSession(upstream.RestoreSession{Organization: t1Name, ClientHost: "T1-PC", InitiatedBy: "CONTOSO\\t1-mallory"})
	t1OutsideID := gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: t1Outside.ID}.String()
	// Tenant-2: its own session (the cursors' control) and one from outside (the rules' control).
	s2 := e.startExchange(t, demo.TenantOperatorKey(2), t2org, "tenant-2's own")
	s2b := e.startExchange(t, demo.TenantOperatorKey(2), t2org, "tenant-2's second")
	var b2 rhMailboxesData
	postAs(t, e.c, demo.TenantOperatorKey(2), rhMailboxes, map[string]any{"id": s2b, "first": 1}).decode(t, &b2)
	ownOtherCursor := b2.RestoreSession.Browse.Mailboxes.PageInfo.EndCursor
	postAs(t, e.c, demo.TenantOperatorKey(2), `query($id: ID!) { restoreSession(id: $id, live: true) { attribution { actions(first: 1) { pageInfo { endCursor } } } } }`,
		map[string]any{"id": s2b}).decode(t, &acts)
	ownOtherActions := acts.RestoreSession.Attribution.Actions.PageInfo.EndCursor
	t2Outside := syd.AddSession(upstream.RestoreSession{Organization: t2Name, ClientHost: "T2-PC", InitiatedBy: "FABRIKAM\\t2-eve"})

	missingSession := gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: isoRandomUUID()}.String()
	missingOrg := gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: isoRandomUUID()}.String()
	markers := []string{secret, "demo-tenant-1", "tenant-1", s1, t1OutsideID, t1Outside.ID, "t1-mallory", "T1-PC", t1org}
	t1before, _ := e.actions(t, s1)
	t1Steps := len(t1before.RestoreSession.Attribution.Actions.Edges)

	from, to := time.Now().UTC().Add(-48*time.Hour).Format(time.RFC3339), time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	sessionRead := `query($id: ID!) { restoreSession(id: $id, live: true) { id attribution { throughGateway person displayName tenant reason
		actions(first: 50) { edges { node { kind person reason clientAddress summary } } } }
		browse { mailboxes(first: 2) { edges { node { id children(kind: MAIL_FOLDER, first: 1) { edges { node { id } } } } } } } } }`
	type rfCase struct {
		name, query      string
		vars             map[string]any
		foreign, missing any
	}
	cases := []rfCase{
		{name: "stopRestoreSession", query: rfStop, foreign: s1, missing: missingSession},
		{name: "stopRestoreSession, outside the gateway", query: rfStop, foreign: t1OutsideID, missing: missingSession},
		{name: "restoreSession attribution, browse, children", query: sessionRead, foreign: s1, missing: missingSession},
		{name: "restoreSession outside the gateway", query: sessionRead, foreign: t1OutsideID, missing: missingSession},
		{name: "node attribution and browse", query: `query($id: ID!) { node(id: $id) { id ... on RestoreSession { attribution { person reason
			actions(first: 5) { edges { node { person } } } } browse { mailboxes(first: 1) { edges { node { id } } } } } } }`, foreign: s1, missing: missingSession},
		{name: "startRestoreSession", query: `mutation($id: ID!) { startRestoreSession(input: {organizationId: $id, type: EXCHANGE, reason: "mine now"}) { id } }`,
			foreign: t1org, missing: missingOrg},
		{name: "verifyRestoreActionLog", query: `query($id: String) { verifyRestoreActionLog(tenant: $id) { tenant ok records brokenAt problem } }`,
			foreign: "tenant-1", missing: "tenant-404"},
		{name: "browse after another tenant's cursor", query: `query($s: ID!, $id: String) { restoreSession(id: $s, live: true) { browse {
			mailboxes(first: 2, after: $id) { edges { node { name } } } } } }`, vars: map[string]any{"s": s2}, foreign: t1BrowseCursor, missing: ownOtherCursor},
		{name: "browse after another tenant's folder cursor", query: `query($s: ID!, $id: String) { restoreSession(id: $s, live: true) { browse {
			mailboxes(first: 2, after: $id) { edges { node { name } } } } } }`, vars: map[string]any{"s": s2}, foreign: t1FolderCursor, missing: ownOtherCursor},
		{name: "browse after another tenant's item id", query: `query($s: ID!, $id: String) { restoreSession(id: $s, live: true) { browse {
			mailboxes(first: 2, after: $id) { edges { node { name } } } } } }`, vars: map[string]any{"s": s2}, foreign: t1Item, missing: ownOtherCursor + "x"},
		{name: "actions after another tenant's cursor", query: `query($s: ID!, $id: String) { restoreSession(id: $s, live: true) { attribution {
			actions(first: 5, after: $id) { edges { node { kind } } } } } }`, vars: map[string]any{"s": s2}, foreign: t1ActionsCursor, missing: ownOtherActions},
		{name: "an item id as a session id", query: rfStop, foreign: t1Item, missing: "bm90LWFuLWlk"},
		{name: "restoreAudit groupBy PERSON", query: `query($from: DateTime!, $to: DateTime!) { restoreAudit(from: $from, to: $to, groupBy: [PERSON, ORGANIZATION]) {
			rows { person organization { id name } sessions } } }`, vars: map[string]any{"from": from, "to": to}},
		{name: "restoreSessions with attribution", query: `{ restoreSessions(first: 100, live: true) { edges { node { id attribution { throughGateway person tenant reason
			actions(first: 3) { edges { node { person summary } } } } browse { mailboxes(first: 1) { edges { node { id } } } } } } } }`},
	}
	keys := []string{demo.TenantKey(2), t2admin, demo.TenantOperatorKey(2)}
	var mu sync.Mutex
	answers := map[string]map[string]string{} // case/key -> transport -> answer
	t.Run("transports", func(t *testing.T) {
		for _, tr := range rhTransports {
			t.Run(tr.name, func(t *testing.T) {
				for _, key := range keys {
					c := tr.dial(t, e.gw.Handler, e.url, key)
					answer := func(cs rfCase, id any) (string, []isoErr) {
						vars := maps.Clone(cs.vars)
						if vars == nil {
							vars = map[string]any{}
						}
						if id != nil {
							vars["id"] = id
						}
						data, errs := isoRun(t, c, cs.query, vars)
						b, _ := json.Marshal(map[string]any{"data": data, "errors": errs})
						out := string(b)
						for _, m := range markers {
							if strings.Contains(out, m) {
								t.Errorf("LEAK (%s as %s over %s): %q in %s", cs.name, key, tr.name, m, out)
							}
						}
						if s, ok := id.(string); ok {
							out = strings.ReplaceAll(out, s, "<id>")
						}
						return out, errs
					}
					for _, cs := range cases {
						got, errs := answer(cs, cs.foreign)
						if cs.missing != nil {
							if want, _ := answer(cs, cs.missing); got != want {
								t.Errorf("LEAK (%s as %s over %s): another tenant's value answers %s, a missing one %s", cs.name, key, tr.name, got, want)
							}
							if len(errs) == 0 && cs.foreign != nil && key != demo.TenantKey(2) { // the auditor's browse is null anyway
								t.Errorf("%s as %s over %s: another tenant's value answered without an error: %s", cs.name, key, tr.name, got)
							}
						}
						mu.Lock()
						k := cs.name + " as " + key
						if answers[k] == nil {
							answers[k] = map[string]string{}
						}
						answers[k][tr.name] = got
						mu.Unlock()
					}
				}
			})
		}
	})
	for k, by := range answers {
		for tr, a := range by {
			// The refusals must not differ by transport (answers with data change as the
			// callers browse, and item ids are sealed afresh each time).
			if a != by["http"] && strings.Contains(by["http"], `"errors":[`) {
				t.Errorf("%s: over %s %s, over HTTP %s", k, tr, a, by["http"])
			}
		}
	}

	// Tenant-1's session is as it was: open, no step by anyone else; tenant-1 sees it all.
	var d rfReadData
	postAs(t, e.c, t1op, rfReadOnly, map[string]any{"id": s1, "live": true}).decode(t, &d)
	rs := d.RestoreSession
	if rs == nil || rs.State == "STOPPED" || !rs.Attribution.ThroughGateway || show(rs.Attribution.Reason) != secret ||
		len(rs.Attribution.Actions.Edges) != t1Steps {
		t.Fatalf("tenant-1's session after tenant-2's attempts: %+v (%d steps, had %d)", rs, len(rs.Attribution.Actions.Edges), t1Steps)
	}
	for _, a := range rs.Attribution.Actions.Edges {
		if a.Node.Person != "apikey:"+t1op {
			t.Errorf("a step on tenant-1's session by %s", a.Node.Person)
		}
	}
	if ok, n := e.verify(t, "tenant-1"); !ok || n != int64(2*t1Steps) {
		t.Errorf("tenant-1's chain: ok %v, %d records, want %d (its own steps only)", ok, n, 2*t1Steps)
	}

	// The rules: tenant-2's fire for its own sessions only.
	waitFor(t, 30*time.Second, func() bool { return outside.count() >= 1 && through.count() >= 2 }, "tenant-2's rules to fire for its sessions")
	time.Sleep(500 * time.Millisecond) // several polls more
	for name, r := range map[string]*hookReceiver{"startedOutsideGateway": outside, "through the gateway": through} {
		r.mu.Lock()
		for _, g := range r.got {
			for _, m := range append(markers, t1Outside.ID) {
				if strings.Contains(string(g.body), m) {
					t.Errorf("LEAK: tenant-2's %s rule delivered tenant-1's %q: %s", name, m, g.body)
				}
			}
		}
		n := len(r.got)
		r.mu.Unlock()
		want := map[string]int{"startedOutsideGateway": 1, "through the gateway": 2}[name]
		if n != want {
			t.Errorf("tenant-2's %s rule: %d deliveries, want %d", name, n, want)
		}
	}
	outside.mu.Lock()
	if body := string(outside.got[0].body); !strings.Contains(body, t2Outside.ID) {
		t.Errorf("the startedOutsideGateway rule delivered %s, not tenant-2's outside session %s", body, t2Outside.ID)
	}
	outside.mu.Unlock()
}

// ---- the restore item actions (issue 25) ----

// TestIsoRestoreItemActions: another tenant's callers, whatever their role, get NOT_FOUND from
// every item action on tenant 1's session and items (with tenant 1's session or their own),
// cannot approve tenant 1's pending restore nor list it, cannot read its actions' items and
// events, and VBO is never called for them.
func TestIsoRestoreItemActions(t *testing.T) {
	e := raStart(t)
	server := "syd1"
	op1 := demo.TenantOperatorKey(1)
	sid := e.start(t, op1, e.tenantOrgs(t, 1)[server], "EXCHANGE")
	mailboxes := e.raBrowse(t, op1, sid, "mailboxes", 2, "MAIL_FOLDER", "MAIL_ITEM")
	items := leaves(mailboxes[:1], 2)
	if len(items) == 0 || len(mailboxes) < 2 {
		t.Fatal("tenant 1's session has no items")
	}
	own := *mailboxes[1].Email
	pending := e.act(t, raAdmin2, raOriginal, map[string]any{"sessionId": sid, "itemIds": []string{items[0].ID}, "idempotencyKey": "iso-pending",
		"conflict": "OVERWRITE", "confirm": true})
	if pending.State != "PENDING_APPROVAL" {
		t.Fatalf("pending %+v", pending)
	}
	before := len(e.fleet.Sims[server].RestoreActions())
	// Tenant 2's own session on the same server, to present tenant 1's item ids with.
	other := e.start(t, demo.TenantOperatorKey(2), e.tenantOrgs(t, 2)[server], "EXCHANGE")
	in := func(session, key string) map[string]any {
		return map[string]any{"sessionId": session, "itemIds": []string{items[0].ID}, "idempotencyKey": key}
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, key := range []string{demo.TenantOperatorKey(2), demo.TenantAdminKey(2), demo.TenantKey(2)} {
		for _, session := range []string{sid, other} {
			calls := map[string]struct {
				q    string
				vars map[string]any
			}{
				"download": {raDownload, map[string]any{"in": in(session, "iso-dl")}},
				"send":     {raSend, map[string]any{"in": with(in(session, "iso-send"), "to", []string{own})}},
				"to":       {raTo, map[string]any{"in": with(in(session, "iso-to"), "target", own)}},
				"original": {raOriginal, map[string]any{"in": with(in(session, "iso-orig"), "conflict", "KEEP", "confirm", true)}},
			}
			for name, c := range calls {
				r := postAs(t, e.c, key, c.q, c.vars)
				codes := r.codes()
				// An auditor is refused by role (FORBIDDEN) before anything is looked up;
				// everyone else finds nothing.
				if !slices.Equal(codes, []string{"NOT_FOUND"}) && !(key == demo.TenantKey(2) && slices.Equal(codes, []string{"FORBIDDEN"})) {
					t.Errorf("%s %s on %s: %v %+v", key, name, session, codes, r.Errors)
				}
				if strings.Contains(string(r.Data), items[0].Name) {
					t.Errorf("%s %s leaked an item name: %s", key, name, r.Data)
				}
			}
		}
		r := postAs(t, e.c, key, raApprove, map[string]any{"id": pending.Action.ID})
		if c := r.codes(); !slices.Equal(c, []string{"NOT_FOUND"}) && !slices.Equal(c, []string{"FORBIDDEN"}) {
			t.Errorf("%s approve: %v", key, c)
		}
		var list struct {
			PendingRestoreApprovals *struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		r = postAs(t, e.c, key, raPending, nil)
		if len(r.Errors) == 0 {
			r.decode(t, &list)
			if list.PendingRestoreApprovals != nil && len(list.PendingRestoreApprovals.Edges) > 0 {
				t.Errorf("%s sees tenant 1's pending approvals: %s", key, r.Data)
			}
		}
		r = postAs(t, e.c, key, `query($id: ID!) { restoreSession(id: $id, live: true) { attribution { actions { edges { node { items { name } events { id } target } } } } } }`,
			map[string]any{"id": sid})
		if !slices.Equal(r.codes(), []string{"NOT_FOUND"}) || strings.Contains(string(r.Data), items[0].Name) {
			t.Errorf("%s reads tenant 1's actions: %v %s", key, r.codes(), r.Data)
		}
	}
	if after := len(e.fleet.Sims[server].RestoreActions()); after != before {
		t.Fatalf("VBO acted %d times for another tenant", after-before)
	}
	// Tenant 1's own admin still sees and approves it.
	var list struct {
		PendingRestoreApprovals struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	postAs(t, e.c, demo.TenantAdminKey(1), raPending, nil).decode(t, &list)
	if len(list.PendingRestoreApprovals.Edges) != 1 || list.PendingRestoreApprovals.Edges[0].Node.ID != pending.Action.ID {
		t.Fatalf("tenant 1's admin sees %+v", list)
	}
}
