package vbosim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
)

// itemKindOfRoute is the kind of item an action route's body lists ("" : none the simulator
// reads from the body).
func itemKindOfRoute(tmpl string) NodeKind {
	for _, m := range []struct {
		part string
		kind NodeKind
	}{
		{"/OneDrives/{oneDriveId}/Documents/", KindDriveDoc},
		{"/Sites/{siteId}/Documents/", KindSiteDoc},
		{"/Sites/{siteId}/Folders/", KindSiteFolder},
		{"/Sites/{siteId}/Items/", KindSiteItem},
		{"/mailboxes/{mailboxId}/items/", KindMailItem},
		{"/teams/{teamId}/files/", KindTeamFile},
		{"/teams/{teamId}/posts/", KindPost},
	} {
		i := strings.Index(tmpl, m.part)
		if i < 0 {
			continue
		}
		if verb := tmpl[i+len(m.part):]; !strings.Contains(verb, "/") && !strings.HasPrefix(verb, "{") {
			return m.kind // …/Documents/save, not …/Documents/{documentId}/…
		}
	}
	return ""
}

// TestItemRequiredMatchesDocuments holds the simulator's required item members (itemRequired)
// to the trimmed documents: for every action route whose body lists items, the members its
// item schema requires, per version. A route whose body lists objects with required members
// the simulator does not read fails too, so a new one cannot slip by.
func TestItemRequiredMatchesDocuments(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			doc := loadSpec(t, ver)
			checked := 0
			for tmpl, methods := range RestoreOperations(ver) {
				if !slices.Contains(methods, "post") {
					continue
				}
				op := doc.Paths.Value("/" + ver + tmpl).Post
				if op.RequestBody == nil {
					continue
				}
				for _, mt := range op.RequestBody.Value.Content {
					for name, p := range mt.Schema.Value.Properties {
						if p.Value.Items == nil || p.Value.Items.Value == nil || p.Value.Items.Value.Type.Is("string") {
							continue
						}
						want := append([]string(nil), p.Value.Items.Value.Required...)
						kind := itemKindOfRoute(tmpl)
						if name == "teams" && strings.HasSuffix(tmpl, "/teams/{teamId}/restore") {
							continue // the simulator (and the gateway) restore the team the path names
						}
						if kind == "" {
							if len(want) > 0 {
								t.Errorf("%s: %s lists objects requiring %v that the simulator does not read", tmpl, name, want)
							}
							continue
						}
						if name != itemListKey(kind) && !(kind == KindPost && name == "posts") {
							continue // e.g. RESTRestoreTeamOptions' other lists
						}
						got := itemRequired(kind, ver == "v8")
						sort.Strings(want)
						got = slices.Sorted(slices.Values(got))
						if !slices.Equal(got, want) {
							t.Errorf("%s: %s[] requires %v in the document, the simulator %v", tmpl, name, want, got)
						}
						checked++
					}
				}
			}
			if checked < 20 {
				t.Errorf("only %d item lists checked", checked)
			}
		})
	}
}

// TestActionsRefuseMissingItemFields: an action whose item objects lack a member their schema
// requires is refused 400 before anything is looked up or done, naming the member, as VBO's
// model validation does; the same body with the items as browsed succeeds.
func TestActionsRefuseMissingItemFields(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 2})
			tree := h.sim.Tree(h.sim.Organizations()[0].ID)
			for _, n := range leavesOf(append(append([]*Node{}, tree.OneDrives...), append(tree.Sites, tree.Teams...)...)) {
				h.sim.SetItemSize(n.ID, 64)
			}
			drive := tree.OneDrives[0]
			ddoc := drive.Filter(KindDriveFolder)[0].Filter(KindDriveDoc)[0]
			site := tree.Sites[0]
			sdoc := site.Filter(KindLibrary)[0].Filter(KindSiteDoc)[0]
			sitem := site.Filter(KindList)[0].Filter(KindSiteItem)[0]
			team := tree.Teams[0]
			ch := team.Filter(KindChannel)[0]
			file := ch.Filter(KindTeamFile)[0]
			od := "/" + ver + "/RestoreSessions/" + h.explore("Veod").ID + "/Organization/OneDrives/" + drive.ID + "/Documents"
			sp := "/" + ver + "/RestoreSessions/" + h.explore("Vesp").ID + "/Organization/Sites/" + site.ID
			tm := "/" + ver + "/RestoreSessions/" + h.explore("Vet").ID + "/organization/teams/" + team.ID + "/files"
			// the objects as the simulator's item GETs answer them (less _links)
			object := func(path string) map[string]any {
				var m map[string]any
				r := h.get(path)
				if r.status != 200 {
					t.Fatalf("GET %s: %d %s", path, r.status, r.body)
				}
				mustJSON(t, r.body, &m)
				delete(m, "_links")
				return m
			}
			filePath := tm + "/" + file.ID
			if ver == "v8" {
				filePath = strings.TrimSuffix(tm, "/files") + "/channels/" + url.PathEscape(ch.ID) + "/files/" + file.ID
			}
			tests := []struct {
				name, path, list string
				kind             NodeKind
				obj              map[string]any
				extra            string
				missing          string // the first required member of the id-only object
			}{
				{"onedrive save", od + "/save", "documents", KindDriveDoc, object(od + "/" + ddoc.ID), "", "name"},
				{"onedrive restore", od + "/restore", "documents", KindDriveDoc, object(od + "/" + ddoc.ID), `,"userName":"a","userPassword":"b"`, "name"},
				{"sharepoint documents send", sp + "/Documents/send", "documents", KindSiteDoc, object(sp + "/Documents/" + sdoc.ID), `,"to":"b@x.com"`, "name"},
				{"sharepoint items restore", sp + "/Items/restore", "items", KindSiteItem, object(sp + "/Items/" + sitem.ID), `,"userName":"a","userPassword":"b"`, "name"},
				{"teams files save", tm + "/save", "files", KindTeamFile, object(filePath), `,"channelId":"` + ch.ID + `"`, map[string]string{"v6": "", "v8": "channelId"}[ver]},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					body := func(obj any) string {
						b, err := json.Marshal(obj)
						if err != nil {
							t.Fatal(err)
						}
						return `{"` + tt.list + `":[` + string(b) + `]` + tt.extra + `}`
					}
					if tt.missing != "" {
						r := h.post(tt.path, body(map[string]string{"id": fmt.Sprint(tt.obj["id"])}))
						want := fmt.Sprintf("The %s[0].%s field is required.", tt.list, tt.missing)
						if r.status != 400 || !strings.Contains(string(r.body), want) {
							t.Errorf("id only: %d %s, want 400 %q", r.status, r.body, want)
						}
					}
					for _, drop := range itemRequired(tt.kind, ver == "v8") {
						less := map[string]any{}
						for k, v := range tt.obj {
							if k != drop {
								less[k] = v
							}
						}
						if drop != "id" { // without an id VBO cannot name the item; the message names the member
							r := h.post(tt.path, body(less))
							if r.status != 400 || !strings.Contains(string(r.body), "."+drop+" field is required") {
								t.Errorf("without %s: %d %s", drop, r.status, r.body)
							}
						}
						nulled := map[string]any{}
						for k, v := range tt.obj {
							nulled[k] = v
						}
						nulled[drop] = nil
						if r := h.post(tt.path, body(nulled)); r.status != 400 {
							t.Errorf("%s null: %d %s", drop, r.status, r.body)
						}
					}
					if r := h.post(tt.path, body(tt.obj)); r.status >= 300 {
						t.Errorf("as browsed: %d %s", r.status, r.body)
					}
				})
			}
		})
	}
}
