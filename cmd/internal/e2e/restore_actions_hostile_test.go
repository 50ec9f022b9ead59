package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// TestHostileRestoreItemActions: the item actions against a hostile caller of tenant 1, end to
// end on one server: another session's item ids (the same person's) are NOT_FOUND; a quoted
// local part that would reach VBO as x@evil@own is refused; a display name around a target
// reaches VBO and the record as the bare address; a download link issued before its session
// was stopped fetches nothing from VBO.
func TestHostileRestoreItemActions(t *testing.T) {
	e := raStart(t)
	const server = "syd1"
	org := e.tenantOrgs(t, 1)[server]
	operator := demo.TenantOperatorKey(1)
	sid := e.start(t, operator, org, "EXCHANGE")
	other := e.start(t, operator, org, "EXCHANGE")
	mailboxes := e.raBrowse(t, operator, sid, "mailboxes", 2, "MAIL_FOLDER", "MAIL_ITEM")
	if len(mailboxes) < 2 || len(mailboxes[0].children()) == 0 || len(mailboxes[0].children()[0].children()) == 0 {
		t.Fatalf("mailboxes %+v", mailboxes)
	}
	item := mailboxes[0].children()[0].children()[0]
	own := *mailboxes[1].Email
	domain := own[strings.IndexByte(own, '@')+1:]
	in := func(session, key string) map[string]any {
		return map[string]any{"sessionId": session, "itemIds": []string{item.ID}, "idempotencyKey": key, "reason": "ticket 25"}
	}

	// The same person's other session: its id with this session's items is NOT_FOUND.
	forged := in(other, "forged")
	forged["target"] = own
	e.refused(t, operator, raTo, map[string]any{"in": forged}, "NOT_FOUND", "not found")

	// A quoted local part naming another domain.
	send := in(sid, "quoted")
	send["to"] = []string{`"thief@evil.example"@` + domain}
	e.refused(t, operator, raSend, map[string]any{"in": send}, "BAD_USER_INPUT", "restore.allowedRecipientDomains")

	// A display name around the target: VBO and the record get the bare address.
	to := in(sid, "display-name")
	to["target"] = `"thief@evil.example" <` + own + `>`
	if r := e.act(t, operator, raTo, to); r.State != "SUCCEEDED" || r.Action.Target == nil || *r.Action.Target != own[:strings.IndexByte(own, '@')+1]+strings.ToLower(domain) {
		t.Fatalf("restore to a display-name target: %+v target %s", r, show(r.Action.Target))
	}

	// A link issued, then its session stopped: the link fetches nothing from VBO.
	var dl struct{ R struct{ URL string } }
	postAs(t, e.c, operator, raDownload, map[string]any{"in": in(sid, "dl")}).decode(t, &dl)
	saves := e.simActions(server, vbosim.ActionSave)
	postAs(t, e.c, operator, rfStop, map[string]any{"id": sid})
	if code, _ := e.fetch(t, operator, dl.R.URL); code == http.StatusOK || e.simActions(server, vbosim.ActionSave) != saves {
		t.Fatalf("fetch after stop: %d, VBO saves %d -> %d", code, saves, e.simActions(server, vbosim.ActionSave))
	}
}
