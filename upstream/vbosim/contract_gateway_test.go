package vbosim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The contract of the gateway's own requests. contractRestore checks bodies written by hand in
// the test, which said nothing of what the gateway sends: the item actions' bodies of
// upstream.Client carried only ids, which the documents refuse for OneDrive and SharePoint
// documents and items and (v8) Teams files, and which the simulator accepted. This drives the
// client itself through every item action it offers, against the simulator, and checks every
// request it sends against the trimmed document on the way in.

// validatingVBO checks each request under /vN/ (but the token grant) against doc, then serves it.
type validatingVBO struct {
	doc  *openapi3.T
	ver  string
	next http.Handler

	mu       sync.Mutex
	problems []string
	seen     map[string]int // "METHOD template" -> requests checked
}

func (v *validatingVBO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/token") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		path := r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		tmpl := matchTemplate(v.doc, r.Method, r.URL.EscapedPath())
		var problem string
		if tmpl == "" {
			problem = fmt.Sprintf("%s %s: no operation of the document", r.Method, path)
		} else if err := requestError(v.doc, r.Method, tmpl, path, string(body)); err != nil {
			problem = fmt.Sprintf("%s %s: %v\nbody: %.800s", r.Method, tmpl, err, body)
		}
		v.mu.Lock()
		v.seen[r.Method+" "+tmpl]++
		if problem != "" {
			v.problems = append(v.problems, problem)
		}
		v.mu.Unlock()
	}
	v.next.ServeHTTP(w, r)
}

// matchTemplate finds the document's path template of an escaped request path: literal
// segments equal (case-insensitively, as VBO routes), {parameters} anything; the template
// with the most literal segments wins (…/files/save over …/files/{fileId}).
func matchTemplate(doc *openapi3.T, method, path string) string {
	ps := strings.Split(path, "/")
	best, bestLit := "", -1
	for tmpl, item := range doc.Paths.Map() {
		if item.GetOperation(method) == nil {
			continue
		}
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(ps) {
			continue
		}
		lit := 0
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") {
				continue
			}
			if !strings.EqualFold(ts[i], ps[i]) {
				lit = -1
				break
			}
			lit++
		}
		if lit > bestLit {
			best, bestLit = tmpl, lit
		}
	}
	return best
}

// gatewayAction is one item action of the client on items browsed through it.
type gatewayAction struct {
	name string
	call func(ctx context.Context, c *upstream.Client, sid string, items upstream.ActionItems) error
}

// contractGatewayActions runs every item action upstream.Client offers, on items it browsed
// itself, against a simulator of ver whose requests are checked against doc.
func contractGatewayActions(t *testing.T, doc *openapi3.T, ver string) {
	sim := New(Options{APIVersion: ver, Sessions: 5, Orgs: 2, Now: testNow, Seed: 42, Username: "svc", Password: "pw"})
	v := &validatingVBO{doc: doc, ver: ver, next: sim, seen: map[string]int{}}
	ts := httptest.NewServer(v)
	t.Cleanup(ts.Close)
	c, err := upstream.NewClient(ts.URL, upstream.ClientOptions{Name: "sim", APIVersion: ver, Username: "svc", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	org := sim.Organizations()[0].ID
	tree := sim.Tree(org)
	for _, leaf := range leavesOf(append(append(append(append([]*Node{}, tree.Mailboxes...), tree.OneDrives...), tree.Sites...), tree.Teams...)) {
		sim.SetItemSize(leaf.ID, 256) // keep the downloads small
	}
	app := upstream.RestoreCredentials{ApplicationID: "3f2504e0-4f89-41d3-9a0c-0305e82c3301", ApplicationCertificate: "TUlJQ2VUQ0NBZUtn",
		ApplicationCertificatePassword: "pw", ImpersonationAccountName: "svc@x.com"}
	save := gatewayAction{"save", func(ctx context.Context, c *upstream.Client, sid string, it upstream.ActionItems) error {
		d, err := c.SaveItems(ctx, sid, it)
		if err == nil {
			_, err = io.Copy(io.Discard, d.Body)
			d.Body.Close()
		}
		return err
	}}
	send := gatewayAction{"send", func(ctx context.Context, c *upstream.Client, sid string, it upstream.ActionItems) error {
		_, err := c.SendItems(ctx, sid, it, upstream.SendOptions{To: []string{"b@x.com"}, Subject: "restored"})
		return err
	}}
	restoreTo := func(to upstream.RestoreTarget) gatewayAction {
		to.Credentials = &app
		return gatewayAction{"restoreTo", func(ctx context.Context, c *upstream.Client, sid string, it upstream.ActionItems) error {
			_, _, err := c.RestoreItemsTo(ctx, sid, it, to)
			return err
		}}
	}
	restore := func(o upstream.RestoreOriginalOptions) gatewayAction {
		o.Credentials = app
		return gatewayAction{"restore", func(ctx context.Context, c *upstream.Client, sid string, it upstream.ActionItems) error {
			_, _, err := c.RestoreItemsToOriginal(ctx, sid, it, o)
			return err
		}}
	}
	explore := func(typ upstream.ExploreType) string {
		s, _, err := c.Explore(ctx, org, upstream.ExploreOptions{Type: typ})
		if err != nil {
			t.Fatalf("explore %s: %v", typ, err)
		}
		return s.ID
	}
	// browse lists ref through the client and answers the ids of the first n items of the
	// wanted type ("" any).
	browse := func(sid string, ref upstream.BrowseRef, typ string, n int) []string {
		t.Helper()
		page, _, err := c.Browse(ctx, sid, ref, upstream.ListOptions{Limit: 50})
		if err != nil {
			t.Fatalf("browse %+v: %v", ref, err)
		}
		var ids []string
		for _, it := range page.Results {
			if (typ == "" || it.Type == typ) && len(ids) < n {
				ids = append(ids, it.ID)
			}
		}
		if len(ids) == 0 {
			t.Fatalf("browse %+v: no %q items in %+v", ref, typ, page.Results)
		}
		return ids
	}
	type group struct {
		name    string
		sid     string
		items   upstream.ActionItems
		actions []gatewayAction
	}
	var groups []group

	ex := explore(upstream.ExploreExchange)
	mb := browse(ex, upstream.BrowseRef{Kind: upstream.BrowseMailboxes}, "", 1)[0]
	folder := browse(ex, upstream.BrowseRef{Kind: upstream.BrowseMailFolders, ContainerID: mb}, "", 1)[0]
	mailRef := upstream.BrowseRef{Kind: upstream.BrowseMailItems, ContainerID: mb, ParentID: folder}
	groups = append(groups, group{"exchange items", ex, upstream.ActionItems{Ref: mailRef, IDs: browse(ex, mailRef, "", 2)},
		[]gatewayAction{save, send, restoreTo(upstream.RestoreTarget{Mailbox: tree.Mailboxes[1].Email}), restore(upstream.RestoreOriginalOptions{})}})

	od := explore(upstream.ExploreOneDrive)
	drive := tree.OneDrives[0].ID
	dfolder := browse(od, upstream.BrowseRef{Kind: upstream.BrowseDriveFolders, ContainerID: drive}, "", 1)[0]
	docRef := upstream.BrowseRef{Kind: upstream.BrowseDriveDocuments, ContainerID: drive, ParentID: dfolder}
	groups = append(groups, group{"onedrive documents", od, upstream.ActionItems{Ref: docRef, IDs: browse(od, docRef, "Document", 2)},
		[]gatewayAction{save, send, restoreTo(upstream.RestoreTarget{OneDriveID: tree.OneDrives[1].ID, Folder: "Recovered"}),
			restore(upstream.RestoreOriginalOptions{Conflict: upstream.ConflictKeep})}})

	sp := explore(upstream.ExploreSharePoint)
	site := tree.Sites[0].ID
	lib := browse(sp, upstream.BrowseRef{Kind: upstream.BrowseSiteLibraries, ContainerID: site}, "", 1)[0]
	list := browse(sp, upstream.BrowseRef{Kind: upstream.BrowseSiteLists, ContainerID: site}, "", 1)[0]
	sdRef := upstream.BrowseRef{Kind: upstream.BrowseSiteDocuments, ContainerID: site, ParentID: lib}
	siRef := upstream.BrowseRef{Kind: upstream.BrowseSiteItems, ContainerID: site, ParentID: list}
	other := upstream.RestoreTarget{SiteURL: tree.Sites[1].URL}
	groups = append(groups,
		group{"sharepoint documents", sp, upstream.ActionItems{Ref: sdRef, IDs: browse(sp, sdRef, "Document", 2)},
			[]gatewayAction{save, send, restoreTo(other), restore(upstream.RestoreOriginalOptions{Conflict: upstream.ConflictMerge})}},
		group{"sharepoint items", sp, upstream.ActionItems{Ref: siRef, IDs: browse(sp, siRef, "Item", 2)},
			[]gatewayAction{restoreTo(other), restore(upstream.RestoreOriginalOptions{})}})

	tm := explore(upstream.ExploreTeams)
	team := tree.Teams[0].ID
	ch := browse(tm, upstream.BrowseRef{Kind: upstream.BrowseChannels, ContainerID: team}, "", 1)[0]
	fRef := upstream.BrowseRef{Kind: upstream.BrowseTeamFiles, ContainerID: team, ParentID: ch}
	pRef := upstream.BrowseRef{Kind: upstream.BrowsePosts, ContainerID: team, ParentID: ch}
	from := testNow.AddDate(0, -1, 0)
	groups = append(groups,
		group{"teams files", tm, upstream.ActionItems{Ref: fRef, IDs: browse(tm, fRef, "File", 2)},
			[]gatewayAction{save, send, restore(upstream.RestoreOriginalOptions{Conflict: upstream.ConflictOverwrite})}},
		group{"teams posts", tm, upstream.ActionItems{Ref: pRef, IDs: browse(tm, pRef, "", 2)}, []gatewayAction{save, send}},
		group{"teams posts by window", tm, upstream.ActionItems{Ref: pRef}, []gatewayAction{restore(upstream.RestoreOriginalOptions{PostsFrom: &from})}},
		group{"team", tm, upstream.ActionItems{Ref: upstream.BrowseRef{Kind: upstream.BrowseTeams}, IDs: []string{team}},
			[]gatewayAction{restore(upstream.RestoreOriginalOptions{})}},
	)

	for _, g := range groups {
		for _, a := range g.actions {
			t.Run(g.name+" "+a.name, func(t *testing.T) {
				v.mu.Lock()
				before := len(v.problems)
				v.mu.Unlock()
				if err := a.call(ctx, c, g.sid, g.items); err != nil {
					t.Errorf("the simulator refused the gateway's request: %v", err)
				}
				v.mu.Lock()
				defer v.mu.Unlock()
				for _, p := range v.problems[before:] {
					t.Errorf("the gateway's request does not match the document: %s", p)
				}
			})
		}
	}
	// Every item action route the client uses was checked (a route the client reaches by
	// another spelling would escape the document otherwise).
	v.mu.Lock()
	defer v.mu.Unlock()
	var posts []string
	for k := range v.seen {
		if strings.HasPrefix(k, "POST ") && !strings.HasSuffix(k, "/explore") {
			posts = append(posts, k)
		}
	}
	sort.Strings(posts)
	// exchange 4 (Save, sendToDifferentAddress, restoreTo, restore), OneDrive 4 (save, send,
	// copyTo, restore), SharePoint documents 4 and items 2, Teams files 3, posts 3, team 1
	if len(posts) != 21 {
		t.Errorf("%d action routes checked, want 21: %v", len(posts), posts)
	}
}
