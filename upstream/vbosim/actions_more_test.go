package vbosim

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

const testApp = `"applicationId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","applicationCertificate":"U0VDUkVULUNFUlQ=","applicationCertificatePassword":"s3cret-pw"`

// actionEvents are the non-browse events of a session, as "Type: message -> target".
func actionEvents(s *Server, sid string) []string {
	var out []string
	for _, e := range s.Events(sid) {
		if e.Type != upstream.EventTypeView && e.Type != upstream.EventTypeNone {
			out = append(out, string(e.Type)+": "+e.Message+" -> "+e.Target)
		}
	}
	return out
}

func sessionETag(t *testing.T, h *harness, sid string) int64 {
	t.Helper()
	var rs upstream.RestoreSession
	h.getJSON("/v8/RestoreSessions/"+sid, &rs)
	if rs.ETag == nil {
		t.Fatal("no eTag")
	}
	return *rs.ETag
}

func TestActionsSharePoint(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 2})
			tree := h.sim.Tree(h.sim.Organizations()[0].ID)
			site, other := tree.Sites[0], tree.Sites[2]
			lib := site.Filter(KindLibrary)[1]
			leaves := leavesOf([]*Node{lib})
			var size int64
			for k, n := range leaves {
				h.sim.SetItemSize(n.ID, int64(100+k))
				size += int64(100 + k)
			}
			rs := h.explore("Vesp")
			S := "/" + ver + "/RestoreSessions/" + rs.ID + "/Organization/Sites/" + site.ID

			// a library save streams one ZIP of every document, folders included
			r := h.post(S+"/Libraries/"+lib.ID+"/save", "")
			want, _ := io.ReadAll(ItemBody(lib.ID, magicZIP, size))
			if r.status != 200 || !bytes.Equal(r.body, want) || r.header.Get("Content-Disposition") != `attachment; filename="`+lib.Name+`.zip"` {
				t.Fatalf("library save: %d, %d bytes (want %d), %q", r.status, len(r.body), size, r.header.Get("Content-Disposition"))
			}
			if got := len(actionEvents(h.sim, rs.ID)); got != len(leaves) {
				t.Fatalf("library save wrote %d events for %d documents", got, len(leaves))
			}

			// a site restoreTo another site of the organisation
			var before int64
			if ver == "v8" {
				before = sessionETag(t, h, rs.ID)
			}
			r = h.post(S+"/restoreTo", `{"siteURL":"`+strings.ToUpper(other.URL)+`","restoreSubsites":true,`+testApp+`}`)
			if r.status != 200 {
				t.Fatalf("site restoreTo: %d %s", r.status, r.body)
			}
			all := leavesOf([]*Node{site})
			if ver == "v6" {
				var st webRestoreStats
				mustJSON(t, r.body, &st)
				if st.RestoredWebs != 1 || st.RestoredLists != 4 {
					t.Fatalf("v6 statistics %+v", st)
				}
			} else {
				var a asyncRestore
				mustJSON(t, r.body, &a)
				var st statistics
				h.getJSON("/v8/RestoreSessions/"+rs.ID+"/Statistics", &st)
				n := int64(len(leaves) + len(all))
				if a.SessionID != rs.ID || st.Restored != n || int64(len(st.Items)) != n || st.Items[n-1].ItemType != "SharePointItem" {
					t.Fatalf("v8: %+v, statistics %d/%d items", a, st.Restored, len(st.Items))
				}
				if after := sessionETag(t, h, rs.ID); after != before+int64(len(all)) {
					t.Fatalf("eTag %d -> %d, want +%d", before, after, len(all))
				}
			}
			evs := actionEvents(h.sim, rs.ID)
			if last := evs[len(evs)-1]; last != fmt.Sprintf(`Restore: %s "%s" was restored successfully -> %s`, kindLabel(all[len(all)-1]), all[len(all)-1].Name, other.URL) {
				t.Fatalf("last event %q", last)
			}

			// documents restored to the original location keep their options, never credentials
			doc := lib.Filter(KindSiteDoc)[0]
			body := `{"documents":[{"id":"` + doc.ID + `","name":"x","createdBy":"a","creationTime":"2026-01-01T00:00:00Z","modifiedBy":"a","modificationTime":"2026-01-01T00:00:00Z"}],` +
				`"restorePermissions":true,"documentVersion":"Last","documentLastVersionAction":"Merge",` + testApp + `}`
			if r := h.post(S+"/Documents/restore", body); r.status != 200 {
				t.Fatalf("documents restore: %d %s", r.status, r.body)
			}
			if r := h.post(S+"/Documents/restoreTo", strings.Replace(body, `"restorePermissions":true`, `"siteURL":"https://other.sharepoint.com/sites/x"`, 1)); r.status != 400 ||
				!strings.Contains(string(r.body), "was not found in the organization") {
				t.Fatalf("restoreTo a foreign site: %d %s", r.status, r.body)
			}
			// a folder restored elsewhere goes to the library of the same name unless list says
			fo := lib.Filter(KindSiteFolder)[0]
			foBody := `{"folders":[{"id":"` + fo.ID + `","name":"x","createdBy":"a","creationTime":"2026-01-01T00:00:00Z","modifiedBy":"a","modificationTime":"2026-01-01T00:00:00Z"}],"siteURL":"` + other.URL + `",` + testApp
			if r := h.post(S+"/Folders/restoreTo", foBody+`}`); r.status != 200 {
				t.Fatalf("folder restoreTo: %d %s", r.status, r.body)
			}
			if r := h.post(S+"/Folders/restoreTo", foBody+`,"list":"Recovered"}`); r.status != 200 {
				t.Fatalf("folder restoreTo a list: %d %s", r.status, r.body)
			}
			nf := len(leavesOf([]*Node{fo}))
			acts := h.sim.RestoreActions()
			var got []string
			for _, a := range acts {
				got = append(got, fmt.Sprintf("%s %s %s %s %d %s %s %v", a.Workload, a.Level, a.Action, a.Target, a.ItemCount, a.Credentials, a.Conflict, a.Options))
			}
			wantActs := []string{
				fmt.Sprintf("SharePoint Library Save %s.zip %d   map[]", lib.Name, len(leaves)),
				fmt.Sprintf("SharePoint Site RestoreTo %s %d application  map[restoreSubsites:true siteURL:%s]", other.URL, len(all), strings.ToUpper(other.URL)),
				fmt.Sprintf("SharePoint Items Restore %s 1 application Merge map[documentLastVersionAction:Merge documentVersion:Last restorePermissions:true]", site.URL),
				fmt.Sprintf("SharePoint Items RestoreTo %s/%s %d application  map[siteURL:%s]", other.URL, lib.Name, nf, other.URL),
				fmt.Sprintf("SharePoint Items RestoreTo %s/Recovered %d application  map[list:Recovered siteURL:%s]", other.URL, nf, other.URL),
			}
			if strings.Join(got, "\n") != strings.Join(wantActs, "\n") || acts[0].Bytes != size {
				t.Fatalf("actions:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantActs, "\n"))
			}
			if s := fmt.Sprintf("%+v", acts); strings.Contains(s, "s3cret-pw") || strings.Contains(s, "U0VDUkVULUNFUlQ=") {
				t.Fatal("a credential was recorded")
			}
		})
	}
}

func TestActionsTeams(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 2})
			tree := h.sim.Tree(h.sim.Organizations()[0].ID)
			team := tree.Teams[2]
			ch := team.Filter(KindChannel)[1]
			rs := h.explore("Vet")
			T := "/" + ver + "/RestoreSessions/" + rs.ID + "/organization/teams/" + team.ID

			// the team restore records the switches that change the live team
			r := h.post(T+"/restore", `{"restoreChangedItems":true,"restoreMissingItems":true,"restoreMembers":true,"restoreSettings":false,`+testApp+`}`)
			if r.status != 200 {
				t.Fatalf("team restore: %d %s", r.status, r.body)
			}
			all := leavesOf([]*Node{team})
			if ver == "v6" {
				var st teamsRestoreStats
				mustJSON(t, r.body, &st)
				if st.Restored != int64(len(all)) || st.Total != st.Restored {
					t.Fatalf("v6 statistics %+v, want %d", st, len(all))
				}
			} else {
				var st statistics
				h.getJSON("/v8/RestoreSessions/"+rs.ID+"/Statistics", &st)
				if st.Restored != int64(len(all)) || st.Items[0].ItemType != "TeamsPost" {
					t.Fatalf("v8 statistics %d, want %d", st.Restored, len(all))
				}
			}
			// a restore without the required switches is refused and not recorded
			if r := h.post(T+"/restore", `{"restoreChangedItems":true,"restoreMissingItems":true,`+testApp+`}`); r.status != 400 || !strings.Contains(string(r.body), "restoreMembers") {
				t.Fatalf("restore without restoreMembers: %d %s", r.status, r.body)
			}

			// posts export: HTML of the channel's posts
			r = h.post(T+"/posts/export", `{"channelId":"`+ch.ID+`"}`)
			posts := ch.Filter(KindPost)
			if r.status != 200 || !bytes.HasPrefix(r.body, []byte(magicHTML)) || r.header.Get("Content-Disposition") != `attachment; filename="`+ch.Name+`.html"` {
				t.Fatalf("posts export: %d %q %.40q", r.status, r.header.Get("Content-Disposition"), r.body)
			}

			// one file, addressed as the version does
			f := ch.Filter(KindTeamFile)[0]
			fp := T + "/files/" + f.ID
			if ver == "v8" {
				fp = T + "/channels/" + url.PathEscape(ch.ID) + "/files/" + f.ID
			}
			if r := h.post(fp+"/send", `{"to":"x@y.com"}`); r.status != map[string]int{"v6": 200, "v8": 204}[ver] || len(r.body) != 0 {
				t.Fatalf("file send: %d %s", r.status, r.body)
			}

			acts := h.sim.RestoreActions()
			var got []string
			for _, a := range acts {
				got = append(got, fmt.Sprintf("%s %s %s %s %d members=%v settings=%v", a.Workload, a.Level, a.Action, a.Target, a.ItemCount, a.RestoreMembers, a.RestoreSettings))
			}
			wantActs := []string{
				fmt.Sprintf("Teams Team Restore %s %d members=true settings=false", team.Email, len(all)),
				fmt.Sprintf("Teams Items Export %s.html %d members=false settings=false", ch.Name, len(posts)),
				"Teams Items Send x@y.com 1 members=false settings=false",
			}
			if strings.Join(got, "\n") != strings.Join(wantActs, "\n") || acts[0].Options["restoreMembers"] != "true" || acts[0].Options["restoreSettings"] != "false" {
				t.Fatalf("actions:\n%s\nwant\n%s\noptions %v", strings.Join(got, "\n"), strings.Join(wantActs, "\n"), acts[0].Options)
			}
			evs := actionEvents(h.sim, rs.ID)
			if len(evs) != len(all)+len(posts)+1 || evs[len(evs)-1] != fmt.Sprintf(`Send: File "%s" was sent successfully -> x@y.com`, f.Name) {
				t.Fatalf("%d events, last %q", len(evs), evs[len(evs)-1])
			}
		})
	}
}

func TestActionsMailboxAndFolder(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 2})
			tree := h.sim.Tree(h.sim.Organizations()[0].ID)
			mb, other := tree.Mailboxes[1], tree.Mailboxes[4]
			inbox := mb.Filter(KindMailFolder)[0]
			for _, n := range leavesOf([]*Node{mb}) {
				h.sim.SetItemSize(n.ID, 64)
			}
			rs := h.explore("Vex")
			M := "/" + ver + "/RestoreSessions/" + rs.ID + "/organization/mailboxes/" + mb.ID

			r := h.post(M+"/restore", `{`+testApp+`}`)
			all := leavesOf([]*Node{mb})
			if r.status != 200 {
				t.Fatalf("mailbox restore: %d %s", r.status, r.body)
			}
			if ver == "v6" {
				var st foldersRestoreStats
				mustJSON(t, r.body, &st)
				if st.Created != int64(len(all)) {
					t.Fatalf("v6 statistics %+v, want %d", st, len(all))
				}
			}
			// the Inbox with its subfolders Projects and Receipts
			inItems := leavesOf([]*Node{inbox})
			if len(inItems) <= len(inbox.Filter(KindMailItem)) {
				t.Fatal("the Inbox's subfolders hold no items")
			}
			r = h.post(M+"/folders/"+inbox.ID+"/exportToPst", `{}`)
			if r.status != 200 || int64(len(r.body)) != int64(64*len(inItems)) || !bytes.HasPrefix(r.body, []byte(magicPST)) {
				t.Fatalf("folder export: %d, %d bytes", r.status, len(r.body))
			}
			if r := h.post(M+"/folders/"+inbox.ID+"/restoreTo", `{"mailbox":"`+other.Email+`","folder":"From Inbox",`+testApp+`}`); r.status != 200 {
				t.Fatalf("folder restoreTo: %d %s", r.status, r.body)
			}
			var got []string
			for _, a := range h.sim.RestoreActions() {
				got = append(got, fmt.Sprintf("%s %s %s %v %d", a.Level, a.Action, a.Target, a.ItemIDs, a.ItemCount))
			}
			wantActs := []string{
				fmt.Sprintf("Mailbox Restore %s [%s] %d", mb.Email, mb.ID, len(all)),
				fmt.Sprintf("Folder ExportToPst Inbox.pst [%s] %d", inbox.ID, len(inItems)),
				fmt.Sprintf(`Folder RestoreTo %s\From Inbox [%s] %d`, other.Email, inbox.ID, len(inItems)),
			}
			if strings.Join(got, "\n") != strings.Join(wantActs, "\n") {
				t.Fatalf("actions:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantActs, "\n"))
			}
			if n := len(actionEvents(h.sim, rs.ID)); n != len(all)+2*len(inItems) {
				t.Fatalf("%d events, want %d", n, len(all)+2*len(inItems))
			}
		})
	}
}
