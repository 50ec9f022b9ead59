package e2e_test

import (
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// Who may approve a restore to the original location, end to end over GraphQL (the gqlgen
// client against the running gateway, the v6 simulator behind it): the approver is held to the
// requester's step-up rule, and persons, not API keys, are compared for self-approval.

const (
	apAnnPortal = "ap-ann-portal" // tenant 1's admin ann, her first key
	apAnnCLI    = "ap-ann-cli"    // ann's second key
	apBob       = "ap-bob"        // tenant 1's admin bob
	apNoFlag    = "ap-dan"        // tenant 1's admin dan, whose key lacks allowRestoreToOriginal
	apCarolKey  = "ap-carol-key"  // carol's key: her person is her JWT sub
	apCarolSub  = "carol@tenant-1"
)

func apKeys(cfg *config.Config) {
	key := func(name, person string, flag bool) config.APIKey {
		return config.APIKey{Name: name, SHA256: demo.KeySHA256(name), Tenant: "tenant-1", Role: "TENANT_ADMIN", Person: person,
			AllowRestoreToOriginal: flag}
	}
	cfg.Auth.APIKeys = append(cfg.Auth.APIKeys, key(apAnnPortal, "ann@tenant-1", true), key(apAnnCLI, "ann@tenant-1", true),
		key(apBob, "bob@tenant-1", true), key(apNoFlag, "dan@tenant-1", false), key(apCarolKey, apCarolSub, true))
}

// adminJWT is a tenant 1 TENANT_ADMIN's token for sub; authAge < 0: no auth_time claim.
func (e *raEnv) adminJWT(sub string, authAge time.Duration) string {
	now := time.Now()
	c := map[string]any{"iss": "https://idp.ra.test/", "aud": "vbo-gateway", "sub": sub, "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "tenant": "tenant-1", "role": "TENANT_ADMIN"}
	if authAge >= 0 {
		c["auth_time"] = now.Add(-authAge).Unix()
	}
	return e.sign(c, "RS256", "")
}

// TestRestoreApprovalStepUpAndPersons: for each case a restore to the original location is
// asked and waits; the refused approvers each get the rule named (FORBIDDEN), leave it waiting
// and VBO untouched; then the last approver runs it once and is recorded as approvedBy.
func TestRestoreApprovalStepUpAndPersons(t *testing.T) {
	e := raStart(t, apKeys)
	const server = "syd1"
	org := e.tenantOrgs(t, 1)[server]
	operator := demo.TenantOperatorKey(1)
	sid := e.start(t, operator, org, "EXCHANGE")
	mailboxes := e.raBrowse(t, operator, sid, "mailboxes", 1, "MAIL_FOLDER", "MAIL_ITEM")
	items := leaves(mailboxes, 2)
	if len(items) == 0 {
		t.Fatalf("no mail items in %+v", mailboxes)
	}
	type refusal struct {
		who        string // an API key or a JWT
		code, rule string
	}
	for _, tc := range []struct {
		name      string
		requester string
		person    string // the requester's recorded person
		refused   []refusal
		approver  string
		approved  string // the approver's recorded person
	}{
		{"approver's JWT stale, then fresh", apAnnPortal, "ann@tenant-1", []refusal{
			{e.adminJWT(apCarolSub, 2*time.Hour), "FORBIDDEN", "(rule restore.stepUpMaxAge)"},
			{e.adminJWT(apCarolSub, -1), "FORBIDDEN", "(rule restore.stepUpMaxAge)"},
		}, e.adminJWT(apCarolSub, time.Minute), apCarolSub},
		{"approver's key without allowRestoreToOriginal", apAnnPortal, "ann@tenant-1", []refusal{
			{apNoFlag, "FORBIDDEN", "(rule auth.apiKeys[].allowRestoreToOriginal)"},
		}, apBob, "bob@tenant-1"},
		{"two keys of one person, then another person", apAnnPortal, "ann@tenant-1", []refusal{
			{apAnnPortal, "FORBIDDEN", "(rule restore.approval.secondPerson)"},
			{apAnnCLI, "FORBIDDEN", "(rule restore.approval.secondPerson)"},
		}, apBob, "bob@tenant-1"},
		{"the other key asks, the first may not approve", apAnnCLI, "ann@tenant-1", []refusal{
			{apAnnPortal, "FORBIDDEN", "(rule restore.approval.secondPerson)"},
		}, demo.TenantAdminKey(1), "apikey:" + demo.TenantAdminKey(1)},
		{"a person's JWT and key are one person", e.adminJWT(apCarolSub, time.Minute), apCarolSub, []refusal{
			{apCarolKey, "FORBIDDEN", "(rule restore.approval.secondPerson)"},
		}, apAnnCLI, "ann@tenant-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]any{"sessionId": sid, "itemIds": []string{items[0].ID}, "idempotencyKey": "ap-" + tc.name,
				"reason": "ticket 27", "conflict": "OVERWRITE", "confirm": true}
			pending := e.act(t, tc.requester, raOriginal, in)
			if pending.State != "PENDING_APPROVAL" || pending.Action.Person != tc.person {
				t.Fatalf("asked: %+v, want PENDING_APPROVAL by %s", pending, tc.person)
			}
			restores := e.simActions(server, vbosim.ActionRestore)
			id := map[string]any{"id": pending.Action.ID}
			for _, r := range tc.refused {
				e.refused(t, r.who, raApprove, id, r.code, r.rule)
			}
			if n := e.simActions(server, vbosim.ActionRestore); n != restores {
				t.Fatalf("VBO restored %d times for refused approvals", n-restores)
			}
			var list struct {
				PendingRestoreApprovals struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			postAs(t, e.c, tc.approver, raPending, nil).decode(t, &list)
			waiting := false
			for _, ed := range list.PendingRestoreApprovals.Edges {
				waiting = waiting || ed.Node.ID == pending.Action.ID
			}
			if !waiting {
				t.Fatalf("after the refusals %s no longer waits: %+v", pending.Action.ID, list)
			}
			var ap struct{ R raResultData }
			postAs(t, e.c, tc.approver, raApprove, id).decode(t, &ap)
			if ap.R.State != "SUCCEEDED" || show(ap.R.Action.ApprovedBy) != tc.approved || e.simActions(server, vbosim.ActionRestore) != restores+1 {
				t.Fatalf("approved: %+v approvedBy %s, VBO restores %d (want %d)", ap.R, show(ap.R.Action.ApprovedBy),
					e.simActions(server, vbosim.ActionRestore), restores+1)
			}
		})
	}
}

// TestRestoreActionKeyPersonDownload: a key's person is the person its download link is bound to:
// another person's key gets 404, the same person's other key fetches it (once).
func TestRestoreActionKeyPersonDownload(t *testing.T) {
	e := raStart(t, apKeys)
	org := e.tenantOrgs(t, 1)["syd1"]
	sid := e.start(t, apAnnPortal, org, "EXCHANGE")
	items := leaves(e.raBrowse(t, apAnnPortal, sid, "mailboxes", 1, "MAIL_FOLDER", "MAIL_ITEM"), 2)
	if len(items) == 0 {
		t.Fatal("no mail items")
	}
	var d struct {
		R struct {
			URL    string
			Action struct{ ID string }
		}
	}
	postAs(t, e.c, apAnnPortal, raDownload, map[string]any{"in": map[string]any{"sessionId": sid, "itemIds": []string{items[0].ID},
		"idempotencyKey": "ap-dl", "reason": "ticket 27"}}).decode(t, &d)
	if st, _ := e.fetch(t, apBob, d.R.URL); st != 404 {
		t.Fatalf("another person's key fetched the link: %d, want 404", st)
	}
	if st, body := e.fetch(t, apAnnCLI, d.R.URL); st != 200 || len(body) == 0 {
		t.Fatalf("the same person's other key: %d (%d bytes), want 200", st, len(body))
	}
	if st, _ := e.fetch(t, apAnnPortal, d.R.URL); st != 410 {
		t.Fatalf("fetched again: %d, want 410", st)
	}
}
