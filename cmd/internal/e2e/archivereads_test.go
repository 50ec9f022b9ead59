package e2e_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// Reads from the archive (issue 28): the watch's archive answers restoreSessions (both),
// restoreSession and events with VBO's answers, and no VBO call, when it covers the window.

const archiveListQuery = `query($first: Int, $after: String, $filter: RestoreSessionFilter, $live: Boolean) {
  restoreSessions(first: $first, after: $after, filter: $filter, live: $live) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name type state result startTime endTime initiatedBy reason details scopeName
      clientHost { machineName } organization { id }
      events(first: 4) { totalCount edges { node { id order type status itemName ...eventDetails } } } } } } }
fragment eventDetails on RestoreEvent { upstreamId title message itemType itemSizeBytes source target startTime endTime durationSeconds }`

type archivePage struct {
	RestoreSessions struct {
		TotalCount *int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Edges []json.RawMessage
	}
}

// readsGateway is watchGateway on engine, waiting until every server's backfill is done.
func readsGateway(t *testing.T, engine string, tune func(*config.Config)) (*demo.Fleet, *app.Gateway) {
	t.Helper()
	var dsn string
	if engine == "postgres" {
		dsn = pgtest.DSN(t) // skips, saying so, without PostgreSQL
	}
	fleet, gw := watchGateway(t, 150, func(c *config.Config) {
		if dsn != "" {
			c.Store = config.Store{Driver: "postgres", DSNEnv: "UNUSED"}.WithDSN(dsn)
		}
		if tune != nil {
			tune(c)
		}
	})
	c := client.New(gw.Handler, client.Path("/graphql"))
	waitFor(t, 30*time.Second, func() bool {
		var st struct {
			Servers []struct{ Watcher *struct{ BackfillDone bool } }
		}
		c.MustPost(`{ servers { watcher { backfillDone } } }`, &st, asKey(demo.AdminKey))
		done := len(st.Servers) == 3
		for _, s := range st.Servers {
			done = done && s.Watcher != nil && s.Watcher.BackfillDone
		}
		return done
	}, "the backfill done on every server")
	return fleet, gw
}

func asKey(key string) client.Option { return client.AddHeader("Authorization", "Bearer "+key) }

// listAll pages restoreSessions to the end; it returns the pages and each page's freshness.
func listAll(t *testing.T, c *client.Client, key string, first int, filter map[string]any, live bool) ([]archivePage, []map[string]map[string]any) {
	t.Helper()
	var pages []archivePage
	var fresh []map[string]map[string]any
	var after *string
	for range 200 {
		resp, err := c.RawPost(archiveListQuery, asKey(key), client.Var("first", first), client.Var("after", after),
			client.Var("filter", filter), client.Var("live", live))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
			t.Fatalf("errors: %s", resp.Errors)
		}
		var p archivePage
		b, _ := json.Marshal(resp.Data)
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		var f map[string]map[string]any
		if raw, ok := resp.Extensions["freshness"]; ok {
			b, _ := json.Marshal(raw)
			_ = json.Unmarshal(b, &f)
		}
		pages, fresh = append(pages, p), append(fresh, f)
		if !p.RestoreSessions.PageInfo.HasNextPage {
			return pages, fresh
		}
		after = p.RestoreSessions.PageInfo.EndCursor
	}
	t.Fatal("more than 200 pages")
	return nil, nil
}

func edgesOf(pages []archivePage) []string {
	var out []string
	for _, p := range pages {
		for _, e := range p.RestoreSessions.Edges {
			out = append(out, string(e))
		}
	}
	return out
}

func sourcesOf(fresh []map[string]map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, f := range fresh {
		for _, e := range f {
			out[fmt.Sprint(e["source"])] = true
		}
	}
	return out
}

// simCalls is every simulator's calls whose operation contains what, summed.
func simCalls(f *demo.Fleet, what string) int {
	n := 0
	for k, v := range simCallsByName(f) {
		if strings.Contains(k, what) {
			n += v
		}
	}
	return n
}

// TestArchiveReadsEqualUpstream is the differential test: for an admin and a tenant, over
// filters and paging (first/after across pages), the archive's pages hold exactly VBO's
// sessions, in VBO's order, with the same fields, events and totalCount (where VBO knows it);
// the archive's reads make no VBO listing call and say so in extensions.freshness.
func TestArchiveReadsEqualUpstream(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			// The watch polls once (its backfill) and then rarely: every VBO call counted below is
			// the gateway's reads'. reads.from: archive keeps the archive answering however
			// long the test runs.
			fleet, gw := readsGateway(t, engine, func(c *config.Config) {
				c.Watch.Interval, c.Watch.Sweep.Interval = time.Hour, -time.Second
				// maxLag 1h: the organisation lists are refreshed at start, then every 30 min
				// (not every 15 s, which would fall between a reset and a check below).
				c.Reads = config.Reads{From: config.ReadsArchive, MaxLag: time.Hour}
			})
			c := client.New(gw.Handler, client.Path("/graphql"))
			from := time.Now().UTC().Add(-30 * 24 * time.Hour).Format(time.RFC3339)
			filters := []map[string]any{
				nil,
				{"results": []string{"FAILED", "WARNING"}},
				{"startTimeFrom": from, "types": []string{"EXCHANGE", "TEAMS"}},
				{"servers": []string{"syd1", "akl1"}, "states": []string{"STOPPED"}},
				{"results": []string{"UNKNOWN", "SUCCESS"}, "initiatedBy": "a"}, // selected in SQL by what they are not; a substring in Go
			}
			for _, key := range []string{demo.AdminKey, demo.TenantKeyPrefix + "1"} {
				for i, f := range filters {
					for _, first := range []int{7, 100} {
						name := fmt.Sprintf("%s/filter%d/first%d", key, i, first)
						live, liveFresh := listAll(t, c, key, first, f, true)
						benchResetCalls(fleet)
						arch, archFresh := listAll(t, c, key, first, f, false)
						if n := simCalls(fleet, ""); n != 0 {
							// Not even the organisation lists: the backend keeps them (reads.maxLag).
							t.Errorf("%s: the archive read made %d VBO calls (%v)", name, n, simCallsByName(fleet))
						}
						if got := sourcesOf(archFresh); !reflect.DeepEqual(got, map[string]bool{"archive": true}) && len(edgesOf(arch)) > 0 {
							t.Errorf("%s: archive freshness sources %v", name, got)
						}
						if got := sourcesOf(liveFresh); got["archive"] {
							t.Errorf("%s: live freshness sources %v", name, got)
						}
						le, ae := edgesOf(live), edgesOf(arch)
						if len(le) == 0 && i == 0 {
							t.Fatalf("%s: no sessions", name)
						}
						if !reflect.DeepEqual(le, ae) {
							t.Fatalf("%s: archive answers %d sessions, VBO %d; first difference:\n%s", name, len(ae), len(le), firstDiff(le, ae))
						}
						lt, at := live[0].RestoreSessions.TotalCount, arch[0].RestoreSessions.TotalCount
						if at == nil || *at != len(ae) || lt != nil && *lt != *at {
							t.Errorf("%s: totalCount archive %v, VBO %v, sessions %d", name, at, lt, len(ae))
						}
					}
				}
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("VBO     %s\narchive %s", a[i], b[i])
		}
	}
	return "(one is a prefix of the other)"
}

// errorsOf posts query as key and returns the response's errors' extensions.
func errorsOf(t *testing.T, c *client.Client, key, query string) []map[string]any {
	t.Helper()
	errs := postAs(t, c, key, query, nil).Errors
	out := make([]map[string]any, len(errs))
	for i, e := range errs {
		out[i] = e.Extensions
	}
	return out
}

// TestArchiveReadsCost: the estimate counts no upstream call for the listings the archive
// answers and their events. A tenant's page of 500 sessions with their events (500 events
// calls and the listing walks from VBO, over the tenant's 500) is accepted when the archive
// answers it (41,501 objects: within the 50,000), refused for calls when VBO does (reads.from: upstream), and refused for response
// objects either way when its events pages make it too large.
func TestArchiveReadsCost(t *testing.T) {
	t.Parallel()
	const (
		withEvents = `{ restoreSessions(first: 500) { edges { node { name events(first: 40) { edges { node { type } } } } } } }`
		tooLarge   = `{ restoreSessions(first: 500) { edges { node { name events(first: 200) { edges { node { type } } } } } } }`
	)
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, from := range []string{config.ReadsAuto, config.ReadsUpstream} {
			t.Run(engine+"/"+from, func(t *testing.T) {
				t.Parallel()
				_, gw := readsGateway(t, engine, func(c *config.Config) { c.Reads = config.Reads{From: from} })
				c := client.New(gw.Handler, client.Path("/graphql"))
				tenant := demo.TenantKeyPrefix + "1"
				limitOf := func(query string) any {
					for _, e := range errorsOf(t, c, tenant, query) {
						if e["code"] == "QUERY_TOO_COMPLEX" {
							return e["limit"]
						}
					}
					return nil
				}
				want := any(nil)
				if from == config.ReadsUpstream {
					want = "maxUpstreamCalls"
				} else {
					// The estimate judges coverage as the resolvers do: wait until a read says
					// the archive answers every server (the watch's first polls under load).
					waitFor(t, 30*time.Second, func() bool {
						src := postAs(t, c, tenant, pageQuery, map[string]any{"first": 1}).sources()
						return len(src) == 1 && src["archive"]
					}, "the archive to cover the tenant's servers")
				}
				if got := limitOf(withEvents); got != want {
					t.Errorf("first: 500 with events: refused for %v, want %v", got, want)
				}
				if got := limitOf(tooLarge); got != "maxResponseObjects" {
					t.Errorf("first: 500 with events(first: 200): refused for %v, want maxResponseObjects", got)
				}
			})
		}
	}
}

// readResult is one response: its data, extensions.freshness and errors' messages and codes.
type readResult struct {
	Data      json.RawMessage
	Freshness map[string]struct{ Source string }
	Errors    []struct {
		Message    string
		Extensions map[string]any
	}
}

func postAs(t *testing.T, c *client.Client, key, query string, vars map[string]any) readResult {
	t.Helper()
	opts := []client.Option{asKey(key)}
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := c.RawPost(query, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var r readResult
	r.Data, _ = json.Marshal(resp.Data)
	if raw, ok := resp.Extensions["freshness"]; ok {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &r.Freshness); err != nil {
			t.Fatal(err)
		}
	}
	if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
		if err := json.Unmarshal(resp.Errors, &r.Errors); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// sources is the set of freshness sources of r.
func (r readResult) sources() map[string]bool {
	out := map[string]bool{}
	for _, e := range r.Freshness {
		out[e.Source] = true
	}
	return out
}

const pageQuery = `query($first: Int, $after: String, $filter: RestoreSessionFilter, $live: Boolean) {
  restoreSessions(first: $first, after: $after, filter: $filter, live: $live) { pageInfo { endCursor } edges { node { id } } } }`

// TestArchiveReadsFallBackToVBO: what the archive does not cover is read from VBO, and
// extensions.freshness says live for every server read: a window starting before the
// backfill's, a query with live: true; an archive read says archive for each.
func TestArchiveReadsFallBackToVBO(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fleet, gw := readsGateway(t, engine, func(c *config.Config) {
				c.Watch.Interval, c.Watch.Sweep.Interval = time.Hour, -time.Second
				c.Reads = config.Reads{From: config.ReadsArchive}
			})
			c := client.New(gw.Handler, client.Path("/graphql"))
			// watchGateway's backfill reads 100 days back.
			beforeBackfill := time.Now().UTC().Add(-200 * 24 * time.Hour).Format(time.RFC3339)
			withinBackfill := time.Now().UTC().Add(-50 * 24 * time.Hour).Format(time.RFC3339)
			tests := []struct {
				name        string
				vars        map[string]any
				wantSource  string
				wantVBOCall bool
			}{
				{"covered window", map[string]any{"filter": map[string]any{"startTimeFrom": withinBackfill}}, "archive", false},
				{"window before the backfill", map[string]any{"filter": map[string]any{"startTimeFrom": beforeBackfill}}, "live", true},
				{"live: true", map[string]any{"live": true}, "live", true},
			}
			for _, tt := range tests {
				for _, key := range []string{demo.AdminKey, demo.TenantKeyPrefix + "1"} {
					benchResetCalls(fleet)
					tt.vars["first"] = 20
					r := postAs(t, c, key, pageQuery, tt.vars)
					if len(r.Errors) > 0 {
						t.Fatalf("%s/%s: %+v", tt.name, key, r.Errors)
					}
					if n := simCalls(fleet, "RestoreSessions"); (n > 0) != tt.wantVBOCall {
						t.Errorf("%s/%s: %d VBO session calls, want any: %v", tt.name, key, n, tt.wantVBOCall)
					}
					if got := r.sources(); len(got) != 1 || !got[tt.wantSource] {
						t.Errorf("%s/%s: freshness %v, want %s for every server", tt.name, key, r.Freshness, tt.wantSource)
					}
				}
			}
		})
	}
}

// TestArchiveReadsMaxLag: in auto mode a server whose last poll is older than reads.maxLag is
// read from VBO (the watch here polls once, then not for an hour; maxLag is 1s).
func TestArchiveReadsMaxLag(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fleet, gw := readsGateway(t, engine, func(c *config.Config) {
				c.Watch.Interval, c.Watch.Sweep.Interval = time.Hour, -time.Second
				c.Reads = config.Reads{From: config.ReadsAuto, MaxLag: time.Second}
			})
			c := client.New(gw.Handler, client.Path("/graphql"))
			var r readResult
			waitFor(t, 15*time.Second, func() bool {
				benchResetCalls(fleet)
				r = postAs(t, c, demo.AdminKey, pageQuery, map[string]any{"first": 5})
				return len(r.Errors) == 0 && r.sources()["live"]
			}, "reads from VBO once the last poll is older than maxLag")
			if got := r.sources(); len(got) != 1 {
				t.Errorf("freshness %v, want live for every server", r.Freshness)
			}
			if n := simCalls(fleet, "RestoreSessions"); n == 0 {
				t.Error("a live read made no VBO session call")
			}
		})
	}
}

// TestArchiveCursorWithLive: an archive read's cursor continues on the archive; with live: true
// it is refused with a clear BAD_USER_INPUT (VBO's listing has no such position), on both lists.
func TestArchiveCursorWithLive(t *testing.T) {
	t.Parallel()
	_, gw := readsGateway(t, "sqlite", func(c *config.Config) { c.Reads = config.Reads{From: config.ReadsArchive} })
	c := client.New(gw.Handler, client.Path("/graphql"))
	first := postAs(t, c, demo.AdminKey, pageQuery, map[string]any{"first": 3})
	var page struct {
		RestoreSessions struct{ PageInfo struct{ EndCursor string } }
	}
	if err := json.Unmarshal(first.Data, &page); err != nil || page.RestoreSessions.PageInfo.EndCursor == "" || !first.sources()["archive"] {
		t.Fatalf("first page: %s, %v, freshness %v", first.Data, err, first.Freshness)
	}
	after := page.RestoreSessions.PageInfo.EndCursor
	if next := postAs(t, c, demo.AdminKey, pageQuery, map[string]any{"first": 3, "after": after}); len(next.Errors) > 0 || !next.sources()["archive"] {
		t.Errorf("next page from the archive: %+v, freshness %v", next.Errors, next.Freshness)
	}
	var orgs struct {
		Organizations struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	c.MustPost(`{ organizations(first: 1) { edges { node { id } } } }`, &orgs, asKey(demo.AdminKey))
	if len(orgs.Organizations.Edges) == 0 {
		t.Fatal("no organisation")
	}
	orgPage := postAs(t, c, demo.AdminKey, `query($id: ID!) { organization(id: $id) { restoreSessions(first: 2) { pageInfo { endCursor } } } }`,
		map[string]any{"id": orgs.Organizations.Edges[0].Node.ID})
	var op struct {
		Organization struct {
			RestoreSessions struct{ PageInfo struct{ EndCursor string } }
		}
	}
	if err := json.Unmarshal(orgPage.Data, &op); err != nil || op.Organization.RestoreSessions.PageInfo.EndCursor == "" {
		t.Fatalf("organisation page: %s, %v", orgPage.Data, err)
	}
	for name, q := range map[string]readResult{
		"restoreSessions": postAs(t, c, demo.AdminKey, pageQuery, map[string]any{"first": 3, "after": after, "live": true}),
		"organization.restoreSessions": postAs(t, c, demo.AdminKey,
			`query($id: ID!, $after: String) { organization(id: $id) { restoreSessions(first: 2, after: $after, live: true) { edges { node { id } } } } }`,
			map[string]any{"id": orgs.Organizations.Edges[0].Node.ID, "after": op.Organization.RestoreSessions.PageInfo.EndCursor}),
	} {
		if len(q.Errors) != 1 || q.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(q.Errors[0].Message, "archive read") {
			t.Errorf("%s: an archive cursor with live: true answered %+v; want BAD_USER_INPUT naming the archive read", name, q.Errors)
		}
	}
}

// TestNodeFromArchive: node (and restoreSession) of a session the archive holds is read there
// with no VBO call; node of an event reads the event itself from VBO (one call: the archive
// keeps no event links, which prove the event is the session's), its session from the archive.
func TestNodeFromArchive(t *testing.T) {
	t.Parallel()
	fleet, gw := readsGateway(t, "sqlite", func(c *config.Config) {
		c.Watch.Interval, c.Watch.Sweep.Interval = time.Hour, -time.Second
		c.Reads = config.Reads{From: config.ReadsArchive}
	})
	c := client.New(gw.Handler, client.Path("/graphql"))
	var list struct {
		RestoreSessions struct {
			Edges []struct {
				Node struct {
					ID     string
					Events struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
			}
		}
	}
	c.MustPost(`{ restoreSessions(first: 20) { edges { node { id events(first: 1) { edges { node { id } } } } } } }`, &list, asKey(demo.AdminKey))
	var sessionID, eventID string
	for _, e := range list.RestoreSessions.Edges {
		if len(e.Node.Events.Edges) > 0 {
			sessionID, eventID = e.Node.ID, e.Node.Events.Edges[0].Node.ID
			break
		}
	}
	if eventID == "" {
		t.Fatal("no session with events")
	}
	for _, tt := range []struct {
		name, query, id string
		wantCalls       int
	}{
		{"node of a session", `query($id: ID!) { node(id: $id) { id ... on RestoreSession { name } } }`, sessionID, 0},
		{"restoreSession", `query($id: ID!) { restoreSession(id: $id) { id name } }`, sessionID, 0},
		{"node of an event", `query($id: ID!) { node(id: $id) { id ... on RestoreEvent { type } } }`, eventID, 1},
	} {
		benchResetCalls(fleet)
		r := postAs(t, c, demo.AdminKey, tt.query, map[string]any{"id": tt.id})
		if len(r.Errors) > 0 || !strings.Contains(string(r.Data), tt.id) {
			t.Fatalf("%s: %s %+v", tt.name, r.Data, r.Errors)
		}
		if n := simCalls(fleet, "RestoreSessions"); n != tt.wantCalls {
			t.Errorf("%s: %d VBO calls, want %d", tt.name, n, tt.wantCalls)
		}
		if !r.sources()["archive"] {
			t.Errorf("%s: freshness %v, want archive", tt.name, r.Freshness)
		}
	}
}

// TestFreshnessOfManyFields: a query reading sessions from many fields (the dashboard's
// organisation lists, aliases, a live read beside archive reads) answers them all, with one
// extensions.freshness (gqlgen registers an extension key once per response).
func TestFreshnessOfManyFields(t *testing.T) {
	t.Parallel()
	_, gw := readsGateway(t, "sqlite", func(c *config.Config) { c.Reads = config.Reads{From: config.ReadsArchive} })
	c := client.New(gw.Handler, client.Path("/graphql"))
	r := postAs(t, c, demo.AdminKey, `{
	  a: restoreSessions(first: 2) { edges { node { id events(first: 1) { edges { node { id } } } } } }
	  b: restoreSessions(first: 2, live: true) { edges { node { id } } }
	  organizations(first: 5) { edges { node { restoreSessions(first: 2) { edges { node { id } } } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	// Every server was read from the archive (a) and live (b): the archive's answer is the
	// older, so it is what freshness says.
	if len(r.Freshness) != 3 || !reflect.DeepEqual(r.sources(), map[string]bool{"archive": true}) {
		t.Errorf("freshness %v, want archive for each of 3 servers", r.Freshness)
	}
}

// simCallsByName is every simulator's calls by operation, summed.
func simCallsByName(f *demo.Fleet) map[string]int {
	out := map[string]int{}
	for _, s := range f.Sims {
		for k, v := range s.Stats().Calls {
			out[k] += v
		}
	}
	return out
}
