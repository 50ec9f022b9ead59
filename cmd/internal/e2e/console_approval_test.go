package e2e_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConsoleApprovalStepUp (plain HTTP): a tenant admin signed in to the console with OpenID
// Connect long ago cannot approve another admin's restore to the original location: the
// gateway refuses it (403 naming restore.stepUpMaxAge, "to approve") and the page links the
// same sign-in again as the Restore page, which returns to the Approvals page; signed in
// afresh, the same approval runs the restore.
func TestConsoleApprovalStepUp(t *testing.T) {
	e := startConsoleEnv(t)
	req := newConsoleClient(t, e, raAdmin2)
	rid, csrf, items, _ := consoleItems(t, req, "ticket 27: approval step-up")
	pick := html.UnescapeString(pickRe.FindStringSubmatch(items)[1])
	resp, page := req.post("/console/restore/"+url.PathEscape(rid)+"/items", url.Values{"csrf": {csrf}, "key": {"k-o"}, "item": {pick},
		"action": {"original"}, "reason": {"approval step-up"}})
	m := keyField.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("confirmation page: %d %.1000s", resp.StatusCode, page)
	}
	resp, page = req.post("/console/restore/"+url.PathEscape(rid)+"/original", url.Values{"csrf": {csrf}, "key": {html.UnescapeString(m[1])},
		"item": {pick}, "conflict": {"OVERWRITE"}, "reason": {"approval step-up"}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusOK || idText("result-state", page) != "PENDING_APPROVAL" {
		t.Fatalf("restore to the original location: %d %.1500s", resp.StatusCode, page)
	}

	u := oidcUser{sub: "stale-approver@tenant-1.example", tenant: "tenant-1", role: "TENANT_ADMIN", authTime: time.Now().Add(-time.Hour).Unix()}
	ap := newOIDCConsoleClient(t, e, u)
	_, list := ap.get("/console/approvals")
	f, cm := approveForm.FindStringSubmatch(list), csrfField.FindStringSubmatch(list)
	if f == nil || cm == nil {
		t.Fatalf("the approver's Approvals page: %.2000s", list)
	}
	approve := html.UnescapeString(f[1])
	resp, page = ap.post(approve, url.Values{"csrf": {cm[1]}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "(rule restore.stepUpMaxAge)") ||
		!strings.Contains(page, "to approve") || strings.Contains(page, "result-state") {
		t.Fatalf("stale approval: %d %.1500s; want 403 naming restore.stepUpMaxAge", resp.StatusCode, page)
	}
	rm := regexpReauth.FindStringSubmatch(page)
	if rm == nil {
		t.Fatalf("no sign-in-again link on the refused approval: %.1500s", page)
	}
	u.authTime = time.Now().Unix()
	next, authorize := signInOIDC(t, ap, u, html.UnescapeString(rm[1]))
	if q := mustURL(authorize).Query(); q.Get("prompt") != "login" || q.Get("max_age") != "0" {
		t.Errorf("the sign-in again asks the issuer %s; want prompt=login and max_age=0", authorize)
	}
	if next != "/console/approvals" {
		t.Errorf("after signing in again the console sends the browser to %s, want /console/approvals", next)
	}
	_, list = ap.get(next)
	cm = csrfField.FindStringSubmatch(list)
	if cm == nil || !strings.Contains(list, approve) {
		t.Fatalf("the Approvals page after signing in again: %.2000s", list)
	}
	resp, page = ap.post(approve, url.Values{"csrf": {cm[1]}})
	if st := idText("result-state", page); resp.StatusCode != http.StatusOK || st != "SUCCEEDED" && st != "PARTIAL" {
		t.Fatalf("approval after signing in again: %d %s %.1500s", resp.StatusCode, st, page)
	}
	if strings.Contains(page, `id="reauth"`) {
		t.Error("a sign-in-again link on an approval that went through")
	}
}
