package vbosim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// post sends a JSON POST with the harness token.
func (h *harness) post(path, body string) resp {
	h.t.Helper()
	if h.tok == "" {
		h.login()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return h.do("POST", path, rd, map[string]string{"Authorization": "Bearer " + h.tok, "Content-Type": "application/json"})
}

// explore opens a session of typ on the first organisation and returns it.
func (h *harness) explore(typ string) upstream.RestoreSession {
	h.t.Helper()
	org := h.sim.Organizations()[0].ID
	r := h.post("/"+h.sim.APIVersion()+"/Organizations/"+org+"/explore", `{"type":"`+typ+`","showDeleted":true}`)
	want := http.StatusOK
	if h.sim.APIVersion() == "v8" {
		want = http.StatusCreated
	}
	if r.status != want {
		h.t.Fatalf("explore: %d %s", r.status, r.body)
	}
	var rs upstream.RestoreSession
	mustJSON(h.t, r.body, &rs)
	return rs
}

func TestExploreStopLifecycle(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 3})
			rs := h.explore("Veod")
			if rs.State != upstream.SessionStateWorking || rs.Type != upstream.SessionTypeOneDrive || rs.InitiatedBy != "admin" || rs.ClientHost != "127.0.0.1" {
				t.Fatalf("explored session = %+v", rs)
			}
			if rs.Organization != h.sim.Organizations()[0].Name || rs.EndTime != nil {
				t.Fatalf("explored session = %+v", rs)
			}
			var listed upstream.Page[upstream.RestoreSession]
			h.getJSON("/"+ver+"/RestoreSessions?limit=1000", &listed)
			found := false
			for _, s := range listed.Results {
				found = found || s.ID == rs.ID && s.State == upstream.SessionStateWorking
			}
			if !found {
				t.Fatal("explored session not listed as Working")
			}
			es := h.sim.ExploredSessions()
			if len(es) != 1 || es[0].SessionID != rs.ID || !es[0].Open || !es[0].ShowDeleted || es[0].User != "admin" {
				t.Fatalf("ExploredSessions = %+v", es)
			}
			r := h.post("/"+ver+"/RestoreSessions/"+rs.ID+"/Stop", "")
			wantStop := map[string]int{"v6": 200, "v8": 204}[ver]
			if r.status != wantStop || len(r.body) != 0 {
				t.Fatalf("stop: %d %q", r.status, r.body)
			}
			var got upstream.RestoreSession
			h.getJSON("/"+ver+"/RestoreSessions/"+rs.ID, &got)
			if got.State != upstream.SessionStateStopped || got.Result != upstream.SessionResultSuccess || got.EndTime == nil {
				t.Fatalf("stopped session = %+v", got)
			}
			evs := h.sim.Events(rs.ID)
			if last := evs[len(evs)-1]; last.Title != "Restore session stopped" {
				t.Fatalf("last event %+v", last)
			}
			for _, c := range []struct {
				name, path, body string
				status           int
			}{
				{"stop again", "/RestoreSessions/" + rs.ID + "/Stop", "", 400},
				{"browse stopped", "/RestoreSessions/" + rs.ID + "/Organization/OneDrives", "", 400},
				{"stop unknown", "/RestoreSessions/3f2504e0-4f89-41d3-9a0c-0305e82c3301/Stop", "", 404},
				{"explore unknown org", "/Organizations/3f2504e0-4f89-41d3-9a0c-0305e82c3301/explore", `{"type":"Vex"}`, 404},
				{"explore bad type", "/Organizations/" + h.sim.Organizations()[0].ID + "/explore", `{"type":"Vxx"}`, 400},
				{"explore bad json", "/Organizations/" + h.sim.Organizations()[0].ID + "/explore", `{"type":`, 400},
			} {
				var r resp
				if strings.HasSuffix(c.path, "OneDrives") {
					r = h.get("/" + ver + c.path)
				} else {
					r = h.post("/"+ver+c.path, c.body)
				}
				if r.status != c.status {
					t.Errorf("%s: %d %s", c.name, r.status, r.body)
				}
			}
			if len(h.sim.ExploredSessions()) != 1 || h.sim.ExploredSessions()[0].Open {
				t.Fatalf("ExploredSessions after stop = %+v", h.sim.ExploredSessions())
			}
		})
	}
}

func TestBrowseWrongWorkloadRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 5, Orgs: 2})
	rs := h.explore("Vex")
	r := h.get("/v8/RestoreSessions/" + rs.ID + "/Organization/Sites")
	if r.status != 400 || !strings.Contains(string(r.body), "SharePoint") {
		t.Fatalf("sites in an Exchange session: %d %s", r.status, r.body)
	}
	gen := h.sim.Sessions()[1].ID // a generated session was not explored: no browsing
	if gen == rs.ID {
		t.Fatal("picked the explored session")
	}
	if r := h.get("/v8/RestoreSessions/" + gen + "/organization/mailboxes"); r.status != 400 {
		t.Fatalf("generated session browse: %d", r.status)
	}
}

// pageAll pages a collection with limit and returns the ids (key "id" or "postId").
func pageAll(t *testing.T, h *harness, path string, limit int, ver string) []string {
	t.Helper()
	var ids []string
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for off := 0; ; off += limit {
		var p struct {
			Offset     int               `json:"offset"`
			Limit      int               `json:"limit"`
			TotalCount *int              `json:"totalCount"`
			Results    []json.RawMessage `json:"results"`
			Links      upstream.Links    `json:"_links"`
		}
		h.getJSON(fmt.Sprintf("%s%soffset=%d&limit=%d", path, sep, off, limit), &p)
		if p.Offset != off || p.Limit != limit || len(p.Results) > limit {
			t.Fatalf("page at %d: offset %d limit %d, %d results", off, p.Offset, p.Limit, len(p.Results))
		}
		if (ver == "v6") != (p.TotalCount != nil) {
			t.Fatalf("%s totalCount %v", ver, p.TotalCount)
		}
		for _, r := range p.Results {
			var x struct {
				ID     string `json:"id"`
				PostID int64  `json:"postId"`
			}
			mustJSON(t, r, &x)
			if x.ID == "" {
				x.ID = fmt.Sprint(x.PostID)
			}
			ids = append(ids, x.ID)
		}
		_, hasNext := p.Links["next"]
		if hasNext != (len(p.Results) == limit && (p.TotalCount == nil || off+limit < *p.TotalCount)) && len(p.Results) == limit {
			// with exactly limit results, next exists unless this was the last page
			if p.TotalCount != nil && off+limit < *p.TotalCount && !hasNext {
				t.Fatalf("page at %d lacks next", off)
			}
		}
		if len(p.Results) < limit && hasNext {
			t.Fatalf("short page at %d has next", off)
		}
		if !hasNext {
			return ids
		}
	}
}

func nodeIDs(ns []*Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func TestBrowsePagingMatchesTree(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 2})
			tree := h.sim.Tree(h.sim.Organizations()[0].ID)
			mb := tree.Mailboxes[0]
			inbox := mb.Filter(KindMailFolder)[0]
			folderParam := map[string]string{"v6": "folderId", "v8": "parentId"}[ver]
			drive := tree.OneDrives[0]
			site := tree.Sites[0]
			lib := site.Filter(KindLibrary)[0]
			team := tree.Teams[0]
			general := team.Filter(KindChannel)[0]
			sessions := map[string]string{}
			for _, typ := range []string{"Vex", "Veod", "Vesp", "Vet"} {
				sessions[typ] = h.explore(typ).ID
			}
			R := func(typ string) string { return "/" + ver + "/RestoreSessions/" + sessions[typ] }
			cases := []struct {
				name, path string
				want       []*Node
			}{
				{"mailboxes", R("Vex") + "/organization/mailboxes", tree.Mailboxes},
				{"folders", R("Vex") + "/organization/mailboxes/" + mb.ID + "/folders", mb.Filter(KindMailFolder)},
				{"subfolders", R("Vex") + "/organization/mailboxes/" + mb.ID + "/folders?parentId=" + inbox.ID, inbox.Filter(KindMailFolder)},
				{"inbox items", R("Vex") + "/organization/mailboxes/" + mb.ID + "/items?" + folderParam + "=" + inbox.ID, inbox.Filter(KindMailItem)},
				{"onedrives", R("Veod") + "/Organization/OneDrives", tree.OneDrives},
				{"drive folders", R("Veod") + "/Organization/OneDrives/" + drive.ID + "/Folders", drive.Filter(KindDriveFolder)},
				{"drive documents", R("Veod") + "/Organization/OneDrives/" + drive.ID + "/Documents?parentId=" + drive.Children[0].ID, drive.Children[0].Filter(KindDriveDoc)},
				{"sites", R("Vesp") + "/Organization/Sites", tree.Sites},
				{"libraries", R("Vesp") + "/Organization/Sites/" + site.ID + "/Libraries", site.Filter(KindLibrary)},
				{"lists", R("Vesp") + "/Organization/Sites/" + site.ID + "/Lists", site.Filter(KindList)},
				{"library documents", R("Vesp") + "/Organization/Sites/" + site.ID + "/Documents?parentId=" + lib.ID, lib.Filter(KindSiteDoc)},
				{"list items", R("Vesp") + "/Organization/Sites/" + site.ID + "/Items?parentId=" + site.Filter(KindList)[0].ID, site.Filter(KindList)[0].Filter(KindSiteItem)},
				{"teams", R("Vet") + "/organization/teams", tree.Teams},
				{"channels", R("Vet") + "/organization/teams/" + team.ID + "/channels", team.Filter(KindChannel)},
				{"posts", R("Vet") + "/organization/teams/" + team.ID + "/posts?channelId=" + general.ID, general.Filter(KindPost)},
				{"files", R("Vet") + "/organization/teams/" + team.ID + "/files?channelId=" + general.ID, general.Filter(KindTeamFile)},
			}
			for _, c := range cases {
				for _, limit := range []int{1, 7, 30, 10000} {
					if limit == 1 && len(c.want) > 20 {
						continue
					}
					got := pageAll(t, h, c.path, limit, ver)
					if !reflect.DeepEqual(got, nodeIDs(c.want)) {
						t.Fatalf("%s limit %d: got %d ids, want %d (%v vs %v)", c.name, limit, len(got), len(c.want), got, nodeIDs(c.want))
					}
				}
			}
			if n := len(inbox.Filter(KindMailItem)); n != BigFolderItems {
				t.Fatalf("inbox has %d items", n)
			}
			// past the end: an empty page without next
			var p upstream.Page[json.RawMessage]
			h.getJSON(R("Vex")+"/organization/mailboxes?offset=500&limit=10", &p)
			if len(p.Results) != 0 || p.Links["next"].Href != "" {
				t.Fatalf("past the end: %+v", p)
			}
			if r := h.get(R("Vex") + "/organization/mailboxes?limit=0"); r.status != 400 {
				t.Fatalf("limit=0: %d", r.status)
			}
			if r := h.get(R("Vex") + "/organization/mailboxes/" + tree.OneDrives[0].ID + "/folders"); r.status != 404 {
				t.Fatalf("a OneDrive id as mailbox: %d", r.status)
			}
		})
	}
}

func TestTreeDeterministic(t *testing.T) {
	t.Parallel()
	a := New(Options{Seed: 7, Orgs: 3, Sessions: 1, Now: testNow})
	b := New(Options{Seed: 7, Orgs: 3, Sessions: 1, Now: testNow})
	orgs := a.Organizations()
	flat := func(t *OrgTree) []string {
		var out []string
		var walk func(ns []*Node)
		walk = func(ns []*Node) {
			for _, n := range ns {
				out = append(out, string(n.Kind)+"|"+n.ID+"|"+n.Name+"|"+fmt.Sprint(n.Size, n.Modified.Unix()))
				walk(n.Children)
			}
		}
		walk(t.Mailboxes)
		walk(t.OneDrives)
		walk(t.Sites)
		walk(t.Teams)
		return out
	}
	x, y := flat(a.Tree(orgs[0].ID)), flat(b.Tree(orgs[0].ID))
	if !reflect.DeepEqual(x, y) || len(x) < 4*BigFolderItems {
		t.Fatalf("trees differ or too small (%d nodes)", len(x))
	}
	if reflect.DeepEqual(x, flat(a.Tree(orgs[1].ID))) {
		t.Fatal("two organisations share a tree")
	}
	if a.Tree("3f2504e0-4f89-41d3-9a0c-0305e82c3301") != nil || a.Tree("junk") != nil {
		t.Fatal("tree for an unknown organisation")
	}
	seen := map[string]bool{}
	for _, s := range x {
		id := strings.Split(s, "|")[1]
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestBrowseAppendsEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 5, Orgs: 2})
	rs := h.explore("Vex")
	tree := h.sim.Tree(h.sim.Organizations()[0].ID)
	mb := tree.Mailboxes[0]
	inbox := mb.Filter(KindMailFolder)[0]
	var before upstream.RestoreSession
	h.getJSON("/v8/RestoreSessions/"+rs.ID, &before)
	from := h.latest(t)
	R := "/v8/RestoreSessions/" + rs.ID + "/organization/mailboxes/" + mb.ID
	for _, p := range []string{"/folders", "/items?parentId=" + inbox.ID + "&limit=50", "/items?parentId=" + inbox.ID + "&limit=50&offset=50"} {
		if r := h.get(R + p); r.status != 200 {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	if r := h.post(R+"/search", `{"query":"#1"}`); r.status != 200 {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	var evs upstream.Page[upstream.RestoreSessionEvent]
	h.getJSON("/v8/RestoreSessions/"+rs.ID+"/Events?limit=100", &evs)
	var msgs []string
	for _, e := range evs.Results[1:] {
		if e.Type != upstream.EventTypeView || e.Status != upstream.EventStatusSuccess {
			t.Fatalf("event %+v", e)
		}
		msgs = append(msgs, e.Message)
	}
	hits := 0
	mb.Walk(KindMailItem, func(n *Node) {
		if strings.Contains(n.Name, "#1") {
			hits++
		}
	})
	want := []string{
		fmt.Sprintf(`Mailbox "%s" was opened successfully`, mb.Name),
		`Folder "Inbox" was opened successfully`,
		`Folder "Inbox": items 51-100 were listed`,
		fmt.Sprintf(`Search for "#1" in Mailbox "%s" found %d item(s)`, mb.Name, hits),
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("events:\n%q\nwant\n%q", msgs, want)
	}
	var after upstream.RestoreSession
	h.getJSON("/v8/RestoreSessions/"+rs.ID, &after)
	if *after.ETag != *before.ETag+4 {
		t.Fatalf("eTag %d -> %d", *before.ETag, *after.ETag)
	}
	page := h.changes(t, from, "")
	last := page.Results[len(page.Results)-1]
	if len(page.Results) != 4 || last.ID != rs.ID || last.ETag != *after.ETag {
		t.Fatalf("change feed %+v", page.Results)
	}
}

func TestIdleSessionClosed(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			clk := &fakeClock{t: testNow}
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 2, Clock: clk.Now, RestoreIdleTimeout: 5 * time.Minute})
			a, b := h.explore("Vex"), h.explore("Vet")
			clk.Add(4 * time.Minute)
			if r := h.get("/" + ver + "/RestoreSessions/" + b.ID + "/organization/teams"); r.status != 200 {
				t.Fatalf("teams: %d", r.status)
			}
			clk.Add(90 * time.Second) // a idle 5m30s, b 1m30s
			var got upstream.RestoreSession
			h.getJSON("/"+ver+"/RestoreSessions/"+a.ID, &got)
			if got.State != upstream.SessionStateStopped || got.EndTime == nil || !got.EndTime.Equal(clk.Now()) {
				t.Fatalf("idle session = %+v", got)
			}
			evs := h.sim.Events(a.ID)
			if m := evs[len(evs)-1].Message; m != "Restore session was stopped because it was inactive for 5m0s" {
				t.Fatalf("idle stop message %q", m)
			}
			h.getJSON("/"+ver+"/RestoreSessions/"+b.ID, &got)
			if got.State != upstream.SessionStateWorking {
				t.Fatalf("active session stopped: %+v", got)
			}
			if r := h.get("/" + ver + "/RestoreSessions/" + a.ID + "/organization/mailboxes"); r.status != 400 {
				t.Fatalf("browse idle-closed: %d", r.status)
			}
			clk.Add(5 * time.Minute)
			if n := h.sim.ReapIdleRestoreSessions(); n != 1 {
				t.Fatalf("reaped %d", n)
			}
		})
	}
}

func TestExploreSessionLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 5, Orgs: 2, MaxRestoreSessions: 2})
	a := h.explore("Vex")
	h.explore("Veod")
	org := h.sim.Organizations()[1].ID
	r := h.post("/v8/Organizations/"+org+"/explore", `{"type":"Vesp"}`)
	var e upstream.ExceptionInfo
	mustJSON(t, r.body, &e)
	if r.status != 400 || e.ErrorCode != "OperationConflict" || !strings.Contains(e.Message, "maximum number of concurrent restore sessions (2)") {
		t.Fatalf("third explore: %d %s", r.status, r.body)
	}
	if r := h.post("/v8/RestoreSessions/"+a.ID+"/Stop", ""); r.status != 204 {
		t.Fatalf("stop: %d", r.status)
	}
	if r := h.post("/v8/Organizations/"+org+"/explore", `{"type":"Vesp"}`); r.status != 201 {
		t.Fatalf("explore after stop: %d %s", r.status, r.body)
	}
}

func TestStatisticsV8Only(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{APIVersion: "v8", Sessions: 5, Orgs: 2})
	rs := h.explore("Vex")
	var st statistics
	h.getJSON("/v8/RestoreSessions/"+rs.ID+"/Statistics", &st)
	if st.Total != 0 || st.Items == nil {
		t.Fatalf("statistics %+v", st)
	}
	h6 := newHarness(t, Options{APIVersion: "v6", Sessions: 5, Orgs: 2})
	rs6 := h6.explore("Vex")
	if r := h6.get("/v6/RestoreSessions/" + rs6.ID + "/Statistics"); r.status != 404 {
		t.Fatalf("v6 statistics: %d", r.status)
	}
}
