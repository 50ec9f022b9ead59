package e2e_test

import (
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// signInOIDC runs the console's OpenID Connect sign-in for cc as u, starting at start (the
// sign-in page's link, or a "sign in again" link), and returns where the console sends the
// browser afterwards. The issuer's authorize URL is returned too (to read its parameters).
func signInOIDC(t *testing.T, cc *consoleClient, u oidcUser, start string) (next, authorize string) {
	t.Helper()
	cc.e.oidc.QueueUser(u)
	resp, _ := cc.get(start)
	authorize = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || authorize == "" {
		t.Fatalf("sign-in start %s: %d", start, resp.StatusCode)
	}
	r, err := cc.c.Get(authorize) // the issuer answers at once with the code
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	callback := r.Header.Get("Location")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(callback, cc.e.url+config.ConsoleCallbackPath) {
		t.Fatalf("issuer: %d %s", r.StatusCode, callback)
	}
	r, err = cc.c.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), "error=") {
		t.Fatalf("callback: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	return r.Header.Get("Location"), authorize
}

// newOIDCConsoleClient is a browser signed in to the console with OpenID Connect as u.
func newOIDCConsoleClient(t *testing.T, e *consoleEnv, u oidcUser) *consoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{t: t, e: e, key: u.sub,
		c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	signInOIDC(t, cc, u, "/console/auth/start")
	return cc
}

// TestConsoleOIDCStepUp (plain HTTP): a tenant admin signed in to the console with OpenID
// Connect restores to the original location when the ID token's auth_time is within
// restore.stepUpMaxAge (the console keeps it with the session: tenant 1's approval rule then
// holds it in PENDING_APPROVAL); with an old auth_time, or none, the gateway refuses it (403
// naming restore.stepUpMaxAge) and the page links a sign-in again that asks the issuer to
// authenticate afresh (prompt=login, max_age=0) and returns to the restore session, after which
// the same restore goes through.
func TestConsoleOIDCStepUp(t *testing.T) {
	e := startConsoleEnv(t)
	now := time.Now()
	// confirm asks for a restore to the original location of one item of a new session, through
	// the confirmation page's form.
	confirm := func(cc *consoleClient, rid, csrf, pick string) (*http.Response, string) {
		t.Helper()
		resp, page := cc.post("/console/restore/"+url.PathEscape(rid)+"/items", url.Values{"csrf": {csrf}, "key": {"k-o"}, "item": {pick},
			"action": {"original"}, "reason": {"step-up"}})
		m := keyField.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("confirmation page: %d %.1000s", resp.StatusCode, page)
		}
		return cc.post("/console/restore/"+url.PathEscape(rid)+"/original", url.Values{"csrf": {csrf}, "key": {html.UnescapeString(m[1])},
			"item": {pick}, "conflict": {"OVERWRITE"}, "reason": {"step-up"}, "confirm": {"yes"}})
	}
	for _, tc := range []struct {
		name     string
		authTime int64
		fresh    bool
	}{
		{"fresh", now.Add(-time.Minute).Unix(), true},
		{"stale", now.Add(-time.Hour).Unix(), false},
		{"no auth_time", 0, false},
	} {
		u := oidcUser{sub: strings.ReplaceAll(tc.name, " ", "-") + "-admin@tenant-1.example", tenant: "tenant-1", role: "TENANT_ADMIN", authTime: tc.authTime}
		cc := newOIDCConsoleClient(t, e, u)
		rid, csrf, items, _ := consoleItems(t, cc, "ticket 26: step-up "+tc.name)
		pick := html.UnescapeString(pickRe.FindStringSubmatch(items)[1])
		resp, page := confirm(cc, rid, csrf, pick)
		if tc.fresh {
			if st := idText("result-state", page); resp.StatusCode != http.StatusOK || st != "PENDING_APPROVAL" && st != "RUNNING" {
				t.Errorf("%s: restore to the original location: %d %s %.1500s", tc.name, resp.StatusCode, st, page)
			}
			if strings.Contains(page, `id="reauth"`) {
				t.Errorf("%s: a sign-in-again link on a restore that went through", tc.name)
			}
			continue
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "restore.stepUpMaxAge") || strings.Contains(page, "result-state") {
			t.Errorf("%s: %d %.1500s; want 403 naming restore.stepUpMaxAge", tc.name, resp.StatusCode, page)
			continue
		}
		m := regexpReauth.FindStringSubmatch(page)
		if m == nil {
			t.Errorf("%s: no sign-in-again link: %.1500s", tc.name, page)
			continue
		}
		// Signing in again (now authenticated a moment ago) returns to the session, and the
		// restore goes through.
		u.authTime = time.Now().Unix()
		next, authorize := signInOIDC(t, cc, u, html.UnescapeString(m[1]))
		if q := mustURL(authorize).Query(); q.Get("prompt") != "login" || q.Get("max_age") != "0" {
			t.Errorf("%s: the sign-in again asks the issuer %s; want prompt=login and max_age=0", tc.name, authorize)
		}
		if want := "/console/restore/" + url.PathEscape(rid); next != want {
			t.Errorf("%s: after signing in again the console sends the browser to %s, want %s", tc.name, next, want)
		}
		_, sp := cc.get(next)
		cm := csrfField.FindStringSubmatch(sp)
		if cm == nil {
			t.Fatalf("%s: the restore session's page after signing in again: %.1000s", tc.name, sp)
		}
		resp, page = confirm(cc, rid, cm[1], pick)
		if st := idText("result-state", page); resp.StatusCode != http.StatusOK || st != "PENDING_APPROVAL" && st != "RUNNING" {
			t.Errorf("%s: after signing in again: %d %s %.1500s", tc.name, resp.StatusCode, st, page)
		}
	}
	// A person signed in with an API key is never offered an OpenID Connect sign-in again.
	key := newConsoleClient(t, e, raAdmin2)
	rid, csrf, items, _ := consoleItems(t, key, "ticket 26: step-up key")
	if _, page := confirm(key, rid, csrf, html.UnescapeString(pickRe.FindStringSubmatch(items)[1])); strings.Contains(page, `id="reauth"`) {
		t.Errorf("an API key's session offered a sign-in again: %.1000s", page)
	}
}

var regexpReauth = regexp.MustCompile(`id="reauth" href="([^"]+)"`)

// TestConsoleRestoreTeamsSwitches (plain HTTP): the confirmation page of a restore to the
// original location offers the Teams switches for a TEAMS session, and not for an Exchange
// one; ticked, they reach restoreItemsToOriginal (the recorded action's summary names members
// and settings), and a forged switch on an Exchange session is refused.
func TestConsoleRestoreTeamsSwitches(t *testing.T) {
	e := startConsoleEnv(t)
	cc := newConsoleClient(t, e, raAdmin2)
	_, page := cc.get("/console/restore")
	csrf := csrfField.FindStringSubmatch(page)[1]
	org := html.UnescapeString(firstOrgOp.FindStringSubmatch(page)[1])
	resp, body := cc.post("/console/restore/start", url.Values{"csrf": {csrf}, "org": {org}, "type": {"TEAMS"}, "reason": {"ticket 26: teams"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start a Teams session: %d %.500s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	rid, _ := url.PathUnescape(strings.TrimPrefix(loc, "/console/restore/"))
	_, teams := cc.get(loc)
	pm := pickRe.FindStringSubmatch(teams)
	if pm == nil {
		t.Fatalf("no team to pick: %.2000s", teams)
	}
	pick := html.UnescapeString(pm[1])
	resp, page = cc.post("/console/restore/"+url.PathEscape(rid)+"/items", url.Values{"csrf": {csrf}, "key": {"k-t"}, "item": {pick},
		"action": {"original"}, "reason": {"team deleted by mistake"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="restoreMembers" value="yes"`) || !strings.Contains(page, `name="restoreSettings" value="yes"`) {
		t.Fatalf("a Teams session's confirmation page: %d %.2000s; want the members and settings switches", resp.StatusCode, page)
	}
	resp, page = cc.post("/console/restore/"+url.PathEscape(rid)+"/original", url.Values{"csrf": {csrf}, "key": {html.UnescapeString(keyField.FindStringSubmatch(page)[1])},
		"item": {pick}, "conflict": {"OVERWRITE"}, "reason": {"team deleted by mistake"}, "confirm": {"yes"}, "restoreMembers": {"yes"}, "restoreSettings": {"yes"}})
	if st := idText("result-state", page); resp.StatusCode != http.StatusOK || st != "PENDING_APPROVAL" || !strings.Contains(page, "conflict OVERWRITE, members, settings)") {
		t.Fatalf("a team's restore with both switches: %d %s %.2000s", resp.StatusCode, st, page)
	}
	// An Exchange session: no switches, and a forged one is the gateway's BAD_USER_INPUT.
	xid, xcsrf, items, _ := consoleItems(t, cc, "ticket 26: exchange")
	xpick := html.UnescapeString(pickRe.FindStringSubmatch(items)[1])
	resp, page = cc.post("/console/restore/"+url.PathEscape(xid)+"/items", url.Values{"csrf": {xcsrf}, "key": {"k-x"}, "item": {xpick}, "action": {"original"}})
	if resp.StatusCode != http.StatusOK || strings.Contains(page, "restoreMembers") || strings.Contains(page, "restoreSettings") {
		t.Fatalf("an Exchange session's confirmation page: %d %.2000s; want no Teams switches", resp.StatusCode, page)
	}
	resp, page = cc.post("/console/restore/"+url.PathEscape(xid)+"/original", url.Values{"csrf": {xcsrf}, "key": {html.UnescapeString(keyField.FindStringSubmatch(page)[1])},
		"item": {xpick}, "conflict": {"OVERWRITE"}, "confirm": {"yes"}, "restoreMembers": {"yes"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "restoreMembers and restoreSettings apply to a team") {
		t.Errorf("a forged switch on an Exchange session: %d %.1000s; want 400 from the gateway", resp.StatusCode, page)
	}
}
