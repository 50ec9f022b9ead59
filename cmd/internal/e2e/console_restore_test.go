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
