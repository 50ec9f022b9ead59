package e2e_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// ---- 1. field mapping ----

type eventNode struct {
	ID              string              `json:"id"`
	UpstreamID      string              `json:"upstreamId"`
	Session         struct{ ID string } `json:"session"`
	Order           int                 `json:"order"`
	Type            string              `json:"type"`
	Status          string              `json:"status"`
	Title           *string             `json:"title"`
	Message         string              `json:"message"`
	ItemName        *string             `json:"itemName"`
	ItemType        *string             `json:"itemType"`
	ItemSizeBytes   *int64              `json:"itemSizeBytes"`
	Source          *string             `json:"source"`
	Target          *string             `json:"target"`
	StartTime       string              `json:"startTime"`
	EndTime         *string             `json:"endTime"`
	DurationSeconds *float64            `json:"durationSeconds"`
}

type eventConn struct {
	TotalCount *int `json:"totalCount"`
	Edges      []struct {
		Cursor string    `json:"cursor"`
		Node   eventNode `json:"node"`
	} `json:"edges"`
	PageInfo pageInfo `json:"pageInfo"`
}

const mappingQuery = `query {
  viewer { subject role tenant }
  servers { id name apiVersion status }
  organizations(first: 500) {
    totalCount
    edges { node {
      id upstreamId name officeName type region isBackedUp lastBackupTime detached
      server { id name apiVersion }
      restoreSessions(first: 4) {
        edges { node {
          id upstreamId name type state result startTime endTime initiatedBy reason details scopeName
          clientHost { raw machineName viaAddress }
          organization { id name detached server { name } }
          all: events(first: 500, filter: {itemsOnly: false}) {
            totalCount
            edges { node { id upstreamId session { id } order type status title message itemName itemType
              itemSizeBytes source target startTime endTime durationSeconds } }
          }
          items: events(first: 500) { totalCount edges { node { upstreamId order type } } }
        } }
      }
    } }
  }
}`

func TestFieldMapping(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 5, sessions: 150})
	var resp struct {
		Viewer struct {
			Subject string  `json:"subject"`
			Role    string  `json:"role"`
			Tenant  *string `json:"tenant"`
		} `json:"viewer"`
		Servers []struct {
			ID, Name, APIVersion string
			Status               *string
		} `json:"servers"`
		Organizations struct {
			TotalCount int `json:"totalCount"`
			Edges      []struct {
				Node struct {
					ID              string  `json:"id"`
					UpstreamID      string  `json:"upstreamId"`
					Name            string  `json:"name"`
					OfficeName      *string `json:"officeName"`
					Type            string  `json:"type"`
					Region          *string `json:"region"`
					IsBackedUp      *bool   `json:"isBackedUp"`
					LastBackupTime  *string `json:"lastBackupTime"`
					Detached        bool    `json:"detached"`
					Server          struct{ ID, Name, APIVersion string }
					RestoreSessions struct {
						Edges []struct {
							Node struct {
								sessionNode
								All   eventConn `json:"all"`
								Items eventConn `json:"items"`
							} `json:"node"`
						} `json:"edges"`
					} `json:"restoreSessions"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"organizations"`
	}
	h.mustQuery(mappingQuery, nil, &resp)

	if resp.Viewer.Role != "PROVIDER_ADMIN" || resp.Viewer.Tenant != nil || resp.Viewer.Subject == "" {
		t.Errorf("viewer = %+v, want a provider admin without tenant", resp.Viewer)
	}
	if len(resp.Servers) != len(demo.Names) {
		t.Fatalf("servers = %d, want %d", len(resp.Servers), len(demo.Names))
	}
	for i, s := range resp.Servers {
		if s.Name != demo.Names[i] || s.APIVersion != h.sim(s.Name).APIVersion() || show(s.Status) != "UP" {
			t.Errorf("server %d = %+v", i, s)
		}
		if id, err := gid.Parse(s.ID); err != nil || id.Kind != gid.KindServer || id.Server != s.Name {
			t.Errorf("server id %q decodes to %+v, %v", s.ID, id, err)
		}
	}

	// Expected organisations: display order of servers, then name (case-insensitive).
	type wantOrg struct {
		server string
		o      upstream.Organization
	}
	var wantOrgs []wantOrg
	for _, name := range demo.Names {
		orgs := h.sim(name).Organizations()
		slices.SortStableFunc(orgs, func(a, b upstream.Organization) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		})
		for _, o := range orgs {
			wantOrgs = append(wantOrgs, wantOrg{name, o})
		}
	}
	edges := resp.Organizations.Edges
	if resp.Organizations.TotalCount != len(wantOrgs) || len(edges) != len(wantOrgs) {
		t.Fatalf("organizations: totalCount %d, %d edges; want %d", resp.Organizations.TotalCount, len(edges), len(wantOrgs))
	}
	sessionsSeen, eventsSeen, working, via, markers := 0, 0, 0, 0, 0
	for i, e := range edges {
		got, want := e.Node, wantOrgs[i]
		if got.Name != want.o.Name || got.UpstreamID != want.o.ID || got.Server.Name != want.server || got.Detached {
			t.Errorf("org %d = %s/%s (%s), want %s/%s (%s)", i, got.Server.Name, got.Name, got.UpstreamID, want.server, want.o.Name, want.o.ID)
			continue
		}
		if id, err := gid.Parse(got.ID); err != nil || id.Kind != gid.KindOrganization || id.Server != want.server || id.Upstream != want.o.ID {
			t.Errorf("org id %q decodes to %+v, %v", got.ID, id, err)
		}
		if !eqPtr(got.OfficeName, strPtr(want.o.OfficeName)) || !eqPtr(got.Region, strPtr(want.o.Region)) ||
			got.Type != mapped(wantOrgType, want.o.Type) || !eqPtr(got.IsBackedUp, want.o.IsBackedup) ||
			!eqPtr(got.LastBackupTime, rfcPtr(want.o.LastBackuptime)) {
			t.Errorf("org %s: officeName %s region %s type %s isBackedUp %s lastBackupTime %s; want %+v",
				got.Name, show(got.OfficeName), show(got.Region), got.Type, show(got.IsBackedUp), show(got.LastBackupTime), want.o)
		}
		if got.Type == "UNKNOWN" {
			t.Errorf("org %s: type UNKNOWN for %q", got.Name, want.o.Type)
		}

		// The organisation's 4 newest sessions, by name, from the simulator.
		var wantSess []upstream.RestoreSession
		for _, s := range h.sim(want.server).Sessions() {
			if strings.EqualFold(s.Organization, want.o.Name) && len(wantSess) < 4 {
				wantSess = append(wantSess, s)
			}
		}
		gotSess := got.RestoreSessions.Edges
		if len(gotSess) != len(wantSess) {
			t.Errorf("org %s: %d sessions, want %d", got.Name, len(gotSess), len(wantSess))
			continue
		}
		for k, se := range gotSess {
			sessionsSeen++
			gs, ws := se.Node, wantSess[k]
			checkSession(t, want.server, &gs.sessionNode, &ws)
			if gs.Organization.Name != want.o.Name || gs.Organization.ID != got.ID || gs.Organization.Detached ||
				gs.Organization.Server.Name != want.server {
				t.Errorf("session %s: organization = %+v, want %s", ws.ID, gs.Organization, got.ID)
			}
			if ws.State == upstream.SessionStateWorking {
				working++
			}
			if gs.ClientHost != nil && gs.ClientHost.ViaAddress != nil {
				via++
			}
			// Every event, in order, markers included.
			wantEv := h.sim(want.server).Events(ws.ID)
			if len(wantEv) == 0 {
				t.Fatalf("session %s has no events in the simulator", ws.ID)
			}
			if show(gs.All.TotalCount) != fmt.Sprint(len(wantEv)) || len(gs.All.Edges) != len(wantEv) {
				t.Errorf("session %s: events totalCount %s, %d edges; want %d", ws.ID, show(gs.All.TotalCount), len(gs.All.Edges), len(wantEv))
				continue
			}
			for n, ee := range gs.All.Edges {
				eventsSeen++
				checkEvent(t, want.server, gs.ID, &ee.Node, &wantEv[n])
			}
			// Default itemsOnly: true hides exactly the NONE markers.
			var items []upstream.RestoreSessionEvent
			for _, ev := range wantEv {
				if ev.Type != upstream.EventTypeNone {
					items = append(items, ev)
				} else {
					markers++
				}
			}
			if show(gs.Items.TotalCount) != fmt.Sprint(len(items)) || len(gs.Items.Edges) != len(items) {
				t.Errorf("session %s: item events totalCount %s, %d edges; want %d", ws.ID, show(gs.Items.TotalCount), len(gs.Items.Edges), len(items))
				continue
			}
			for n, ee := range gs.Items.Edges {
				if ee.Node.UpstreamID != items[n].ID || ee.Node.Order != items[n].Order || ee.Node.Type == "NONE" {
					t.Errorf("session %s item %d = %+v, want %s/%d", ws.ID, n, ee.Node, items[n].ID, items[n].Order)
				}
			}
		}
	}
	// The data must exercise the interesting cases, or the test proves little.
	if sessionsSeen < 30 || eventsSeen < 100 || working == 0 || via == 0 || markers == 0 {
		t.Errorf("weak coverage: %d sessions, %d events, %d working, %d via, %d markers", sessionsSeen, eventsSeen, working, via, markers)
	}
}

func checkSession(t *testing.T, server string, got *sessionNode, want *upstream.RestoreSession) {
	t.Helper()
	if id, err := gid.Parse(got.ID); err != nil || id.Kind != gid.KindRestoreSession || id.Server != server || id.Upstream != want.ID {
		t.Errorf("session id %q decodes to %+v, %v; want %s/%s", got.ID, id, err, server, want.ID)
	}
	if got.UpstreamID != want.ID || got.Name != want.Name || got.Type != mapped(wantSessionType, want.Type) ||
		got.State != mapped(wantSessionState, want.State) || got.Result != mapped(wantSessionResult, want.Result) {
		t.Errorf("session %s: %s %q %s %s %s; want %q %s %s %s", want.ID, got.UpstreamID, got.Name, got.Type, got.State, got.Result,
			want.Name, want.Type, want.State, want.Result)
	}
	if got.Type == "UNKNOWN" || got.State == "UNKNOWN" || got.Result == "UNKNOWN" {
		t.Errorf("session %s: UNKNOWN enum for %s/%s/%s", want.ID, want.Type, want.State, want.Result)
	}
	if got.StartTime != rfc(want.CreationTime) || !strings.HasSuffix(got.StartTime, "Z") {
		t.Errorf("session %s: startTime %s, want %s", want.ID, got.StartTime, rfc(want.CreationTime))
	}
	if want.State == upstream.SessionStateWorking {
		if got.EndTime != nil {
			t.Errorf("session %s: working but endTime %s", want.ID, *got.EndTime)
		}
	} else if !eqPtr(got.EndTime, rfcPtr(want.EndTime)) || got.EndTime == nil {
		t.Errorf("session %s: endTime %s, want %s", want.ID, show(got.EndTime), show(rfcPtr(want.EndTime)))
	}
	if !eqPtr(got.InitiatedBy, strPtr(want.InitiatedBy)) || !eqPtr(got.Reason, strPtr(want.Reason)) ||
		!eqPtr(got.Details, strPtr(want.Details)) || !eqPtr(got.ScopeName, strPtr(want.ScopeName)) {
		t.Errorf("session %s: initiatedBy %s reason %s details %s scopeName %s; want %q %q %q %q", want.ID,
			show(got.InitiatedBy), show(got.Reason), show(got.Details), show(got.ScopeName),
			want.InitiatedBy, want.Reason, want.Details, want.ScopeName)
	}
	// clientHost: raw as recorded; "NAME (via: ADDR)" splits into machine name and via address.
	if want.ClientHost == "" {
		if got.ClientHost != nil {
			t.Errorf("session %s: clientHost %+v, want null", want.ID, got.ClientHost)
		}
		return
	}
	if got.ClientHost == nil || got.ClientHost.Raw != want.ClientHost {
		t.Errorf("session %s: clientHost %+v, want raw %q", want.ID, got.ClientHost, want.ClientHost)
		return
	}
	wantMachine, wantVia := want.ClientHost, ""
	if m, v, ok := strings.Cut(want.ClientHost, " (via: "); ok {
		wantMachine, wantVia = m, strings.TrimSuffix(v, ")")
	}
	if !eqPtr(got.ClientHost.MachineName, strPtr(wantMachine)) || !eqPtr(got.ClientHost.ViaAddress, strPtr(wantVia)) {
		t.Errorf("session %s: clientHost %q -> machine %s via %s; want %q %q", want.ID, want.ClientHost,
			show(got.ClientHost.MachineName), show(got.ClientHost.ViaAddress), wantMachine, wantVia)
	}
}

func checkEvent(t *testing.T, server, sessionGID string, got *eventNode, want *upstream.RestoreSessionEvent) {
	t.Helper()
	if got.UpstreamID != want.ID || got.Order != want.Order || got.Session.ID != sessionGID {
		t.Errorf("event %s: upstreamId %s order %d (want %d) session %s (want %s)", want.ID, got.UpstreamID, got.Order, want.Order, got.Session.ID, sessionGID)
	}
	sid, _ := gid.Parse(sessionGID)
	if id, err := gid.Parse(got.ID); err != nil || id.Kind != gid.KindRestoreEvent || id.Server != server || id.Upstream != want.ID || id.Parent != sid.Upstream {
		t.Errorf("event id %q decodes to %+v, %v", got.ID, id, err)
	}
	if got.Type != mapped(wantEventType, want.Type) || got.Status != mapped(wantEventStatus, want.Status) ||
		got.Type == "UNKNOWN" || got.Status == "UNKNOWN" {
		t.Errorf("event %s: type %s status %s; want %s %s", want.ID, got.Type, got.Status, want.Type, want.Status)
	}
	if got.Message != want.Message || !eqPtr(got.Title, strPtr(want.Title)) || !eqPtr(got.ItemName, strPtr(want.ItemName)) ||
		!eqPtr(got.ItemType, strPtr(want.ItemType)) || !eqPtr(got.ItemSizeBytes, want.ItemSizeBytes) ||
		!eqPtr(got.Source, strPtr(want.Source)) || !eqPtr(got.Target, strPtr(want.Target)) {
		t.Errorf("event %s: got %+v\nwant %+v", want.ID, got, want)
	}
	if got.StartTime != rfc(want.StartTime) || !eqPtr(got.EndTime, rfcPtr(want.EndTime)) {
		t.Errorf("event %s: times %s..%s, want %s..%s", want.ID, got.StartTime, show(got.EndTime), rfc(want.StartTime), show(rfcPtr(want.EndTime)))
	}
	// The simulator's TimeSpan is endTime-startTime for finished steps, Now-startTime for running.
	var wantDur time.Duration
	if want.EndTime != nil {
		wantDur = want.EndTime.Sub(want.StartTime)
	} else {
		wantDur = fixedNow.Sub(want.StartTime).Truncate(100)
	}
	if got.DurationSeconds == nil || math.Abs(*got.DurationSeconds-wantDur.Seconds()) > 1e-7 {
		t.Errorf("event %s: durationSeconds %s for %q, want %v", want.ID, show(got.DurationSeconds), want.Duration, wantDur.Seconds())
	}
}

// TestGolden pins the output shape of the README's first query.
func TestGolden(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 4, sessions: 60})
	data, errs := h.query(`query RecentRestores {
	  restoreSessions(first: 3, filter: {types: [EXCHANGE, ONEDRIVE, SHAREPOINT, TEAMS]}) {
	    totalCount
	    edges { cursor node {
	      id upstreamId name type state result startTime endTime initiatedBy reason details scopeName
	      clientHost { raw machineName viaAddress }
	      organization { id name officeName type detached server { id name apiVersion } }
	      events(first: 2) {
	        totalCount
	        edges { cursor node { id upstreamId order type status title message itemName itemType itemSizeBytes
	          source target startTime endTime durationSeconds } }
	        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
	      }
	    } }
	    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
	  }
	}`, nil)
	if len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, unsealCursors(t, data), "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "restore_sessions.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("output differs from %s (rerun with -update if intended):\n%s", path, pretty.String())
	}
}

// unsealCursors replaces every sealed cursor in a response's data by its unsealed encoding
// (sealing draws a fresh nonce per cursor: the golden file holds what they say).
func unsealCursors(t *testing.T, data []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "cursor" || k == "startCursor" || k == "endCursor") {
					if c, err := testCursors.DecodeStream(s); err == nil {
						x[k] = gid.EncodeStream(c)
					} else if n, err := testCursors.DecodeOffset(s); err == nil {
						x[k] = gid.EncodeOffset(n)
					} else {
						t.Errorf("%s %q does not open", k, s)
					}
					continue
				}
				x[k] = walk(e)
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---- 2. pagination ----

func TestOrganizationsPaging(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 7, sessions: 30})
	var want []string
	for _, name := range demo.Names {
		orgs := h.sim(name).Organizations()
		slices.SortStableFunc(orgs, func(a, b upstream.Organization) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		})
		for _, o := range orgs {
			want = append(want, name+"/"+o.ID)
		}
	}
	for _, first := range []int{1, 4, 21, 500} {
		t.Run(fmt.Sprint("first=", first), func(t *testing.T) {
			var got []string
			var after any
			for page := 0; page < 100; page++ {
				var resp struct {
					Organizations struct {
						TotalCount int `json:"totalCount"`
						Edges      []struct {
							Cursor string
							Node   struct {
								UpstreamID string
								Server     struct{ Name string }
							}
						}
						PageInfo pageInfo
					}
				}
				h.mustQuery(`query($first: Int, $after: String) { organizations(first: $first, after: $after) {
				  totalCount edges { cursor node { upstreamId server { name } } }
				  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
					map[string]any{"first": first, "after": after}, &resp)
				c := resp.Organizations
				if c.TotalCount != len(want) {
					t.Fatalf("totalCount %d, want %d", c.TotalCount, len(want))
				}
				if c.PageInfo.HasPreviousPage != (page > 0) {
					t.Errorf("page %d: hasPreviousPage %v", page, c.PageInfo.HasPreviousPage)
				}
				for _, e := range c.Edges {
					got = append(got, e.Node.Server.Name+"/"+e.Node.UpstreamID)
				}
				if len(c.Edges) > 0 && *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor {
					t.Errorf("endCursor is not the last edge's cursor")
				}
				if !c.PageInfo.HasNextPage {
					break
				}
				after = *c.PageInfo.EndCursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("walk =\n%v\nwant\n%v", got, want)
			}
		})
	}
	// VboServer.organizations pages one server.
	var resp struct {
		Servers []struct {
			Name          string
			Organizations struct {
				TotalCount int
				Edges      []struct{ Node struct{ UpstreamID string } }
				PageInfo   pageInfo
			}
		}
	}
	h.mustQuery(`{ servers { name organizations(first: 3) { totalCount edges { node { upstreamId } } pageInfo { hasNextPage } } } }`, nil, &resp)
	for i, s := range resp.Servers {
		o := s.Organizations
		if o.TotalCount != 7 || len(o.Edges) != 3 || !o.PageInfo.HasNextPage {
			t.Errorf("server %s: %d of %d, hasNext %v", s.Name, len(o.Edges), o.TotalCount, o.PageInfo.HasNextPage)
			continue
		}
		for k, e := range o.Edges {
			if w := want[i*7+k]; w != s.Name+"/"+e.Node.UpstreamID {
				t.Errorf("server %s org %d = %s, want %s", s.Name, k, e.Node.UpstreamID, w)
			}
		}
	}
}

// orgSessions returns a server's sessions of one organisation (by name), newest first.
func orgSessions(h *harness, server, orgName string) []upstream.RestoreSession {
	var out []upstream.RestoreSession
	for _, s := range h.sim(server).Sessions() {
		if strings.EqualFold(s.Organization, orgName) {
			out = append(out, s)
		}
	}
	return out
}

func TestOrgRestoreSessionsPaging(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 4, sessions: 200})
	for _, server := range demo.Names {
		for _, o := range h.sim(server).Organizations() {
			want := orgSessions(h, server, o.Name)
			orgID := gid.ID{Kind: gid.KindOrganization, Server: server, Upstream: o.ID}.String()
			var got []string
			var after any
			for page := 0; page < 200; page++ {
				var resp struct {
					Organization struct {
						RestoreSessions sessionConn `json:"restoreSessions"`
					}
				}
				h.mustQuery(`query($id: ID!, $after: String) { organization(id: $id) {
				  restoreSessions(first: 7, after: $after) { totalCount edges { cursor node { upstreamId startTime } }
				    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`,
					map[string]any{"id": orgID, "after": after}, &resp)
				c := resp.Organization.RestoreSessions
				if c.PageInfo.HasPreviousPage != (page > 0) {
					t.Errorf("%s/%s page %d: hasPreviousPage %v", server, o.Name, page, c.PageInfo.HasPreviousPage)
				}
				if c.TotalCount != nil && *c.TotalCount != len(want) {
					t.Errorf("%s/%s page %d: totalCount %d, want %d", server, o.Name, page, *c.TotalCount, len(want))
				}
				for _, e := range c.Edges {
					got = append(got, e.Node.UpstreamID)
				}
				if !c.PageInfo.HasNextPage {
					break
				}
				if len(c.Edges) != 7 {
					t.Fatalf("%s/%s page %d: %d edges but hasNextPage", server, o.Name, page, len(c.Edges))
				}
				after = *c.PageInfo.EndCursor
			}
			var wantIDs []string
			for _, s := range want {
				wantIDs = append(wantIDs, s.ID)
			}
			if !slices.Equal(got, wantIDs) {
				t.Errorf("%s/%s: walked %d sessions, want %d\n got %v\nwant %v", server, o.Name, len(got), len(wantIDs), got, wantIDs)
			}
		}
	}
}

func TestEventsPaging(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 3, sessions: 40})
	sim := h.sim("mel1")
	sess := sim.Sessions()[5]
	sim.SetLargeSession(sess.ID, 1203) // more than one upstream page (1000)
	var want []upstream.RestoreSessionEvent
	for _, ev := range sim.Events(sess.ID) {
		if ev.Type != upstream.EventTypeNone {
			want = append(want, ev)
		}
	}
	if len(want) < 1100 {
		t.Fatalf("large session has %d item events", len(want))
	}
	id := gid.ID{Kind: gid.KindRestoreSession, Server: "mel1", Upstream: sess.ID}.String()
	for _, first := range []int{7, 500} {
		var got []int
		var after any
		for page := 0; page < 1000; page++ {
			var resp struct {
				RestoreSession struct{ Events eventConn }
			}
			h.mustQuery(`query($id: ID!, $first: Int, $after: String) { restoreSession(id: $id) {
			  events(first: $first, after: $after) { totalCount edges { cursor node { upstreamId order type } }
			    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`,
				map[string]any{"id": id, "first": first, "after": after}, &resp)
			c := resp.RestoreSession.Events
			if show(c.TotalCount) != fmt.Sprint(len(want)) {
				t.Fatalf("totalCount %s, want %d", show(c.TotalCount), len(want))
			}
			if c.PageInfo.HasPreviousPage != (page > 0) {
				t.Errorf("page %d: hasPreviousPage %v", page, c.PageInfo.HasPreviousPage)
			}
			for _, e := range c.Edges {
				if w := want[len(got)]; e.Node.UpstreamID != w.ID {
					t.Fatalf("first %d: event %d = %s, want %s", first, len(got), e.Node.UpstreamID, w.ID)
				}
				got = append(got, e.Node.Order)
			}
			if !c.PageInfo.HasNextPage {
				break
			}
			after = *c.PageInfo.EndCursor
		}
		if len(got) != len(want) || !slices.IsSorted(got) {
			t.Errorf("first %d: walked %d events (sorted %v), want %d", first, len(got), slices.IsSorted(got), len(want))
		}
	}
}

func TestMergedWalk(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 5, sessions: 400})
	want := h.allSessions()
	if len(want) < 1000 {
		t.Fatalf("only %d sessions", len(want))
	}
	got := h.walkMerged(37, nil)
	checkMerged(t, got, want)
}

// checkMerged asserts a merged walk is newest first without duplicates and holds exactly want.
func checkMerged(t *testing.T, got []sessionNode, want []simSession) {
	t.Helper()
	seen := map[string]bool{}
	for i, s := range got {
		if seen[s.ID] {
			t.Errorf("duplicate session %s at %d", s.ID, i)
		}
		seen[s.ID] = true
		if i > 0 && s.StartTime > got[i-1].StartTime && parseRFC(t, s.StartTime).After(parseRFC(t, got[i-1].StartTime)) {
			t.Errorf("not newest first at %d: %s after %s", i, s.StartTime, got[i-1].StartTime)
		}
	}
	wantIDs := map[string]bool{}
	for _, w := range want {
		wantIDs[gid.ID{Kind: gid.KindRestoreSession, Server: w.Server, Upstream: w.S.ID}.String()] = true
	}
	missing := 0
	for id := range wantIDs {
		if !seen[id] {
			missing++
		}
	}
	extra := 0
	for id := range seen {
		if !wantIDs[id] {
			extra++
		}
	}
	if missing > 0 || extra > 0 || len(got) != len(want) {
		t.Errorf("walked %d sessions, want %d: %d missing, %d unexpected", len(got), len(want), missing, extra)
	}
}

func parseRFC(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return v
}

// ---- 3. filters ----

func TestTimeWindowGoesUpstream(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 4, sessions: 300, record: true})
	all := h.allSessions()
	from := all[len(all)*3/4].S.CreationTime.Add(-time.Hour).Truncate(time.Second)
	to := all[len(all)/4].S.CreationTime.Truncate(time.Second)
	var want []simSession
	for _, s := range all {
		if !s.S.CreationTime.Before(from) && s.S.CreationTime.Before(to) {
			want = append(want, s)
		}
	}
	filter := map[string]any{"startTimeFrom": from.Format(time.RFC3339), "startTimeTo": to.Format(time.RFC3339)}
	got := h.walkMerged(500, filter)
	checkMerged(t, got, want)
	for _, s := range got {
		st := parseRFC(t, s.StartTime)
		if st.Before(from) || !st.Before(to) {
			t.Errorf("session %s at %s outside [%s, %s)", s.ID, s.StartTime, from, to)
		}
	}
	for _, server := range demo.Names {
		ls := h.listings(server)
		if len(ls) == 0 {
			t.Errorf("%s: no listing call", server)
		}
		for _, q := range ls {
			gf, gt := q.Get("startTimeFrom"), q.Get("startTimeTo")
			f, err1 := time.Parse(time.RFC3339Nano, gf)
			u, err2 := time.Parse(time.RFC3339Nano, gt)
			if err1 != nil || err2 != nil || !f.Equal(from) || u.Before(to) && !u.Equal(to) || u.After(to) {
				t.Errorf("%s: listing sent startTimeFrom=%q startTimeTo=%q, want %s and %s", server, gf, gt, from, to)
			}
		}
	}

	// Organization.restoreSessions sends the window too.
	o := h.sim("syd1").Organizations()[0]
	var resp struct {
		Organization struct{ RestoreSessions sessionConn }
	}
	h.mustQuery(`query($id: ID!, $f: RestoreSessionFilter) { organization(id: $id) {
	  restoreSessions(first: 500, filter: $f) { edges { node { upstreamId startTime } } pageInfo { hasNextPage } } } }`,
		map[string]any{"id": gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: o.ID}.String(), "f": filter}, &resp)
	var wantIDs, gotIDs []string
	for _, s := range orgSessions(h, "syd1", o.Name) {
		if !s.CreationTime.Before(from) && s.CreationTime.Before(to) {
			wantIDs = append(wantIDs, s.ID)
		}
	}
	for _, e := range resp.Organization.RestoreSessions.Edges {
		gotIDs = append(gotIDs, e.Node.UpstreamID)
	}
	if !slices.Equal(gotIDs, wantIDs) || len(wantIDs) == 0 {
		t.Errorf("org window: got %v, want %v", gotIDs, wantIDs)
	}
	ls := h.listings("syd1")
	if len(ls) == 0 {
		t.Error("org window: no listing call")
	}
	for _, q := range ls {
		if q.Get("startTimeFrom") == "" || q.Get("startTimeTo") == "" {
			t.Errorf("org window: listing without the window: %v", q)
		}
	}

	// startTimeFrom after startTimeTo is the client's mistake.
	_, errs := h.query(`query($f: RestoreSessionFilter) { restoreSessions(filter: $f) { edges { cursor } } }`,
		map[string]any{"f": map[string]any{"startTimeFrom": to.Format(time.RFC3339), "startTimeTo": from.Format(time.RFC3339)}})
	if len(errs) != 1 || errs[0].code() != "BAD_USER_INPUT" {
		t.Errorf("inverted window: errors %+v, want one BAD_USER_INPUT", errs)
	}
}

func TestSessionFilters(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 5, sessions: 250})
	all := h.allSessions()
	// Pick values present in the data, so the filters select a real, proper subset.
	someInitiator := strings.ToUpper(all[len(all)/3].S.InitiatedBy[:4])
	var someHost string
	for _, s := range all {
		if strings.Contains(s.S.ClientHost, "(via:") {
			someHost = strings.ToLower(upstream.ParseClientHost(s.S.ClientHost).MachineName)
			break
		}
	}
	var viaAddr string
	for _, s := range all {
		if v := upstream.ParseClientHost(s.S.ClientHost).ViaAddress; v != "" {
			viaAddr = v
			break
		}
	}
	orgA := h.sim("syd1").Organizations()[1]
	orgB := h.sim("akl1").Organizations()[0]
	idA := gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: orgA.ID}.String()
	idB := gid.ID{Kind: gid.KindOrganization, Server: "akl1", Upstream: orgB.ID}.String()

	tests := []struct {
		name   string
		filter map[string]any
		match  func(s simSession) bool
	}{
		{"types", map[string]any{"types": []string{"SHAREPOINT", "TEAMS"}},
			func(s simSession) bool { return s.S.Type == "Vesp" || s.S.Type == "Vet" }},
		{"states", map[string]any{"states": []string{"WORKING"}},
			func(s simSession) bool { return s.S.State == "Working" }},
		{"results", map[string]any{"results": []string{"FAILED", "WARNING"}},
			func(s simSession) bool { return s.S.Result == "Failed" || s.S.Result == "Warning" }},
		{"initiatedBy", map[string]any{"initiatedBy": someInitiator},
			func(s simSession) bool {
				return strings.Contains(strings.ToLower(s.S.InitiatedBy), strings.ToLower(someInitiator))
			}},
		{"clientHost machine", map[string]any{"clientHost": strings.ToUpper(someHost)},
			func(s simSession) bool { return strings.Contains(strings.ToLower(s.S.ClientHost), someHost) }},
		{"clientHost via address (raw)", map[string]any{"clientHost": viaAddr},
			func(s simSession) bool { return strings.Contains(s.S.ClientHost, viaAddr) }},
		{"servers", map[string]any{"servers": []string{"mel1", "akl1"}},
			func(s simSession) bool { return s.Server == "mel1" || s.Server == "akl1" }},
		{"organizationIds", map[string]any{"organizationIds": []string{idA, idB}},
			func(s simSession) bool {
				return s.Server == "syd1" && s.S.Organization == orgA.Name || s.Server == "akl1" && s.S.Organization == orgB.Name
			}},
		{"organizationIds and servers", map[string]any{"organizationIds": []string{idA, idB}, "servers": []string{"akl1"}},
			func(s simSession) bool { return s.Server == "akl1" && s.S.Organization == orgB.Name }},
		{"combined", map[string]any{"types": []string{"EXCHANGE"}, "results": []string{"SUCCESS"}, "servers": []string{"syd1"}},
			func(s simSession) bool { return s.Server == "syd1" && s.S.Type == "Vex" && s.S.Result == "Success" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []simSession
			for _, s := range all {
				if tc.match(s) {
					want = append(want, s)
				}
			}
			if len(want) == len(all) {
				t.Fatalf("filter selects everything; the test would prove nothing")
			}
			got := h.walkMerged(100, tc.filter)
			checkMerged(t, got, want)
		})
	}

	// The same attribute filter on Organization.restoreSessions.
	o := h.sim("syd1").Organizations()[0]
	var want []string
	for _, s := range orgSessions(h, "syd1", o.Name) {
		if s.Type == "Vex" {
			want = append(want, s.ID)
		}
	}
	var resp struct {
		Organization struct{ RestoreSessions sessionConn }
	}
	h.mustQuery(`query($id: ID!) { organization(id: $id) {
	  restoreSessions(first: 500, filter: {types: [EXCHANGE], servers: ["mel1"]}) { totalCount edges { node { upstreamId } } } } }`,
		map[string]any{"id": gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: o.ID}.String()}, &resp)
	var got []string
	for _, e := range resp.Organization.RestoreSessions.Edges {
		got = append(got, e.Node.UpstreamID)
	}
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("org EXCHANGE sessions: got %d %v, want %d %v", len(got), got, len(want), want)
	}
	if tc := resp.Organization.RestoreSessions.TotalCount; tc != nil && *tc != len(want) {
		t.Errorf("org EXCHANGE totalCount %d, want %d", *tc, len(want))
	}
}

func TestOrganizationFilter(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 6, sessions: 20})
	needle := h.sim("mel1").Organizations()[2].Name[:3]
	var want []string
	for _, server := range []string{"syd1", "mel1"} {
		var names []string
		for _, o := range h.sim(server).Organizations() {
			if strings.Contains(strings.ToLower(o.Name), strings.ToLower(needle)) {
				names = append(names, o.Name)
			}
		}
		slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		for _, n := range names {
			want = append(want, server+"/"+n)
		}
	}
	var resp struct {
		Organizations struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Name   string
					Server struct{ Name string }
				}
			}
		}
	}
	h.mustQuery(`query($f: OrganizationFilter) { organizations(first: 500, filter: $f) { totalCount edges { node { name server { name } } } } }`,
		map[string]any{"f": map[string]any{"servers": []string{"mel1", "syd1"}, "nameContains": strings.ToUpper(needle)}}, &resp)
	var got []string
	for _, e := range resp.Organizations.Edges {
		got = append(got, e.Node.Server.Name+"/"+e.Node.Name)
	}
	if !slices.Equal(got, want) || resp.Organizations.TotalCount != len(want) || len(want) == 0 {
		t.Errorf("organizations(servers, nameContains %q) = %v (total %d), want %v", needle, got, resp.Organizations.TotalCount, want)
	}
}

// ---- 4. node(id:) and bad input ----

func TestNodeRoundTrip(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 3, sessions: 30})
	var resp struct {
		Servers       []struct{ ID string }
		Organizations struct {
			Edges []struct {
				Node struct {
					ID              string
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
			}
		}
	}
	h.mustQuery(`{ servers { id } organizations(first: 2) { edges { node { id
	  restoreSessions(first: 2) { edges { node { id events(first: 2, filter: {itemsOnly: false}) { edges { node { id } } } } } } } } } }`, nil, &resp)
	ids := map[string][]string{}
	for _, s := range resp.Servers {
		ids["VboServer"] = append(ids["VboServer"], s.ID)
	}
	for _, o := range resp.Organizations.Edges {
		ids["Organization"] = append(ids["Organization"], o.Node.ID)
		for _, s := range o.Node.RestoreSessions.Edges {
			ids["RestoreSession"] = append(ids["RestoreSession"], s.Node.ID)
			for _, e := range s.Node.Events.Edges {
				ids["RestoreEvent"] = append(ids["RestoreEvent"], e.Node.ID)
			}
		}
	}
	for _, kind := range []string{"VboServer", "Organization", "RestoreSession", "RestoreEvent"} {
		if len(ids[kind]) == 0 {
			t.Fatalf("no %s ids to test", kind)
		}
		for _, id := range ids[kind] {
			var r struct {
				Node *struct {
					ID       string `json:"id"`
					Typename string `json:"__typename"`
				}
			}
			h.mustQuery(`query($id: ID!) { node(id: $id) { __typename id } }`, map[string]any{"id": id}, &r)
			if r.Node == nil || r.Node.ID != id || r.Node.Typename != kind {
				t.Errorf("node(%s) = %+v, want %s with the same id", id, r.Node, kind)
			}
		}
	}
	// Typed lookups agree with node.
	sid := ids["RestoreSession"][0]
	oid := ids["Organization"][0]
	var r struct {
		RestoreSession struct{ ID string }
		Organization   struct{ ID string }
	}
	h.mustQuery(`query($s: ID!, $o: ID!) { restoreSession(id: $s) { id } organization(id: $o) { id } }`,
		map[string]any{"s": sid, "o": oid}, &r)
	if r.RestoreSession.ID != sid || r.Organization.ID != oid {
		t.Errorf("restoreSession/organization = %+v", r)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 3, sessions: 30})
	sess := h.sim("syd1").Sessions()[0]
	org := h.sim("syd1").Organizations()[0]
	sessID := gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: sess.ID}.String()
	orgID := gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: org.ID}.String()
	unknownUUID := "0b7e1c1e-0000-4000-8000-000000000001"

	// A detached organisation: a session names an organisation the server no longer has.
	h.sim("mel1").AddSession(upstream.RestoreSession{Organization: "Gone Away Ltd", CreationTime: fixedNow.Add(-time.Minute),
		EndTime: ptrTime(fixedNow)})
	var det struct {
		RestoreSessions struct {
			Edges []struct {
				Node struct {
					Organization struct {
						ID, Name, UpstreamID string
						Detached             bool
					}
				}
			}
		}
	}
	h.mustQuery(`{ restoreSessions(first: 1, filter: {servers: ["mel1"]}) { edges { node { organization { id name upstreamId detached } } } } }`, nil, &det)
	if len(det.RestoreSessions.Edges) != 1 {
		t.Fatal("no session")
	}
	d := det.RestoreSessions.Edges[0].Node.Organization
	if !d.Detached || d.Name != "Gone Away Ltd" || d.UpstreamID != "" {
		t.Errorf("detached org = %+v", d)
	}

	offsetCursor := testCursors.EncodeOffset(3)
	streamCursor := testCursors.EncodeStream(gid.StreamCursor{"syd1": {Time: fixedNow, Skip: 0}})
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
	}{
		{"node garbage", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": "%%%not base64%%%"}, "BAD_USER_INPUT"},
		{"node empty", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ""}, "BAD_USER_INPUT"},
		{"node base64 junk", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": base64URL("hello world")}, "BAD_USER_INPUT"},
		{"node unknown kind", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": base64URL("Widget:syd1:abc")}, "BAD_USER_INPUT"},
		{"node bad upstream id", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": base64URL("RestoreSession:syd1:a/b")}, "BAD_USER_INPUT"},
		{"node bad server name", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": base64URL("VboServer:sy d1")}, "BAD_USER_INPUT"},
		{"node too long", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": strings.Repeat("A", 5000)}, "BAD_USER_INPUT"},
		{"node unknown server", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindServer, Server: "nope"}.String()}, "NOT_FOUND"},
		{"node org on unknown server", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindOrganization, Server: "nope", Upstream: org.ID}.String()}, "NOT_FOUND"},
		{"node unknown org", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: unknownUUID}.String()}, "NOT_FOUND"},
		{"node org of another server", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindOrganization, Server: "mel1", Upstream: org.ID}.String()}, "NOT_FOUND"},
		{"node unknown session", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: unknownUUID}.String()}, "NOT_FOUND"},
		{"node session on unknown server", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindRestoreSession, Server: "nope", Upstream: sess.ID}.String()}, "NOT_FOUND"},
		{"node plausible non-uuid session", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: "abc"}.String()}, "NOT_FOUND"},
		{"node unknown event", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindRestoreEvent, Server: "syd1", Parent: sess.ID, Upstream: unknownUUID}.String()}, "NOT_FOUND"},
		{"node event of unknown session", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindRestoreEvent, Server: "syd1", Parent: unknownUUID, Upstream: unknownUUID}.String()}, "NOT_FOUND"},
		{"node detached org", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": d.ID}, "NOT_FOUND"},
		{"organization with session id", `query($id: ID!) { organization(id: $id) { id } }`, map[string]any{"id": sessID}, "BAD_USER_INPUT"},
		{"restoreSession with org id", `query($id: ID!) { restoreSession(id: $id) { id } }`, map[string]any{"id": orgID}, "BAD_USER_INPUT"},
		{"restoreSession unknown", `query($id: ID!) { restoreSession(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindRestoreSession, Server: "mel1", Upstream: unknownUUID}.String()}, "NOT_FOUND"},
		{"organizationIds with session id", `query($f: RestoreSessionFilter) { restoreSessions(filter: $f) { edges { cursor } } }`, map[string]any{"f": map[string]any{"organizationIds": []string{sessID}}}, "BAD_USER_INPUT"},
		{"organizations garbage cursor", `query($a: String) { organizations(after: $a) { edges { cursor } } }`, map[string]any{"a": "!!"}, "BAD_USER_INPUT"},
		{"organizations stream cursor", `query($a: String) { organizations(after: $a) { edges { cursor } } }`, map[string]any{"a": streamCursor}, "BAD_USER_INPUT"},
		{"organizations junk cursor", `query($a: String) { organizations(after: $a) { edges { cursor } } }`, map[string]any{"a": base64URL("o1:-5")}, "BAD_USER_INPUT"},
		{"server organizations stream cursor", `query($a: String) { servers { organizations(after: $a) { edges { cursor } } } }`, map[string]any{"a": streamCursor}, "BAD_USER_INPUT"},
		{"restoreSessions garbage cursor", `query($a: String) { restoreSessions(after: $a) { edges { cursor } } }`, map[string]any{"a": "!!"}, "BAD_USER_INPUT"},
		{"restoreSessions offset cursor", `query($a: String) { restoreSessions(after: $a) { edges { cursor } } }`, map[string]any{"a": offsetCursor}, "BAD_USER_INPUT"},
		{"restoreSessions junk cursor", `query($a: String) { restoreSessions(after: $a) { edges { cursor } } }`, map[string]any{"a": base64URL("s1:syd1=x,y")}, "BAD_USER_INPUT"},
		{"restoreSessions base64 junk", `query($a: String) { restoreSessions(after: $a) { edges { cursor } } }`, map[string]any{"a": base64URL("\x00\xff junk")}, "BAD_USER_INPUT"},
		{"org restoreSessions offset cursor", `query($id: ID!, $a: String) { organization(id: $id) { restoreSessions(after: $a) { edges { cursor } } } }`, map[string]any{"id": orgID, "a": offsetCursor}, "BAD_USER_INPUT"},
		{"node plausible non-uuid event", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.ID{Kind: gid.KindRestoreEvent, Server: "syd1", Parent: sess.ID, Upstream: "abc"}.String()}, "NOT_FOUND"},
		{"org restoreSessions cursor of another server", `query($id: ID!, $a: String) { organization(id: $id) { restoreSessions(after: $a) { edges { cursor } } } }`, map[string]any{"id": orgID, "a": testCursors.EncodeStream(gid.StreamCursor{"mel1": {Time: fixedNow, Skip: 1}})}, "BAD_USER_INPUT"},
		{"restoreSessions cursor with unknown server", `query($a: String) { restoreSessions(after: $a) { edges { cursor } } }`, map[string]any{"a": testCursors.EncodeStream(gid.StreamCursor{"nope": {Time: fixedNow, Skip: 1}})}, "BAD_USER_INPUT"},
		{"events stream cursor", `query($id: ID!, $a: String) { restoreSession(id: $id) { events(after: $a) { edges { cursor } } } }`, map[string]any{"id": sessID, "a": streamCursor}, "BAD_USER_INPUT"},
		{"events garbage cursor", `query($id: ID!, $a: String) { restoreSession(id: $id) { events(after: $a) { edges { cursor } } } }`, map[string]any{"id": sessID, "a": "@@"}, "BAD_USER_INPUT"},
		{"organizations first -1", `{ organizations(first: -1) { edges { cursor } } }`, nil, "BAD_USER_INPUT"},
		{"organizations first 501", `{ organizations(first: 501) { edges { cursor } } }`, nil, "BAD_USER_INPUT"},
		{"server organizations first 501", `{ servers { organizations(first: 501) { edges { cursor } } } }`, nil, "BAD_USER_INPUT"},
		{"restoreSessions first -1", `{ restoreSessions(first: -1) { edges { cursor } } }`, nil, "BAD_USER_INPUT"},
		{"restoreSessions first 501", `{ restoreSessions(first: 501) { edges { cursor } } }`, nil, "BAD_USER_INPUT"},
		{"org restoreSessions first 501", `query($id: ID!) { organization(id: $id) { restoreSessions(first: 501) { edges { cursor } } } }`, map[string]any{"id": orgID}, "BAD_USER_INPUT"},
		{"org restoreSessions first -1", `query($id: ID!) { organization(id: $id) { restoreSessions(first: -1) { edges { cursor } } } }`, map[string]any{"id": orgID}, "BAD_USER_INPUT"},
		{"events first -1", `query($id: ID!) { restoreSession(id: $id) { events(first: -1) { edges { cursor } } } }`, map[string]any{"id": sessID}, "BAD_USER_INPUT"},
		{"events first 501", `query($id: ID!) { restoreSession(id: $id) { events(first: 501) { edges { cursor } } } }`, map[string]any{"id": sessID}, "BAD_USER_INPUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := h.query(tc.query, tc.vars)
			if len(errs) == 0 {
				t.Fatalf("no error, want %s", tc.code)
			}
			for _, e := range errs {
				if e.code() != tc.code {
					t.Errorf("error %q code %q, want %q", e.Message, e.code(), tc.code)
				}
			}
		})
	}

	// first: 0 is allowed and answers an empty page.
	var zero struct {
		RestoreSessions sessionConn
		Organizations   struct{ Edges []any }
	}
	h.mustQuery(`{ restoreSessions(first: 0) { edges { cursor } pageInfo { hasNextPage } } organizations(first: 0) { edges { cursor } } }`, nil, &zero)
	if len(zero.RestoreSessions.Edges) != 0 || !zero.RestoreSessions.PageInfo.HasNextPage || len(zero.Organizations.Edges) != 0 {
		t.Errorf("first: 0 = %+v", zero)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
