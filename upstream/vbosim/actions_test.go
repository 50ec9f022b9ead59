package vbosim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// actionContractCalls are the item actions of the contract test, run on open sessions.
func actionContractCalls(h *harness, ver string, sess map[string]string, tree *OrgTree) []rcontract {
	mb, other := tree.Mailboxes[0], tree.Mailboxes[1]
	inbox := mb.Filter(KindMailFolder)[0]
	it := inbox.Filter(KindMailItem)
	drive, dst := tree.OneDrives[0], tree.OneDrives[1]
	docs := drive.Filter(KindDriveFolder)[0].Filter(KindDriveDoc)
	ex := "/RestoreSessions/" + sess["Vex"] + "/organization/mailboxes/" + mb.ID + "/items"
	od := "/RestoreSessions/" + sess["Veod"] + "/Organization/OneDrives/" + drive.ID + "/Documents"
	items := func(ns ...*Node) string {
		var ids []string
		for _, n := range ns {
			ids = append(ids, `{"id":"`+n.ID+`"}`)
		}
		return "[" + strings.Join(ids, ",") + "]"
	}
	doc := func(n *Node) string {
		return `{"id":"` + n.ID + `","name":"` + n.Name + `","createdBy":"` + n.By + `","creationTime":"` + n.Created.Format(time.RFC3339) +
			`","modifiedBy":"` + n.By + `","modificationTime":"` + n.Modified.Format(time.RFC3339) + `","sizeBytes":` + fmt.Sprint(n.Size) + `}`
	}
	async := map[string]int{"v6": 200, "v8": 200}[ver]
	sent := map[string]int{"v6": 200, "v8": 204}[ver]
	app := `"applicationId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","applicationCertificate":"TUlJQ2VUQ0NBZUtn","applicationCertificatePassword":"pw"`
	code := h.sim.issueDeviceCodeForTest()
	// keep the contract's downloads small: containers hold up to a few hundred MB
	var all []*Node
	for _, list := range [][]*Node{tree.Mailboxes, tree.OneDrives, tree.Sites, tree.Teams} {
		all = append(all, list...)
	}
	for _, n := range leavesOf(all) {
		h.sim.SetItemSize(n.ID, 512)
	}
	calls := []rcontract{
		{"device code", "POST", pR + "/organization/restoreDeviceCode", "/RestoreSessions/" + sess["Vex"] + "/organization/restoreDeviceCode", `{"targetApplicationId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","targetRegion":"Worldwide","targetOrganizationName":"x.onmicrosoft.com"}`, 200, false},
		{"device code bad region", "POST", pR + "/organization/restoreDeviceCode", "/RestoreSessions/" + sess["Vex"] + "/organization/restoreDeviceCode", `{"targetRegion":"Mars"}`, 200, true},
		{"save msg", "POST", pItems + "/Save", ex + "/Save", `{"items":` + items(it[0]) + `}`, 200, false},
		{"save several", "POST", pItems + "/Save", ex + "/Save", `{"items":` + items(it[1], it[2]) + `}`, 200, false},
		{"save unknown item", "POST", pItems + "/Save", ex + "/Save", `{"items":[{"id":"nope"}]}`, 404, false},
		{"save no items", "POST", pItems + "/Save", ex + "/Save", `{"items":[]}`, 400, false},
		{"export pst", "POST", pItems + "/exportToPst", ex + "/exportToPst", `{"items":` + items(it[3]) + `,"enablePstSizeLimit":true,"pstSizeLimitBytes":1000000}`, 200, false},
		{"send default", "POST", pItems + "/sendToDefaultAddress", ex + "/sendToDefaultAddress", `{"items":` + items(it[4]) + `}`, sent, false},
		{"send different", "POST", pItems + "/sendToDifferentAddress", ex + "/sendToDifferentAddress", `{"items":` + items(it[5]) + `,"from":"a@x.com","to":"b@x.com;c@x.com","subject":"s","text":"t"}`, sent, false},
		{"send different no to", "POST", pItems + "/sendToDifferentAddress", ex + "/sendToDifferentAddress", `{"items":` + items(it[5]) + `}`, 400, false},
		{"restore to", "POST", pItems + "/restoreTo", ex + "/restoreTo", `{"items":` + items(it[6]) + `,"mailbox":"` + other.Email + `","folder":"Recovered","changedItems":true,"deletedItems":true,"markRestoredAsUnread":true,` + app + `}`, async, false},
		{"restore to foreign mailbox", "POST", pItems + "/restoreTo", ex + "/restoreTo", `{"items":` + items(it[6]) + `,"mailbox":"x@elsewhere.com",` + app + `}`, 400, false},
		{"restore to bad region", "POST", pItems + "/restoreTo", ex + "/restoreTo", `{"items":` + items(it[6]) + `,"mailbox":"` + other.Email + `","officeRegion":"Moon"}`, 400, true},
		{"restore original device code", "POST", pItems + "/restore", ex + "/restore", `{"items":` + items(it[7]) + `,"userCode":"` + code + `"}`, async, false},
		{"restore original app", "POST", pItems + "/restore", ex + "/restore", `{"items":` + items(it[8]) + `,` + app + `}`, async, false},
		{"restore original no credentials", "POST", pItems + "/restore", ex + "/restore", `{"items":` + items(it[8]) + `}`, 400, false},
		{"restore original bad code", "POST", pItems + "/restore", ex + "/restore", `{"items":` + items(it[8]) + `,"userCode":"WRONG"}`, 400, false},
		{"restore original bad app id", "POST", pItems + "/restore", ex + "/restore", `{"items":` + items(it[8]) + `,"applicationId":"x","applicationCertificate":"y"}`, 400, true},

		{"doc save", "POST", pDocs + "/save", od + "/save", `{"documents":[` + doc(docs[0]) + `]}`, 200, false},
		{"doc save unknown", "POST", pDocs + "/save", od + "/save", `{"documents":[{"id":"nope","name":"x","createdBy":"a","creationTime":"2026-01-01T00:00:00Z","modifiedBy":"a","modificationTime":"2026-01-01T00:00:00Z","sizeBytes":1}]}`, 404, false},
		{"doc send", "POST", pDocs + "/send", od + "/send", `{"documents":[` + doc(docs[1]) + `],"to":"b@x.com","subject":"s","text":"t","from":"a@x.com"}`, sent, false},
		{"doc copy to", "POST", pDocs + "/copyTo", od + "/copyTo", `{"documents":[` + doc(docs[2]) + `],"onedrive":{"id":"` + dst.ID + `"},"folder":"Recovered","documentVersion":"Last","documentLastVersionAction":"Merge",` + app + `}`, async, false},
		{"doc copy to unknown drive", "POST", pDocs + "/copyTo", od + "/copyTo", `{"documents":[` + doc(docs[2]) + `],"onedrive":{"id":"nope"},` + app + `}`, 400, false},
		{"doc copy bad version", "POST", pDocs + "/copyTo", od + "/copyTo", `{"documents":[` + doc(docs[2]) + `],"documentVersion":"Some"}`, 400, true},
		{"doc restore", "POST", pDocs + "/restore", od + "/restore", `{"documents":[` + doc(docs[3]) + `],"documentAction":"Overwrite","userName":"admin@x.com","userPassword":"pw"}`, async, false},
	}
	calls = append(calls, mailboxContractCalls(ver, sess, tree, app)...)
	calls = append(calls, sharePointContractCalls(ver, sess, tree, app, code)...)
	return append(calls, teamsContractCalls(ver, sess, tree, app)...)
}

// issueDeviceCodeForTest registers a device code as restoreDeviceCode does.
func (s *Server) issueDeviceCodeForTest() string {
	s.actMu.Lock()
	defer s.actMu.Unlock()
	if s.acts.deviceCodes == nil {
		s.acts.deviceCodes = map[string]bool{}
	}
	s.acts.deviceCodes["TESTCODE1"] = true
	return "TESTCODE1"
}

func TestActionsExchangeAndOneDrive(t *testing.T) {
	t.Parallel()
	for _, ver := range []string{"v6", "v8"} {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{APIVersion: ver, Sessions: 5, Orgs: 2})
			tree := h.sim.Tree(h.sim.Organizations()[0].ID)
			mb := tree.Mailboxes[0]
			it := mb.Filter(KindMailFolder)[0].Filter(KindMailItem)
			rs := h.explore("Vex")
			R := "/" + ver + "/RestoreSessions/" + rs.ID + "/organization/mailboxes/" + mb.ID + "/items"

			// a large save streams a deterministic body
			const size = 16 << 20
			h.sim.SetItemSize(it[0].ID, size)
			req, _ := http.NewRequest("POST", h.ts.URL+R+"/Save", strings.NewReader(`{"items":[{"id":"`+it[0].ID+`"}]}`))
			req.Header.Set("Authorization", "Bearer "+h.tok)
			req.Header.Set("Content-Type", "application/json")
			res, err := h.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.New()
			n, err := io.Copy(sum, res.Body)
			res.Body.Close()
			if err != nil || n != size || res.ContentLength != size || res.Header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("save: %d bytes (%v), length %d, type %q", n, err, res.ContentLength, res.Header.Get("Content-Type"))
			}
			want := sha256.New()
			io.Copy(want, ItemBody(it[0].ID, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", size))
			if hex.EncodeToString(sum.Sum(nil)) != hex.EncodeToString(want.Sum(nil)) {
				t.Fatal("save body digest differs from ItemBody")
			}

			r := h.post(R+"/restoreTo", `{"items":[{"id":"`+it[1].ID+`"},{"id":"`+it[2].ID+`"}],"mailbox":"`+tree.Mailboxes[1].Email+`","applicationId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","applicationCertificate":"Y2VydA=="}`)
			if r.status != 200 {
				t.Fatalf("restoreTo: %d %s", r.status, r.body)
			}
			if ver == "v6" {
				var st itemsRestoreStats
				mustJSON(t, r.body, &st)
				if st.Created != 2 {
					t.Fatalf("v6 statistics %+v", st)
				}
			} else {
				var a asyncRestore
				mustJSON(t, r.body, &a)
				if a.SessionID != rs.ID {
					t.Fatalf("v8 async %+v", a)
				}
				var st statistics
				h.getJSON("/v8/RestoreSessions/"+rs.ID+"/Statistics", &st)
				if st.Restored != 3 || st.Total != 3 || len(st.Items) != 3 || st.Items[1].ID != it[1].ID {
					t.Fatalf("v8 statistics %+v", st)
				}
			}
			if r := h.post(R+"/sendToDifferentAddress", `{"items":[{"id":"`+it[3].ID+`"}],"to":"x@y.com; z@y.com","subject":"hi"}`); r.status >= 300 {
				t.Fatalf("send: %d %s", r.status, r.body)
			}

			ds := h.explore("Veod")
			drive := tree.OneDrives[0]
			doc := drive.Filter(KindDriveFolder)[0].Filter(KindDriveDoc)[0]
			r = h.post("/"+ver+"/RestoreSessions/"+ds.ID+"/Organization/OneDrives/"+drive.ID+"/Documents/copyTo",
				`{"documents":[`+spEntry(doc, `,"sizeBytes":`+fmt.Sprint(doc.Size))+`],"onedrive":{"id":"`+tree.OneDrives[1].ID+`"},"userName":"u","userPassword":"p"}`)
			if r.status != 200 {
				t.Fatalf("copyTo: %d %s", r.status, r.body)
			}

			acts := h.sim.RestoreActions()
			got := []string{}
			for _, a := range acts {
				got = append(got, fmt.Sprintf("%s %s %s %d %v %s", a.Workload, a.Action, a.Target, len(a.ItemIDs), a.To, a.Credentials))
			}
			wantActs := []string{
				"Exchange Save " + mb.Name + ".msg 1 [] ",
				"Exchange RestoreTo " + tree.Mailboxes[1].Email + `\Restored Items 2 [] application`,
				"Exchange SendToDifferentAddress x@y.com;z@y.com 1 [x@y.com z@y.com] ",
				"OneDrive CopyTo " + tree.OneDrives[1].URL + "/Restored 1 [] user",
			}
			if strings.Join(got, "\n") != strings.Join(wantActs, "\n") || acts[0].Bytes != size {
				t.Fatalf("actions:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantActs, "\n"))
			}
			evs := h.sim.Events(rs.ID)
			var msgs []string
			for _, e := range evs {
				if e.Type != upstream.EventTypeView && e.Type != upstream.EventTypeNone {
					msgs = append(msgs, string(e.Type)+": "+e.Message+" -> "+e.Target)
				}
			}
			wantEvs := []string{
				fmt.Sprintf(`Save: Item "%s" was saved successfully -> %s.msg`, it[0].Name, mb.Name),
				fmt.Sprintf(`Restore: Item "%s" was restored successfully -> %s\Restored Items`, it[1].Name, tree.Mailboxes[1].Email),
				fmt.Sprintf(`Restore: Item "%s" was restored successfully -> %s\Restored Items`, it[2].Name, tree.Mailboxes[1].Email),
				fmt.Sprintf(`Send: Item "%s" was sent successfully -> x@y.com;z@y.com`, it[3].Name),
			}
			if strings.Join(msgs, "\n") != strings.Join(wantEvs, "\n") {
				t.Fatalf("events:\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(wantEvs, "\n"))
			}
		})
	}
}
