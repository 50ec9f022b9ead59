package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// The restore item actions end to end (issue 25): the demo fleet with syd1 on VBO API v6 and
// mel1 on v8, the watch and the front door on, tenant 1 asking for approval of restores to the
// original location, every organisation with Microsoft 365 user credentials whose password is
// the secret the logs are searched for.

const (
	raSecret       = "m365-secret-Zq8Lw3Xv-never-logged"
	raAdmin2       = "demo-tenant-1-admin-2"     // a second TENANT_ADMIN of tenant 1, allowed to restore to the original location
	raOperatorFull = "demo-tenant-1-operator-ro" // a RESTORE_OPERATOR key with allowRestoreToOriginal
	raMagicMSG     = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
	raMagicZIP     = "PK\x03\x04"
)

type raEnv struct {
	*restoreEnv
	db   string // the store's SQLite file
	logs *lockedBuffer
	sign func(claims map[string]any, alg, kid string) string
}

// raStart starts the item actions' gateway; mods change its configuration last, before it starts.
func raStart(t *testing.T, mods ...func(*config.Config)) *raEnv {
	t.Helper()
	fleet, cfg := restoreFleet(t, 20, 100*time.Millisecond)
	cfg.Restore = config.Restore{Enabled: true, IdleTimeout: time.Minute, ReapInterval: time.Second, MaxOpenSessionsPerPerson: 10,
		StepsPerMinute: 6000}
	withRestoreItemActions(fleet, cfg)
	cfg.Auth.APIKeys = append(cfg.Auth.APIKeys,
		config.APIKey{Name: raAdmin2, SHA256: demo.KeySHA256(raAdmin2), Tenant: "tenant-1", Role: "TENANT_ADMIN", AllowRestoreToOriginal: true},
		config.APIKey{Name: raOperatorFull, SHA256: demo.KeySHA256(raOperatorFull), Tenant: "tenant-1", Role: "RESTORE_OPERATOR", AllowRestoreToOriginal: true})
	kid := "ra-rsa"
	jwks, sign := isoJWKS(t, kid)
	cfg.Auth.JWT = &config.JWT{JWKSURL: jwks, Issuer: "https://idp.ra.test/", Audience: "vbo-gateway", ClockSkew: 30 * time.Second,
		TenantClaim: "tenant", RoleClaim: "role"}
	for _, m := range mods {
		m(cfg)
	}
	logs := &lockedBuffer{}
	env := restoreGateway(t, fleet, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if env.gw.Downloads == nil {
		t.Fatal("restore.enabled built no downloads")
	}
	return &raEnv{restoreEnv: env, db: cfg.Store.Path, logs: logs,
		sign: func(c map[string]any, alg, _ string) string { return sign(c, alg, kid) }}
}

// jwt is a tenant 1 RESTORE_OPERATOR's token that authenticated authAge ago.
func (e *raEnv) jwt(authAge time.Duration) string {
	now := time.Now()
	return e.sign(map[string]any{"iss": "https://idp.ra.test/", "aud": "vbo-gateway", "sub": "alice@tenant-1", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "auth_time": now.Add(-authAge).Unix(), "tenant": "tenant-1", "role": "RESTORE_OPERATOR"}, "RS256", "")
}

// raNode is a browsed entry with its children (c).
type raNode struct {
	ID, Kind, Name string
	Email, URL     *string
	SizeBytes      *int64
	C              *struct{ Edges []struct{ Node raNode } }
}

func (n raNode) children() []raNode {
	if n.C == nil {
		return nil
	}
	out := make([]raNode, len(n.C.Edges))
	for i, e := range n.C.Edges {
		out[i] = e.Node
	}
	return out
}

// raBrowse browses root and then one level per kind in path, first entries each.
func (e *raEnv) raBrowse(t *testing.T, key, session, root string, first int, path ...string) []raNode {
	t.Helper()
	sel := ""
	for i := len(path) - 1; i >= 0; i-- {
		sel = fmt.Sprintf(" c: children(kind: %s, first: %d) { edges { node { id kind name email url sizeBytes%s } } }", path[i], first, sel)
	}
	q := fmt.Sprintf(`query($id: ID!) { restoreSession(id: $id, live: true) { browse { c: %s(first: %d) { edges { node { id kind name email url sizeBytes%s } } } } } }`, root, first, sel)
	var out struct {
		RestoreSession struct {
			Browse *struct {
				C struct{ Edges []struct{ Node raNode } }
			}
		}
	}
	postAs(t, e.c, key, q, map[string]any{"id": session}).decode(t, &out)
	if out.RestoreSession.Browse == nil {
		t.Fatalf("no browser on %s", session)
	}
	var nodes []raNode
	for _, ed := range out.RestoreSession.Browse.C.Edges {
		nodes = append(nodes, ed.Node)
	}
	return nodes
}

// leaves are the deepest entries under nodes (depth levels below).
func leaves(nodes []raNode, depth int) []raNode {
	if depth == 0 {
		return nodes
	}
	var out []raNode
	for _, n := range nodes {
		out = append(out, leaves(n.children(), depth-1)...)
	}
	return out
}

func (e *raEnv) start(t *testing.T, key, org, typ string) string {
	t.Helper()
	var s struct{ StartRestoreSession struct{ ID string } }
	postAs(t, e.c, key, `mutation($org: ID!) { startRestoreSession(input: {organizationId: $org, type: `+typ+`, reason: "ticket 25"}) { id } }`,
		map[string]any{"org": org}).decode(t, &s)
	return s.StartRestoreSession.ID
}

const raResult = `action { id kind status person target approvedBy items { upstreamId kind name } counts { created merged skipped failed } } state counts { created merged skipped failed } warnings`

type raResultData struct {
	Action struct {
		ID, Kind, Status, Person string
		Target, ApprovedBy       *string
		Items                    []struct{ UpstreamID, Kind string }
	}
	State    string
	Counts   *struct{ Created, Merged, Skipped, Failed int }
	Warnings []string
}

func raMutation(name, input string) string {
	return fmt.Sprintf(`mutation($in: %s!) { r: %s(input: $in) { %s } }`, input, name, raResult)
}

var (
	raSend     = raMutation("sendRestoreItems", "SendRestoreItemsInput")
	raTo       = raMutation("restoreItemsTo", "RestoreItemsToInput")
	raOriginal = raMutation("restoreItemsToOriginal", "RestoreItemsToOriginalInput")
	raApprove  = `mutation($id: ID!) { r: approveRestoreAction(id: $id) { ` + raResult + ` } }`
	raDownload = `mutation($in: RestoreItemsInput!) { r: downloadRestoreItems(input: $in) { url expiresAt action { id kind status items { upstreamId name } } } }`
	raPending  = `{ pendingRestoreApprovals { edges { node { id kind person } } } }`
)

func (e *raEnv) act(t *testing.T, key, q string, in map[string]any) raResultData {
	t.Helper()
	var out struct{ R raResultData }
	postAs(t, e.c, key, q, map[string]any{"in": in}).decode(t, &out)
	return out.R
}

// refused posts q and wants exactly one error of code whose message contains want.
func (e *raEnv) refused(t *testing.T, key, q string, vars map[string]any, code, want string) {
	t.Helper()
	r := postAs(t, e.c, key, q, vars)
	if !slices.Equal(r.codes(), []string{code}) || !strings.Contains(r.Errors[0].Message, want) {
		t.Fatalf("want %s naming %q, got %+v", code, want, r.Errors)
	}
}

// fetch GETs a download link as key.
func (e *raEnv) fetch(t *testing.T, key, url string) (int, []byte) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, url, nil)
	r.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != nil { // http.ErrAbortHandler: say why from the gateway's log
				var why []string
				for _, l := range strings.Split(e.logs.String(), "\n") {
					if strings.Contains(l, "download") {
						why = append(why, l)
					}
				}
				t.Fatalf("download aborted (%v): %s", v, strings.Join(why, "\n"))
			}
		}()
		e.gw.Handler.ServeHTTP(rec, r)
	}()
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, body
}

func (e *raEnv) simActions(server, action string) int {
	n := 0
	for _, a := range e.fleet.Sims[server].RestoreActions() {
		if a.Action == action {
			n++
		}
	}
	return n
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readerSHA(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestRestoreActionsEndToEnd(t *testing.T) {
	e := raStart(t)
	orgs := e.tenantOrgs(t, 1)
	operator, admin := demo.TenantOperatorKey(1), demo.TenantAdminKey(1)
	stranger := demo.TenantOperatorKey(2)
	for _, server := range []string{"syd1", "mel1"} {
		t.Run(server+"/"+e.fleet.Sims[server].APIVersion(), func(t *testing.T) {
			org := orgs[server]
			sid := e.start(t, operator, org, "EXCHANGE")
			mailboxes := e.raBrowse(t, operator, sid, "mailboxes", 2, "MAIL_FOLDER", "MAIL_ITEM")
			if len(mailboxes) < 2 {
				t.Fatalf("want 2 mailboxes, got %d", len(mailboxes))
			}
			items := leaves(mailboxes[:1], 2)
			if len(items) < 2 {
				t.Fatalf("want 2 mail items in the first mailbox, got %+v", mailboxes[0])
			}
			// Two items of one folder.
			folder := mailboxes[0].children()[0]
			items = folder.children()
			if len(items) < 2 {
				t.Fatalf("folder %s has %d items", folder.Name, len(items))
			}
			own := *mailboxes[1].Email
			domain := own[strings.IndexByte(own, '@')+1:]
			base := func(key string, ids ...string) map[string]any {
				return map[string]any{"sessionId": sid, "itemIds": ids, "idempotencyKey": key + "-" + server, "reason": "ticket 25"}
			}
			with := func(m map[string]any, kv ...any) map[string]any {
				for i := 0; i < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			}

			// Download: fetched once, by the person who asked, with the simulator's bytes.
			var dl struct {
				R struct {
					URL    string
					Action struct {
						ID, Kind, Status string
						Items            []struct{ UpstreamID, Name string }
					}
				}
			}
			postAs(t, e.c, operator, raDownload, map[string]any{"in": base("dl", items[0].ID)}).decode(t, &dl)
			if !strings.HasPrefix(dl.R.URL, "/download/") || dl.R.Action.Kind != "DOWNLOAD" || dl.R.Action.Status != "PENDING" ||
				len(dl.R.Action.Items) != 1 || dl.R.Action.Items[0].Name != items[0].Name {
				t.Fatalf("download %+v", dl.R)
			}
			if code, _ := e.fetch(t, admin, dl.R.URL); code != http.StatusNotFound {
				t.Fatalf("another person's fetch: %d, want 404", code)
			}
			code, body := e.fetch(t, operator, dl.R.URL)
			if code != http.StatusOK || !strings.HasPrefix(string(body), raMagicMSG) {
				t.Fatalf("fetch: %d, %d bytes", code, len(body))
			}
			want := readerSHA(t, vbosim.ItemBody(dl.R.Action.Items[0].UpstreamID, raMagicMSG, int64(len(body))))
			if got := sha(body); got != want {
				t.Fatalf("sha256 %s, want the simulator's %s", got, want)
			}
			if items[0].SizeBytes != nil && int64(len(body)) != max(*items[0].SizeBytes, int64(len(raMagicMSG))) {
				t.Fatalf("%d bytes, item size %d", len(body), *items[0].SizeBytes)
			}
			if code, _ := e.fetch(t, operator, dl.R.URL); code != http.StatusGone {
				t.Fatalf("second fetch: %d, want 410", code)
			}
			// The record has the bytes and the digest.
			var rec struct {
				RestoreSession struct {
					Attribution struct {
						Actions struct {
							Edges []struct {
								Node struct {
									ID, Kind, Status string
									Bytes            *int64
									Sha256           *string
								}
							}
						}
					}
				}
			}
			postAs(t, e.c, operator, `query($id: ID!) { restoreSession(id: $id, live: true) { attribution { actions(first: 200) { edges { node { id kind status bytes sha256 } } } } } }`,
				map[string]any{"id": sid}).decode(t, &rec)
			found := false
			for _, ed := range rec.RestoreSession.Attribution.Actions.Edges {
				if n := ed.Node; n.ID == dl.R.Action.ID {
					found = n.Status == "SUCCEEDED" && n.Bytes != nil && *n.Bytes == int64(len(body)) && show(n.Sha256) == want
					if !found {
						t.Fatalf("download record %+v (%s)", n, show(n.Sha256))
					}
				}
			}
			if !found {
				t.Fatal("the download is not among the session's actions")
			}

			// Send: a foreign domain is refused naming the rule; the organisation's own is sent.
			e.refused(t, operator, raSend, map[string]any{"in": with(base("send-x", items[0].ID), "to", []string{"mallory@evil.example"})},
				"BAD_USER_INPUT", "restore.allowedRecipientDomains")
			sends := e.simActions(server, vbosim.ActionSendToDifferentAddress)
			r := e.act(t, operator, raSend, with(base("send", items[0].ID), "to", []string{own}, "subject", "your mail", "text", "here it is"))
			if r.State != "SUCCEEDED" || r.Action.Kind != "SEND" || show(r.Action.Target) != strings.ToLower(own) && show(r.Action.Target) != own ||
				e.simActions(server, vbosim.ActionSendToDifferentAddress) != sends+1 {
				t.Fatalf("send %+v target %s", r, show(r.Action.Target))
			}

			// Restore to another mailbox of the organisation; a target outside it is refused.
			e.refused(t, operator, raTo, map[string]any{"in": with(base("to-x", items[0].ID), "target", "someone@evil.example")},
				"BAD_USER_INPUT", "restore.sameOrganization")
			restoresTo := e.simActions(server, vbosim.ActionRestoreTo)
			in := with(base("to", items[0].ID, items[1].ID), "target", own, "folder", "Recovered")
			r = e.act(t, operator, raTo, in)
			if r.State != "SUCCEEDED" || r.Counts == nil || r.Counts.Created != 2 || r.Counts.Failed != 0 || len(r.Action.Items) != 2 {
				t.Fatalf("restoreItemsTo %+v counts %+v", r, r.Counts)
			}
			// A retry with the same key answers the first result: restored once.
			again := e.act(t, operator, raTo, in)
			if again.Action.ID != r.Action.ID || again.State != "SUCCEEDED" || e.simActions(server, vbosim.ActionRestoreTo) != restoresTo+1 {
				t.Fatalf("retry %+v, sim restoreTo %d (was %d)", again, e.simActions(server, vbosim.ActionRestoreTo), restoresTo)
			}
			// ... even when the retries race.
			var wg sync.WaitGroup
			ids := make([]string, 4)
			race := with(base("to-race", items[1].ID), "target", own)
			for i := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := e.c.RawPost(raTo, asKey(operator), client.Var("in", race))
					if err == nil {
						b, _ := json.Marshal(resp.Data)
						var out struct{ R raResultData }
						_ = json.Unmarshal(b, &out)
						ids[i] = out.R.Action.ID
					}
				}()
			}
			wg.Wait()
			if ids[0] == "" || slices.ContainsFunc(ids, func(s string) bool { return s != ids[0] }) || e.simActions(server, vbosim.ActionRestoreTo) != restoresTo+2 {
				t.Fatalf("racing retries answered %v; sim restoreTo %d, want %d", ids, e.simActions(server, vbosim.ActionRestoreTo), restoresTo+2)
			}

			// Restore to the original location: confirm, fresh authentication, approval.
			orig := func(key string, confirm bool) map[string]any {
				return with(base(key, items[0].ID), "conflict", "OVERWRITE", "confirm", confirm)
			}
			e.refused(t, raOperatorFull, raOriginal, map[string]any{"in": orig("o-noconfirm", false)}, "BAD_USER_INPUT", "restore.confirm")
			e.refused(t, operator, raOriginal, map[string]any{"in": orig("o-key", true)}, "FORBIDDEN", "allowRestoreToOriginal")
			e.refused(t, e.jwt(2*time.Hour), raOriginal, map[string]any{"in": orig("o-stale", true)}, "FORBIDDEN", "restore.stepUpMaxAge")
			fresh := e.act(t, e.jwt(time.Minute), raOriginal, orig("o-fresh", true))
			if fresh.State != "PENDING_APPROVAL" || fresh.Action.Person != "alice@tenant-1" {
				t.Fatalf("fresh JWT: %+v", fresh)
			}
			restores := e.simActions(server, vbosim.ActionRestore)
			pending := e.act(t, raAdmin2, raOriginal, orig("o-approve", true))
			if pending.State != "PENDING_APPROVAL" || pending.Action.Status != "PENDING" || e.simActions(server, vbosim.ActionRestore) != restores {
				t.Fatalf("with approval required: %+v", pending)
			}
			var list struct {
				PendingRestoreApprovals struct {
					Edges []struct {
						Node struct{ ID, Kind, Person string }
					}
				}
			}
			postAs(t, e.c, admin, raPending, nil).decode(t, &list)
			if !slices.ContainsFunc(list.PendingRestoreApprovals.Edges, func(ed struct {
				Node struct{ ID, Kind, Person string }
			}) bool {
				return ed.Node.ID == pending.Action.ID
			}) {
				t.Fatalf("pendingRestoreApprovals %+v lacks %s", list, pending.Action.ID)
			}
			e.refused(t, stranger, raPending, nil, "FORBIDDEN", "TENANT_ADMIN")
			// The requester may not approve; another tenant's admin finds nothing; the second admin runs it.
			e.refused(t, raAdmin2, raApprove, map[string]any{"id": pending.Action.ID}, "FORBIDDEN", "restore.approval.secondPerson")
			e.refused(t, demo.TenantAdminKey(2), raApprove, map[string]any{"id": pending.Action.ID}, "NOT_FOUND", "not found")
			e.refused(t, operator, raApprove, map[string]any{"id": pending.Action.ID}, "FORBIDDEN", "TENANT_ADMIN")
			var ap struct{ R raResultData }
			postAs(t, e.c, admin, raApprove, map[string]any{"id": pending.Action.ID}).decode(t, &ap)
			if ap.R.State != "SUCCEEDED" || show(ap.R.Action.ApprovedBy) != "apikey:"+admin || ap.R.Counts == nil || ap.R.Counts.Created != 1 ||
				e.simActions(server, vbosim.ActionRestore) != restores+1 {
				t.Fatalf("approved: %+v approvedBy %s", ap.R, show(ap.R.Action.ApprovedBy))
			}
			e.refused(t, admin, raApprove, map[string]any{"id": pending.Action.ID}, "BAD_USER_INPUT", "not waiting for approval")

			// Another tenant: this session's items are not found, with its session or its own.
			e.refused(t, stranger, raTo, map[string]any{"in": with(base("x1", items[0].ID), "target", own)}, "NOT_FOUND", "not found")
			if strangerOrg, ok := e.tenantOrgs(t, 2)[server]; ok {
				other := e.start(t, stranger, strangerOrg, "EXCHANGE")
				in := with(base("x2", items[0].ID), "target", own)
				in["sessionId"] = other
				e.refused(t, stranger, raTo, map[string]any{"in": in}, "NOT_FOUND", "not found")
			}
			_ = domain

			// OneDrive: a document downloaded, and copied to another OneDrive of the organisation.
			od := e.start(t, operator, org, "ONEDRIVE")
			drives := e.raBrowse(t, operator, od, "oneDrives", 5, "DRIVE_DOCUMENT")
			if len(drives) < 2 || len(drives[0].children()) == 0 {
				t.Fatalf("OneDrives %+v", drives)
			}
			// The smallest document: the stream's size is not what this test is about.
			doc := drives[0].children()[0]
			for _, d := range drives[0].children() {
				if d.SizeBytes != nil && doc.SizeBytes != nil && *d.SizeBytes < *doc.SizeBytes {
					doc = d
				}
			}
			postAs(t, e.c, operator, raDownload, map[string]any{"in": map[string]any{"sessionId": od, "itemIds": []string{doc.ID},
				"idempotencyKey": "od-dl-" + server}}).decode(t, &dl)
			code, body = e.fetch(t, operator, dl.R.URL)
			if code != http.StatusOK || sha(body) != readerSHA(t, vbosim.ItemBody(dl.R.Action.Items[0].UpstreamID, raMagicZIP, int64(len(body)))) {
				t.Fatalf("OneDrive download: %d, %d bytes %q %+v", code, len(body), body[:8], dl.R.Action)
			}
			copies := e.simActions(server, vbosim.ActionCopyTo)
			// The target OneDrive by its URL (a host of the organisation's); one of another
			// organisation is refused.
			if drives[1].URL == nil {
				t.Fatalf("OneDrive %+v without a URL", drives[1])
			}
			e.refused(t, operator, raTo, map[string]any{"in": map[string]any{"sessionId": od, "itemIds": []string{doc.ID}, "idempotencyKey": "od-to-x-" + server,
				"target": "https://evil-my.sharepoint.com/personal/x"}}, "BAD_USER_INPUT", "restore.sameOrganization")
			r = e.act(t, operator, raTo, map[string]any{"sessionId": od, "itemIds": []string{doc.ID}, "idempotencyKey": "od-to-" + server,
				"target": *drives[1].URL})
			if r.State != "SUCCEEDED" || r.Counts == nil || r.Counts.Created != 1 || e.simActions(server, vbosim.ActionCopyTo) != copies+1 {
				t.Fatalf("OneDrive copyTo %+v", r)
			}
			sends = e.simActions(server, vbosim.ActionSend)
			r = e.act(t, operator, raSend, map[string]any{"sessionId": od, "itemIds": []string{doc.ID}, "idempotencyKey": "od-send-" + server,
				"to": []string{own}})
			if r.State != "SUCCEEDED" || e.simActions(server, vbosim.ActionSend) != sends+1 {
				t.Fatalf("OneDrive send %+v", r)
			}

			// OneDrive to the original location: MERGE is refused (OneDrive keeps or overwrites);
			// KEEP waits for approval and runs once approved.
			e.refused(t, raAdmin2, raOriginal, map[string]any{"in": map[string]any{"sessionId": od, "itemIds": []string{doc.ID},
				"idempotencyKey": "od-orig-merge-" + server, "conflict": "MERGE", "confirm": true}}, "BAD_USER_INPUT", "keep or overwrite")
			odRestores := e.simActions(server, vbosim.ActionRestore)
			odPending := e.act(t, raAdmin2, raOriginal, map[string]any{"sessionId": od, "itemIds": []string{doc.ID},
				"idempotencyKey": "od-orig-" + server, "conflict": "KEEP", "confirm": true})
			if odPending.State != "PENDING_APPROVAL" {
				t.Fatalf("OneDrive restore to original %+v", odPending)
			}
			var odAp struct{ R raResultData }
			postAs(t, e.c, admin, raApprove, map[string]any{"id": odPending.Action.ID}).decode(t, &odAp)
			if odAp.R.State != "SUCCEEDED" || e.simActions(server, vbosim.ActionRestore) != odRestores+1 {
				t.Fatalf("OneDrive approved restore %+v", odAp.R)
			}
			if last := e.fleet.Sims[server].RestoreActions(); last[len(last)-1].Conflict != "Keep" || last[len(last)-1].Credentials != "user" {
				t.Fatalf("VBO got conflict %q credentials %q", last[len(last)-1].Conflict, last[len(last)-1].Credentials)
			}

			// SharePoint: a document restored to its own site.
			sp := e.start(t, operator, org, "SHAREPOINT")
			sites := e.raBrowse(t, operator, sp, "sites", 1, "SITE_LIBRARY", "SITE_DOCUMENT")
			spDocs := leaves(sites, 2)
			if len(sites) == 0 || len(spDocs) == 0 || sites[0].URL == nil {
				t.Fatalf("sites %+v", sites)
			}
			spRestores := e.simActions(server, vbosim.ActionRestoreTo)
			r = e.act(t, operator, raTo, map[string]any{"sessionId": sp, "itemIds": []string{spDocs[0].ID}, "idempotencyKey": "sp-to-" + server,
				"target": *sites[0].URL})
			if r.State != "SUCCEEDED" || e.simActions(server, vbosim.ActionRestoreTo) != spRestores+1 {
				t.Fatalf("SharePoint restoreTo %+v", r)
			}

			// Teams: a channel's file mailed inside the organisation.
			tm := e.start(t, operator, org, "TEAMS")
			teams := e.raBrowse(t, operator, tm, "teams", 2, "CHANNEL", "TEAM_FILE")
			files := leaves(teams, 2)
			if len(files) == 0 {
				t.Fatalf("teams %+v have no files", teams)
			}
			sends = e.simActions(server, vbosim.ActionSend)
			r = e.act(t, operator, raSend, map[string]any{"sessionId": tm, "itemIds": []string{files[0].ID}, "idempotencyKey": "tm-send-" + server,
				"to": []string{own}})
			if r.State != "SUCCEEDED" || e.simActions(server, vbosim.ActionSend) != sends+1 {
				t.Fatalf("Teams send %+v", r)
			}
		})
	}
	// The Microsoft 365 secret went to VBO and nowhere else: not in the logs, nor in the
	// simulator's records.
	if strings.Contains(e.logs.String(), raSecret) {
		t.Fatal("the Microsoft 365 secret is in the gateway's logs")
	}
	if len(e.logs.String()) == 0 {
		t.Fatal("no logs captured: the secrets check would prove nothing")
	}
	// Nor in the store (the database file and its write-ahead log).
	for _, f := range []string{e.db, e.db + "-wal"} {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), raSecret) {
			t.Fatalf("the Microsoft 365 secret is in %s", filepath.Base(f))
		} else if err != nil && f == e.db {
			t.Fatal(err)
		}
	}
	for name, sim := range e.fleet.Sims {
		for _, a := range sim.RestoreActions() {
			if b, _ := json.Marshal(a); strings.Contains(string(b), raSecret) {
				t.Fatalf("%s recorded the secret: %s", name, b)
			}
		}
	}
}

// TestRestoreActionsDemoTab runs the demo's restore actions tab as GraphiQL would: start,
// list items, download a message (fetched once), restore it to another folder.
func TestRestoreActionsDemoTab(t *testing.T) {
	e := raStart(t)
	tab, ok := e.fleet.RestoreActionsTabFor()
	if !ok || !strings.Contains(tab.Headers, demo.TenantOperatorKey(1)) {
		t.Fatalf("tab %+v", tab)
	}
	run, vars := e.tabRunner(t, tab)
	var s struct{ StartRestoreSession struct{ ID string } }
	run("StartRestoreSession", &s)
	vars["session"] = s.StartRestoreSession.ID
	var items struct {
		RestoreSession struct {
			Browse struct {
				Mailboxes struct {
					Edges []struct {
						Node struct {
							Email   string
							Folders struct {
								Edges []struct {
									Node struct {
										Items struct {
											Edges []struct{ Node struct{ ID string } }
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	run("Items", &items)
	mbs := items.RestoreSession.Browse.Mailboxes.Edges
	if len(mbs) < 2 || len(mbs[0].Node.Folders.Edges) == 0 || len(mbs[0].Node.Folders.Edges[0].Node.Items.Edges) == 0 {
		t.Fatalf("items %+v", items)
	}
	vars["item"] = mbs[0].Node.Folders.Edges[0].Node.Items.Edges[0].Node.ID
	vars["target"] = mbs[1].Node.Email
	var dl struct{ DownloadRestoreItems struct{ URL string } }
	run("DownloadMessage", &dl)
	if code, body := e.fetch(t, demo.TenantOperatorKey(1), dl.DownloadRestoreItems.URL); code != http.StatusOK || !strings.HasPrefix(string(body), raMagicMSG) {
		t.Fatalf("fetch %d", code)
	}
	var to struct {
		RestoreItemsTo struct {
			State  string
			Action struct{ Target string }
		}
	}
	run("RestoreToFolder", &to)
	if to.RestoreItemsTo.State != "SUCCEEDED" || !strings.Contains(to.RestoreItemsTo.Action.Target, "Recovered by the gateway") {
		t.Fatalf("restore %+v", to)
	}
	var acts json.RawMessage
	run("Actions", &acts)
	if !strings.Contains(string(acts), "RESTORE_TO") || !strings.Contains(string(acts), "DOWNLOAD") {
		t.Fatalf("actions %s", acts)
	}
}

// TestRestoreActionEventsJoined: once the watch has archived the session, a restoreItemsTo's
// events are VBO's Restore events of exactly its items.
func TestRestoreActionEventsJoined(t *testing.T) {
	e := raStart(t)
	operator := demo.TenantOperatorKey(1)
	for _, server := range []string{"syd1", "mel1"} {
		t.Run(server, func(t *testing.T) {
			sid := e.start(t, operator, e.tenantOrgs(t, 1)[server], "EXCHANGE")
			mailboxes := e.raBrowse(t, operator, sid, "mailboxes", 2, "MAIL_FOLDER", "MAIL_ITEM")
			items := mailboxes[0].children()[0].children()
			if len(items) < 2 {
				t.Fatal("too few items")
			}
			r := e.act(t, operator, raTo, map[string]any{"sessionId": sid, "itemIds": []string{items[0].ID}, "idempotencyKey": "ev-" + server,
				"target": *mailboxes[1].Email})
			if r.State != "SUCCEEDED" {
				t.Fatalf("%+v", r)
			}
			postAs(t, e.c, operator, rfStop, map[string]any{"id": sid})
			q := `query($id: ID!) { restoreSession(id: $id) { attribution { actions(first: 100) { edges { node { id kind events { type itemName } } } } } } }`
			var names []string
			waitFor(t, 20*time.Second, func() bool {
				var out struct {
					RestoreSession *struct {
						Attribution struct {
							Actions struct {
								Edges []struct {
									Node struct {
										ID, Kind string
										Events   []struct{ Type, ItemName string }
									}
								}
							}
						}
					}
				}
				res := postAs(t, e.c, operator, q, map[string]any{"id": sid})
				if len(res.Errors) > 0 || !res.sources()["archive"] {
					return false
				}
				res.decode(t, &out)
				if out.RestoreSession == nil {
					return false
				}
				names = nil
				for _, ed := range out.RestoreSession.Attribution.Actions.Edges {
					if ed.Node.ID != r.Action.ID {
						continue
					}
					for _, ev := range ed.Node.Events {
						if ev.Type != "RESTORE" && ev.Type != "Restore" {
							t.Fatalf("event of type %s joined to a restore", ev.Type)
						}
						names = append(names, ev.ItemName)
					}
				}
				return len(names) > 0
			})
			if len(names) != 1 || names[0] != items[0].Name {
				t.Fatalf("events of %v, want exactly %q", names, items[0].Name)
			}
		})
	}
}
