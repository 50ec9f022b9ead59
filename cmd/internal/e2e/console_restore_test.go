package e2e_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// consoleClient is one browser's cookie jar on the console, over plain HTTP.
type consoleClient struct {
	t   *testing.T
	e   *consoleEnv
	c   *http.Client
	key string
}

func newConsoleClient(t *testing.T, e *consoleEnv, key string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{t: t, e: e, key: key,
		c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if resp, _ := cc.post("/console/signin/key", url.Values{"key": {key}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in with %s: %d", key, resp.StatusCode)
	}
	return cc
}

func (cc *consoleClient) get(path string) (*http.Response, string) {
	cc.t.Helper()
	resp, err := cc.c.Get(cc.e.url + path)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (cc *consoleClient) post(path string, form url.Values) (*http.Response, string) {
	cc.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, cc.e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var (
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	firstOrgOp = regexp.MustCompile(`<select id="r-org" name="org" required><option value="([^"]+)"`)
	openLinkRe = regexp.MustCompile(`<a class="b-open" href="([^"]+)">MAIL_FOLDER</a>`)
	idText     = func(id, page string) string {
		m := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(page)
		if m == nil {
			return "<absent>"
		}
		return html.UnescapeString(m[1])
	}
)

// TestConsoleRestorePage (plain HTTP): tenant 1's operator starts an Exchange session from the
// Restore page with a reason, browses its mailboxes and a mailbox's folders, and stops it; the
// restore action log (GraphQL's attribution.actions) records START, BROWSE and STOP against the
// operator with the reason, and the session page shows the attribution exactly as GraphQL
// answers it, following the running session's events over SSE. Tenant 1's auditor has no
// Restore page (403) and its POSTs are refused by GraphQL (403); a POST without the CSRF token
// is refused.
func TestConsoleRestorePage(t *testing.T) {
	e := startConsoleEnv(t)
	op := newConsoleClient(t, e, demo.TenantOperatorKey(1))
	resp, page := op.get("/console/restore")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="start-form"`) || !strings.Contains(page, `href="/console/restore"`) {
		t.Fatalf("operator's Restore page: %d %.300s", resp.StatusCode, page)
	}
	csrf := csrfField.FindStringSubmatch(page)[1]
	org := firstOrgOp.FindStringSubmatch(page)
	if org == nil {
		t.Fatalf("no organisation to start on: %.2000s", page)
	}
	const reason = "ticket 26: restore a mailbox folder"
	if resp, _ := op.post("/console/restore/start", url.Values{"org": {html.UnescapeString(org[1])}, "type": {"EXCHANGE"}, "reason": {reason}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("start without the CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, body := op.post("/console/restore/start", url.Values{"csrf": {csrf}, "org": {html.UnescapeString(org[1])}, "type": {"EXCHANGE"}, "reason": {reason}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/restore/") {
		t.Fatalf("start: %d %s %.500s", resp.StatusCode, loc, body)
	}
	id, _ := url.PathUnescape(strings.TrimPrefix(loc, "/console/restore/"))
	resp, page = op.get(loc)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="browse"`) || idText("r-reason-shown", page) != reason {
		t.Fatalf("the session's Restore page: %d %.1500s", resp.StatusCode, page)
	}
	open := openLinkRe.FindStringSubmatch(page)
	if open == nil {
		t.Fatalf("no mailbox to open: %.3000s", page)
	}
	resp, page = op.get(html.UnescapeString(open[1]))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<td>MAIL_FOLDER</td>") {
		t.Fatalf("a mailbox's folders: %d %.3000s", resp.StatusCode, page)
	}
	// The session page while it runs: the attribution as GraphQL answers it, and its events followed.
	var d struct {
		RestoreSession struct {
			State       string `json:"state"`
			Attribution struct {
				ThroughGateway bool    `json:"throughGateway"`
				Person         *string `json:"person"`
				Reason         *string `json:"reason"`
				Actions        struct {
					Edges []struct {
						Node struct {
							Kind string `json:"kind"`
						} `json:"node"`
					} `json:"edges"`
				} `json:"actions"`
			} `json:"attribution"`
		} `json:"restoreSession"`
	}
	q := `query($id: ID!) { restoreSession(id: $id) { state attribution { throughGateway person reason actions(first: 100) { edges { node { kind } } } } } }`
	if err := e.gql(demo.TenantOperatorKey(1), q, map[string]any{"id": id}, &d); err != nil {
		t.Fatal(err)
	}
	a := d.RestoreSession.Attribution
	_, sp := op.get("/console/sessions/" + url.PathEscape(id))
	if !a.ThroughGateway || a.Person == nil || idText("a-person", sp) != *a.Person || a.Reason == nil || idText("a-reason", sp) != *a.Reason ||
		*a.Reason != reason || idText("a-through", sp) != "yes" {
		t.Fatalf("session page attribution person %q reason %q, GraphQL %+v", idText("a-person", sp), idText("a-reason", sp), a)
	}
	if !strings.Contains(sp, `data-stream="/console/sessions/`) {
		t.Errorf("a running session's page does not follow its events")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/console/sessions/"+url.PathEscape(id)+"/stream", nil)
	req.Header.Set("Accept", "text/event-stream")
	if sresp, err := op.c.Do(req); err != nil || sresp.StatusCode != http.StatusOK || !strings.HasPrefix(sresp.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("the session's event stream: %v %v", sresp, err)
	} else {
		_ = sresp.Body.Close()
	}
	cancel()
	// Stop.
	resp, body = op.post("/console/restore/"+url.PathEscape(id)+"/stop", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/sessions/") {
		t.Fatalf("stop: %d %.500s", resp.StatusCode, body)
	}
	waitFor(t, 20*time.Second, func() bool { // the archive follows VBO's stop on the watch's next poll
		return e.gql(demo.TenantOperatorKey(1), q, map[string]any{"id": id}, &d) == nil && d.RestoreSession.State == "STOPPED"
	}, "the stopped session")
	var kinds []string
	for _, x := range d.RestoreSession.Attribution.Actions.Edges {
		kinds = append(kinds, x.Node.Kind)
	}
	if d.RestoreSession.State != "STOPPED" || len(kinds) < 3 || kinds[0] != "START" || !slices.Contains(kinds, "BROWSE") || kinds[len(kinds)-1] != "STOP" {
		t.Fatalf("after stop: state %s, recorded %v; want STOPPED, START, BROWSE..., STOP", d.RestoreSession.State, kinds)
	}
	_, sp = op.get("/console/sessions/" + url.PathEscape(id))
	if n := strings.Count(sp, `<td class="a-kind">`); n != len(kinds) {
		t.Errorf("session page lists %d actions, GraphQL %d", n, len(kinds))
	}
	// The auditor: no page, no link, and GraphQL refuses its POSTs.
	au := newConsoleClient(t, e, demo.TenantKey(1))
	_, ov := au.get("/console/overview")
	if strings.Contains(ov, `href="/console/restore"`) {
		t.Errorf("the auditor's navigation links the Restore page")
	}
	if resp, _ := au.get("/console/restore"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("auditor's Restore page: %d, want 403", resp.StatusCode)
	}
	acsrf := csrfField.FindStringSubmatch(ov)[1]
	if resp, body := au.post("/console/restore/start", url.Values{"csrf": {acsrf}, "org": {html.UnescapeString(org[1])}, "type": {"EXCHANGE"}, "reason": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("auditor's start: %d %.300s, want 403", resp.StatusCode, body)
	}
	if resp, _ := au.post("/console/restore/"+url.PathEscape(id)+"/stop", url.Values{"csrf": {acsrf}}); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		t.Errorf("auditor's stop: %d, want 403 or 404", resp.StatusCode)
	}
}

var (
	itemLinkRe  = regexp.MustCompile(`<a class="b-open" href="([^"]+)">MAIL_ITEM</a>`)
	pickRe      = regexp.MustCompile(`name="item" value="([^"]+)"`)
	keyField    = regexp.MustCompile(`name="key" value="([^"]+)"`)
	emailRe     = regexp.MustCompile(` · ([^<·\s]+@[^<·\s]+)</td>`)
	downloadRe  = regexp.MustCompile(`id="download-link" href="([^"]+)"`)
	approveForm = regexp.MustCompile(`action="(/console/approvals/[^"]+)"`)
)

// consoleItems starts an Exchange session as cc on the Restore page's first organisation and
// browses to the first folder's mail items: the session id, the items page, and the
// organisation's mailbox addresses.
func consoleItems(t *testing.T, cc *consoleClient, reason string) (id, csrf, items string, emails []string) {
	t.Helper()
	_, page := cc.get("/console/restore")
	csrf = csrfField.FindStringSubmatch(page)[1]
	org := firstOrgOp.FindStringSubmatch(page)
	resp, body := cc.post("/console/restore/start", url.Values{"csrf": {csrf}, "org": {html.UnescapeString(org[1])}, "type": {"EXCHANGE"}, "reason": {reason}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d %.500s", resp.StatusCode, body)
	}
	id, _ = url.PathUnescape(strings.TrimPrefix(loc, "/console/restore/"))
	_, page = cc.get(loc)
	for _, m := range emailRe.FindAllStringSubmatch(page, -1) {
		emails = append(emails, html.UnescapeString(m[1]))
	}
	open := openLinkRe.FindStringSubmatch(page)
	if open == nil || len(emails) < 2 {
		t.Fatalf("mailboxes: %v %.3000s", emails, page)
	}
	_, page = cc.get(html.UnescapeString(open[1]))
	il := itemLinkRe.FindStringSubmatch(page)
	if il == nil {
		t.Fatalf("no folder with items: %.3000s", page)
	}
	_, items = cc.get(html.UnescapeString(il[1]))
	if len(pickRe.FindAllString(items, -1)) < 2 || !strings.Contains(items, `id="items-form"`) {
		t.Fatalf("the folder's items cannot be picked: %.3000s", items)
	}
	return id, csrf, items, emails
}

func (e *consoleEnv) actionKinds(t *testing.T, key, id string) []string {
	t.Helper()
	var d struct {
		RestoreSession struct {
			Attribution struct {
				Actions struct {
					Edges []struct{ Node struct{ Kind string } }
				}
			}
		}
	}
	if err := e.gql(key, `query($id: ID!) { restoreSession(id: $id) { attribution { actions(first: 200) { edges { node { kind } } } } } }`,
		map[string]any{"id": id}, &d); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, x := range d.RestoreSession.Attribution.Actions.Edges {
		kinds = append(kinds, x.Node.Kind)
	}
	return kinds
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestConsoleRestoreActions (plain HTTP): from the Restore page's item list an operator
// restores an item to another mailbox's folder (submitted twice with the form's key: one
// RESTORE_TO recorded, one VBO restore), downloads one through the console's one-time link
// (fetched with the cookie session, once; the same form again names the first download), and
// is refused without a selection or a recipient. A second tenant admin asks for a restore to
// the original location: a confirmation page first (without ticking it: 400), then
// PENDING_APPROVAL; the requester's own approval is refused with the rule's name; another
// tenant admin sees it on the Approvals page and approves it; the auditor has no Approvals page.
func TestConsoleRestoreActions(t *testing.T) {
	e := startConsoleEnv(t)
	op := newConsoleClient(t, e, demo.TenantOperatorKey(1))
	id, csrf, items, emails := consoleItems(t, op, "ticket 26: item actions")
	key := html.UnescapeString(keyField.FindStringSubmatch(items)[1])
	picks := pickRe.FindAllStringSubmatch(items, -1)
	item0, item1 := html.UnescapeString(picks[0][1]), html.UnescapeString(picks[1][1])
	action := "/console/restore/" + url.PathEscape(id) + "/items"
	restores := func() int {
		n := 0
		for _, s := range e.fleet.Sims {
			n += len(s.RestoreActions())
		}
		return n
	}
	before := restores()
	form := url.Values{"csrf": {csrf}, "key": {key}, "item": {item0}, "reason": {"put it back"}, "action": {"to"},
		"target": {emails[1]}, "folder": {"Recovered"}}
	for i := range 2 { // a double submit acts once
		resp, page := op.post(action, form)
		if resp.StatusCode != http.StatusOK || idText("result-state", page) != "SUCCEEDED" || !strings.Contains(idText("result-target", page), emails[1]) {
			t.Fatalf("restore to another mailbox (submit %d): %d %.2000s", i+1, resp.StatusCode, page)
		}
	}
	if kinds := e.actionKinds(t, demo.TenantOperatorKey(1), id); count(kinds, "RESTORE_TO") != 1 {
		t.Errorf("recorded %v: want one RESTORE_TO for two submits of one form", kinds)
	}
	if n := restores() - before; n != 1 {
		t.Errorf("VBO was asked %d times to restore, want 1", n)
	}
	// Refusals: no selection, no recipients.
	if resp, page := op.post(action, url.Values{"csrf": {csrf}, "key": {"k-none"}, "action": {"download"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "select at least one item") {
		t.Errorf("no selection: %d %.300s", resp.StatusCode, page)
	}
	if resp, page := op.post(action, url.Values{"csrf": {csrf}, "key": {"k-send"}, "item": {item0}, "action": {"send"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "recipient") {
		t.Errorf("send without recipients: %d %.300s", resp.StatusCode, page)
	}
	// Download: the one-time link works with the console's cookie session, once.
	dform := url.Values{"csrf": {csrf}, "key": {"k-dl-" + key}, "item": {item1}, "action": {"download"}}
	resp, page := op.post(action, dform)
	m := downloadRe.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("download: %d %.2000s", resp.StatusCode, page)
	}
	link := html.UnescapeString(m[1])
	if resp, body := op.get(link); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, raMagicMSG) {
		t.Errorf("the download link with the cookie session: %d %q", resp.StatusCode, body[:min(len(body), 40)])
	}
	if resp, _ := op.get(link); resp.StatusCode != http.StatusGone {
		t.Errorf("the download link fetched again: %d, want 410", resp.StatusCode)
	}
	other := newConsoleClient(t, e, demo.TenantAdminKey(1))
	if resp, _ := other.get(link); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another person's download link: %d, want 404", resp.StatusCode)
	}
	if resp, page := op.post(action, dform); resp.StatusCode != http.StatusBadRequest || downloadRe.MatchString(page) {
		t.Errorf("the download form submitted again: %d %.500s; want 400 and no second link", resp.StatusCode, page)
	}

	// Restore to the original location, under approval.
	req := newConsoleClient(t, e, raAdmin2)
	rid, rcsrf, ritems, _ := consoleItems(t, req, "ticket 26: original")
	rpick := html.UnescapeString(pickRe.FindStringSubmatch(ritems)[1])
	resp, page = req.post("/console/restore/"+url.PathEscape(rid)+"/items", url.Values{"csrf": {rcsrf}, "key": {"k-o"}, "item": {rpick},
		"name." + rpick: {"the chosen mail"}, "action": {"original"}, "reason": {"overwritten by mistake"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="confirm-form"`) || !strings.Contains(page, "the chosen mail") ||
		!strings.Contains(page, "live Microsoft 365 data") {
		t.Fatalf("confirmation page: %d %.2000s", resp.StatusCode, page)
	}
	if kinds := e.actionKinds(t, raAdmin2, rid); slices.Contains(kinds, "RESTORE_TO_ORIGINAL") {
		t.Fatalf("the confirmation page acted: %v", kinds)
	}
	cform := url.Values{"csrf": {rcsrf}, "key": {html.UnescapeString(keyField.FindStringSubmatch(page)[1])}, "item": {rpick}, "conflict": {"OVERWRITE"}, "reason": {"overwritten by mistake"}}
	orig := "/console/restore/" + url.PathEscape(rid) + "/original"
	if resp, page := req.post(orig, cform); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "tick the confirmation box") {
		t.Errorf("without the confirmation ticked: %d %.300s", resp.StatusCode, page)
	}
	cform.Set("confirm", "yes")
	resp, page = req.post(orig, cform)
	if resp.StatusCode != http.StatusOK || idText("result-state", page) != "PENDING_APPROVAL" {
		t.Fatalf("restore to the original location: %d %.2000s", resp.StatusCode, page)
	}
	_, ap := req.get("/console/approvals")
	f := approveForm.FindStringSubmatch(ap)
	if f == nil {
		t.Fatalf("the requester's Approvals page lists nothing: %.2000s", ap)
	}
	approve := html.UnescapeString(f[1])
	if resp, page := req.post(approve, url.Values{"csrf": {rcsrf}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "restore.approval.secondPerson") {
		t.Errorf("self-approval: %d %.1000s; want 403 naming restore.approval.secondPerson", resp.StatusCode, page)
	}
	_, ap = other.get("/console/approvals")
	if !strings.Contains(ap, approve) || !strings.Contains(ap, "overwritten by mistake") {
		t.Fatalf("the other admin's Approvals page: %.2000s", ap)
	}
	ocsrf := csrfField.FindStringSubmatch(ap)[1]
	if resp, page := other.post(approve, url.Values{}); resp.StatusCode != http.StatusForbidden || strings.Contains(page, "result-state") {
		t.Errorf("approve without the CSRF token: %d", resp.StatusCode)
	}
	resp, page = other.post(approve, url.Values{"csrf": {ocsrf}})
	if st := idText("result-state", page); resp.StatusCode != http.StatusOK || st != "SUCCEEDED" && st != "PARTIAL" {
		t.Fatalf("approve: %d %.2000s", resp.StatusCode, page)
	}
	if _, ap = other.get("/console/approvals"); strings.Contains(ap, approve) {
		t.Errorf("an approved action is still listed")
	}
	au := newConsoleClient(t, e, demo.TenantKey(1))
	if resp, _ := au.get("/console/approvals"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("auditor's Approvals page: %d, want 403", resp.StatusCode)
	}
	if _, ov := au.get("/console/overview"); strings.Contains(ov, `href="/console/approvals"`) {
		t.Errorf("the auditor's navigation links the Approvals page")
	}
}
