package vbosim

import (
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// rcontract is one restore front door call of the contract test.
type rcontract struct {
	name, method, tmpl, path, body string
	status                         int
	badBody                        bool // the request is invalid on purpose: the document must refuse it
}

// contractRestore explores, browses, searches and stops sessions of every workload, and
// validates each request and response against the trimmed document; it fails on any
// restore route the simulator serves that no call exercised.
func contractRestore(t *testing.T, doc *openapi3.T, h *harness, ver string) {
	v := "/" + ver
	org := h.sim.Organizations()[0].ID
	tree := h.sim.Tree(org)
	ok := map[string]int{"v6": 200, "v8": 201}[ver]
	sess := map[string]string{}
	for _, typ := range []string{"Vex", "Veod", "Vesp", "Vet"} {
		sess[typ] = h.explore(typ).ID
	}
	missing := "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	mb := tree.Mailboxes[0]
	inbox := mb.Filter(KindMailFolder)[0]
	item := inbox.Filter(KindMailItem)[0]
	drive := tree.OneDrives[0]
	dfolder := drive.Filter(KindDriveFolder)[0]
	ddoc := dfolder.Filter(KindDriveDoc)[0]
	site := tree.Sites[0]
	lib, list := site.Filter(KindLibrary)[0], site.Filter(KindList)[0]
	sfolder := lib.Filter(KindSiteFolder)[0]
	sdoc, sitem := lib.Filter(KindSiteDoc)[0], list.Filter(KindSiteItem)[0]
	team := tree.Teams[0]
	ch := team.Filter(KindChannel)[0]
	post, file := ch.Filter(KindPost)[0], ch.Filter(KindTeamFile)[0]
	folderParam := map[string]string{"v6": "folderId", "v8": "parentId"}[ver]

	R := func(typ string) string { return "/RestoreSessions/" + sess[typ] }
	ex, od, sp, tm := R("Vex")+"/organization/mailboxes", R("Veod")+"/Organization/OneDrives", R("Vesp")+"/Organization/Sites", R("Vet")+"/organization/teams"
	calls := []rcontract{
		{"explore", "POST", "/Organizations/{organizationId}/explore", "/Organizations/" + org + "/explore", `{"type":"Vex","dateTime":"2026-11-19T00:00:00Z","showDeleted":true,"showAllVersions":false}`, ok, false},
		{"explore empty", "POST", "/Organizations/{organizationId}/explore", "/Organizations/" + org + "/explore", `{}`, ok, false},
		{"explore unknown org", "POST", "/Organizations/{organizationId}/explore", "/Organizations/" + missing + "/explore", `{"type":"Vex"}`, 404, false},
		{"explore bad type", "POST", "/Organizations/{organizationId}/explore", "/Organizations/" + org + "/explore", `{"type":"Exchange"}`, 400, true},
		{"explore bad date", "POST", "/Organizations/{organizationId}/explore", "/Organizations/" + org + "/explore", `{"type":"Vex","dateTime":"yesterday"}`, 400, true},

		{"mailboxes", "GET", pEx, ex + "?limit=3", "", 200, false},
		{"mailbox", "GET", pEx + "/{mailboxId}", ex + "/" + mb.ID, "", 200, false},
		{"mailbox missing", "GET", pEx + "/{mailboxId}", ex + "/" + missing, "", 404, false},
		{"mail folders", "GET", pEx + "/{mailboxId}/folders", ex + "/" + mb.ID + "/folders", "", 200, false},
		{"mail subfolders", "GET", pEx + "/{mailboxId}/folders", ex + "/" + mb.ID + "/folders?parentId=" + inbox.ID + "&name=Projects", "", 200, false},
		{"mail folders bad parent", "GET", pEx + "/{mailboxId}/folders", ex + "/" + mb.ID + "/folders?parentId=nope", "", 404, false},
		{"mail folder", "GET", pEx + "/{mailboxId}/folders/{folderId}", ex + "/" + mb.ID + "/folders/" + inbox.ID, "", 200, false},
		{"mail items", "GET", pEx + "/{mailboxId}/items", ex + "/" + mb.ID + "/items?limit=50&offset=50&" + folderParam + "=" + inbox.ID, "", 200, false},
		{"mail items bad limit", "GET", pEx + "/{mailboxId}/items", ex + "/" + mb.ID + "/items?limit=-1", "", 400, false},
		{"mail item", "GET", pEx + "/{mailboxId}/items/{itemId}", ex + "/" + mb.ID + "/items/" + item.ID, "", 200, false},
		{"mail search org", "POST", pEx + "/search", ex + "/search?limit=5", `{"query":"report"}`, 200, false},
		{"mail search mailbox", "POST", pEx + "/{mailboxId}/search", ex + "/" + mb.ID + "/search", `{"query":"#1"}`, 200, false},
		{"mail search folder", "POST", pEx + "/{mailboxId}/folders/{folderId}/search", ex + "/" + mb.ID + "/folders/" + inbox.ID + "/search", `{"query":"#2"}`, 200, false},
		{"mail search bad body", "POST", pEx + "/search", ex + "/search", `{"query":7}`, 400, true},
		{"mail in a OneDrive session", "GET", pEx, R("Veod") + "/organization/mailboxes", "", 400, false},

		{"onedrives", "GET", pOD, od, "", 200, false},
		{"onedrive", "GET", pOD + "/{oneDriveId}", od + "/" + drive.ID, "", 200, false},
		{"drive folders", "GET", pOD + "/{oneDriveId}/Folders", od + "/" + drive.ID + "/Folders", "", 200, false},
		{"drive folder", "GET", pOD + "/{oneDriveId}/Folders/{folderId}", od + "/" + drive.ID + "/Folders/" + dfolder.ID, "", 200, false},
		{"drive documents", "GET", pOD + "/{oneDriveId}/Documents", od + "/" + drive.ID + "/Documents?limit=40&parentId=" + dfolder.ID, "", 200, false},
		{"drive document", "GET", pOD + "/{oneDriveId}/Documents/{documentId}", od + "/" + drive.ID + "/Documents/" + ddoc.ID, "", 200, false},
		{"drive document missing", "GET", pOD + "/{oneDriveId}/Documents/{documentId}", od + "/" + drive.ID + "/Documents/" + missing, "", 404, false},
		{"drive search", "POST", pOD + "/search", od + "/search", `{"query":"1"}`, 200, false},
		{"drive search one", "POST", pOD + "/{oneDriveId}/search", od + "/" + drive.ID + "/search", `{"query":"2"}`, 200, false},
		{"drive search folder", "POST", pOD + "/{oneDriveId}/Folders/{folderId}/search", od + "/" + drive.ID + "/Folders/" + dfolder.ID + "/search", `{}`, 200, false},

		{"sites", "GET", pSP, sp, "", 200, false},
		{"site", "GET", pSP + "/{siteId}", sp + "/" + site.ID, "", 200, false},
		{"libraries", "GET", pSP + "/{siteId}/Libraries", sp + "/" + site.ID + "/Libraries", "", 200, false},
		{"library", "GET", pSP + "/{siteId}/Libraries/{libraryId}", sp + "/" + site.ID + "/Libraries/" + lib.ID, "", 200, false},
		{"lists", "GET", pSP + "/{siteId}/Lists", sp + "/" + site.ID + "/Lists", "", 200, false},
		{"list", "GET", pSP + "/{siteId}/Lists/{listId}", sp + "/" + site.ID + "/Lists/" + list.ID, "", 200, false},
		{"site folders", "GET", pSP + "/{siteId}/Folders", sp + "/" + site.ID + "/Folders?parentId=" + lib.ID, "", 200, false},
		{"site folder", "GET", pSP + "/{siteId}/Folders/{folderId}", sp + "/" + site.ID + "/Folders/" + sfolder.ID, "", 200, false},
		{"site documents", "GET", pSP + "/{siteId}/Documents", sp + "/" + site.ID + "/Documents?parentId=" + lib.ID, "", 200, false},
		{"site document", "GET", pSP + "/{siteId}/Documents/{documentId}", sp + "/" + site.ID + "/Documents/" + sdoc.ID, "", 200, false},
		{"site items", "GET", pSP + "/{siteId}/Items", sp + "/" + site.ID + "/Items?parentId=" + list.ID, "", 200, false},
		{"site item", "GET", pSP + "/{siteId}/Items/{itemId}", sp + "/" + site.ID + "/Items/" + sitem.ID, "", 200, false},
		{"sites search", "POST", pSP + "/search", sp + "/search", `{"query":"item"}`, 200, false},
		{"site search", "POST", pSP + "/{siteId}/search", sp + "/" + site.ID + "/search", `{"query":"1"}`, 200, false},

		{"teams", "GET", pTm, tm, "", 200, false},
		{"team", "GET", pTm + "/{teamId}", tm + "/" + team.ID, "", 200, false},
		{"channels", "GET", pTm + "/{teamId}/channels", tm + "/" + team.ID + "/channels", "", 200, false},
		{"channel", "GET", pTm + "/{teamId}/channels/{channelId}", tm + "/" + team.ID + "/channels/" + url.PathEscape(ch.ID), "", 200, false},
		{"posts", "GET", pTm + "/{teamId}/posts", tm + "/" + team.ID + "/posts?channelId=" + url.QueryEscape(ch.ID), "", 200, false},
		{"post", "GET", pTm + "/{teamId}/posts/{postId}", tm + "/" + team.ID + "/posts/" + post.ID, "", 200, false},
		{"post bad id", "GET", pTm + "/{teamId}/posts/{postId}", tm + "/" + team.ID + "/posts/abc", "", 400, true},
		{"files", "GET", pTm + "/{teamId}/files", tm + "/" + team.ID + "/files?channelId=" + url.QueryEscape(ch.ID), "", 200, false},
		{"team search", "POST", pTm + "/{teamId}/search", tm + "/" + team.ID + "/search", `{"query":"#1","type":"Posts"}`, 200, false},
		{"channel search", "POST", pTm + "/{teamId}/channels/{channelId}/search", tm + "/" + team.ID + "/channels/" + url.PathEscape(ch.ID) + "/search", `{"query":"","type":"Files"}`, 200, false},
		{"team search no type", "POST", pTm + "/{teamId}/search", tm + "/" + team.ID + "/search", `{"query":"x"}`, 400, true},
	}
	if ver == "v8" {
		calls = append(calls,
			rcontract{"explore repository", "POST", "/Organizations/{organizationId}/explore", "/Organizations/" + org + "/explore", `{"type":"Vet","repositoryId":"` + missing + `"}`, 201, false},
			rcontract{"explore bad repository", "POST", "/Organizations/{organizationId}/explore", "/Organizations/" + org + "/explore", `{"type":"Vet","repositoryId":"x"}`, 400, true},
			rcontract{"drive documents with folders", "GET", pOD + "/{oneDriveId}/Documents", od + "/" + drive.ID + "/Documents?includeFolders=true", "", 200, false},
			rcontract{"channel file", "GET", pTm + "/{teamId}/channels/{channelId}/files/{fileId}", tm + "/" + team.ID + "/channels/" + url.PathEscape(ch.ID) + "/files/" + file.ID, "", 200, false},
			rcontract{"channel children", "GET", pTm + "/{teamId}/channels/{channelId}/children", tm + "/" + team.ID + "/channels/" + url.PathEscape(ch.ID) + "/children", "", 200, false},
			rcontract{"statistics", "GET", pR + "/Statistics", R("Vex") + "/Statistics", "", 200, false},
			rcontract{"statistics missing", "GET", pR + "/Statistics", "/RestoreSessions/" + missing + "/Statistics", "", 404, false},
		)
	} else {
		calls = append(calls, rcontract{"team file", "GET", pTm + "/{teamId}/files/{fileId}", tm + "/" + team.ID + "/files/" + file.ID, "", 200, false})
	}
	calls = append(calls, actionContractCalls(h, ver, sess, tree)...)
	stopOK := map[string]int{"v6": 200, "v8": 204}[ver]
	calls = append(calls,
		rcontract{"stop", "POST", pR + "/Stop", R("Vex") + "/Stop", "", stopOK, false},
		rcontract{"stop again", "POST", pR + "/Stop", R("Vex") + "/Stop", "", 400, false},
		rcontract{"stop missing", "POST", pR + "/Stop", "/RestoreSessions/" + missing + "/Stop", "", 404, false},
		rcontract{"browse stopped", "GET", pEx, ex, "", 400, false},
	)
	exercised := map[string]bool{}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			exercised[c.method+" "+c.tmpl] = true
			if c.badBody {
				if err := requestError(doc, c.method, v+c.tmpl, v+c.path, c.body); err == nil {
					t.Fatalf("the document accepts the bad request %s %s", c.path, c.body)
				}
			} else {
				validateRequest(t, doc, c.method, v+c.tmpl, v+c.path, c.body)
			}
			var r resp
			if c.method == "GET" {
				r = h.get(v + c.path)
			} else {
				r = h.post(v+c.path, c.body)
			}
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %.400s", r.status, c.status, r.body)
			}
			if len(r.body) > 0 && strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
			}
			validateResponse(t, doc, c.method, v+c.tmpl, v+c.path, r)
		})
	}
	for tmpl, methods := range RestoreOperations(ver) {
		for _, m := range methods {
			if !exercised[strings.ToUpper(m)+" "+tmpl] {
				t.Errorf("%s %s is served but not exercised by the contract test", strings.ToUpper(m), tmpl)
			}
		}
	}
}
