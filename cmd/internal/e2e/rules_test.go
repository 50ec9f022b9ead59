package e2e_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Keys for the rules tests, on top of the demo's (demo-tenant-n are TENANT_AUDITORs).
const (
	t1AdminKey = "t1-admin-key-for-tests"
	t2AdminKey = "t2-admin-key-for-tests"
)

// rulesGateway is the watch gateway with tenant admin keys and a webhook policy for loopback
// receivers with short retries.
func rulesGateway(t *testing.T, sessions int) (*demo.Fleet, *app.Gateway) {
	t.Helper()
	return rulesGatewayWith(t, sessions, nil)
}

// rulesGatewayWith is rulesGateway with more configuration (tune, if any, runs after
// rulesGateway's).
func rulesGatewayWith(t *testing.T, sessions int, tune func(*config.Config)) (*demo.Fleet, *app.Gateway) {
	t.Helper()
	return watchGateway(t, sessions, func(c *config.Config) {
		c.Auth.APIKeys = append(c.Auth.APIKeys,
			config.APIKey{Name: "t1-admin", SHA256: demo.KeySHA256(t1AdminKey), Tenant: "tenant-1", Role: "TENANT_ADMIN"},
			config.APIKey{Name: "t2-admin", SHA256: demo.KeySHA256(t2AdminKey), Tenant: "tenant-2", Role: "TENANT_ADMIN"})
		c.Webhooks = config.Webhooks{AllowHTTP: true, AllowPrivateNetworks: []string{"127.0.0.0/8"},
			RetrySchedule: []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}}
		if tune != nil {
			tune(c)
		}
	})
}

type gqlResult struct {
	Data   json.RawMessage
	Errors []gqlError
}

func (r gqlResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].code()
}

// post runs a GraphQL operation as the holder of key.
func post(t *testing.T, gw *app.Gateway, key, q string, vars map[string]any) gqlResult {
	t.Helper()
	c := client.New(gw.Handler, client.Path("/graphql"))
	opts := []client.Option{client.AddHeader("Authorization", "Bearer "+key)}
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := c.RawPost(q, opts...)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	data, _ := json.Marshal(resp.Data)
	var out gqlResult
	out.Data = data
	if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
		if err := json.Unmarshal(resp.Errors, &out.Errors); err != nil {
			t.Fatalf("errors: %v", err)
		}
	}
	return out
}

func mustPost(t *testing.T, gw *app.Gateway, key, q string, vars map[string]any, out any) {
	t.Helper()
	r := post(t, gw, key, q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v\n%s", r.Errors, q)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decode: %v: %s", err, r.Data)
		}
	}
}

// waitBackfill waits until every server's backfill is done.
func waitBackfill(t *testing.T, gw *app.Gateway) {
	t.Helper()
	waitFor(t, 60*time.Second, func() bool {
		var st struct {
			Servers []struct{ Watcher *struct{ BackfillDone bool } }
		}
		mustPost(t, gw, demo.AdminKey, `{ servers { watcher { backfillDone } } }`, nil, &st)
		done := len(st.Servers) > 0
		for _, s := range st.Servers {
			done = done && s.Watcher != nil && s.Watcher.BackfillDone
		}
		return done
	}, "every server's backfill")
}

type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []struct {
		h    http.Header
		body []byte
	}
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, struct {
			h    http.Header
			body []byte
		}{req.Header.Clone(), b})
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

const createRule = `mutation($in: WatchRuleInput!) { createWatchRule(input: $in) { secret rule { id name tenant enabled } } }`

// Rules are managed through GraphQL per role; a tenant's rule is invisible to another tenant
// and fires only for its own organisations, delivered signed.
func TestWatchRulesEndToEnd(t *testing.T) {
	t.Parallel()
	fleet, gw := rulesGateway(t, 30)
	waitBackfill(t, gw)
	rcv := newHookReceiver(t)
	in := map[string]any{"name": "who restored my data from a machine we do not know", "url": rcv.URL + "/hook",
		"on": "STARTED", "clientMachineNotIn": []string{"ADMIN-PC"}}

	// A tenant auditor may not create rules; a tenant admin may, for its own tenant only.
	if r := post(t, gw, demo.TenantKeyPrefix+"1", createRule, map[string]any{"in": in}); r.code() != "FORBIDDEN" {
		t.Fatalf("auditor create: %+v", r.Errors)
	}
	other := with(in, "tenant", "tenant-2")
	if r := post(t, gw, t1AdminKey, createRule, map[string]any{"in": other}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("tenant admin creating for another tenant: %+v", r.Errors)
	}
	var created struct {
		CreateWatchRule struct {
			Secret string
			Rule   struct {
				ID, Name string
				Tenant   *string
				Enabled  bool
			}
		}
	}
	mustPost(t, gw, t1AdminKey, createRule, map[string]any{"in": in}, &created)
	rule := created.CreateWatchRule
	if !strings.HasPrefix(rule.Secret, "whsec_") || rule.Rule.Tenant == nil || *rule.Rule.Tenant != "tenant-1" || !rule.Rule.Enabled {
		t.Fatalf("created %+v", rule)
	}
	// A provider admin's rule without tenant is provider-wide; an SSRF target is refused.
	if r := post(t, gw, demo.AdminKey, createRule, map[string]any{"in": with(in, "url", "https://169.254.169.254/latest")}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("metadata URL: %+v", r.Errors)
	}
	var adminRule struct {
		CreateWatchRule struct{ Rule struct{ ID string } }
	}
	mustPost(t, gw, demo.AdminKey, createRule, map[string]any{"in": with(in, "name", "provider-wide", "url", rcv.URL+"/provider")}, &adminRule)

	const list = `{ watchRules { id name tenant } }`
	type ruleList struct{ WatchRules []struct{ ID string } }
	ids := func(key string) []string {
		var l ruleList
		mustPost(t, gw, key, list, nil, &l)
		var out []string
		for _, r := range l.WatchRules {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	both := []string{rule.Rule.ID, adminRule.CreateWatchRule.Rule.ID}
	slices.Sort(both)
	for key, want := range map[string][]string{
		demo.AdminKey:              both,
		t1AdminKey:                 {rule.Rule.ID},
		demo.TenantKeyPrefix + "1": {rule.Rule.ID}, // the tenant's auditors read its rules
		t2AdminKey:                 nil,
		demo.TenantKeyPrefix + "2": nil,
	} {
		if got := ids(key); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s sees %v, want %v", key, got, want)
		}
	}
	// Another tenant cannot touch or read it (NOT_FOUND, as for a rule that does not exist).
	for name, q := range map[string]string{
		"update":     `mutation($id: ID!, $in: WatchRuleInput!) { updateWatchRule(id: $id, input: $in) { id } }`,
		"delete":     `mutation($id: ID!) { deleteWatchRule(id: $id) }`,
		"rotate":     `mutation($id: ID!) { rotateWatchRuleSecret(id: $id) { secret } }`,
		"test":       `mutation($id: ID!) { testWatchRule(id: $id) { id } }`,
		"deliveries": `query($id: ID!) { webhookDeliveries(ruleId: $id) { totalCount } }`,
	} {
		vars := map[string]any{"id": rule.Rule.ID}
		if strings.Contains(q, "$in") {
			vars["in"] = in
		}
		if r := post(t, gw, t2AdminKey, q, vars); r.code() != "NOT_FOUND" {
			t.Errorf("t2 admin %s: %+v", name, r.Errors)
		}
		if r := post(t, gw, t2AdminKey, q, map[string]any{"id": "wr_doesnotexist", "in": in}); r.code() != "NOT_FOUND" {
			t.Errorf("%s of a missing rule: %+v", name, r.Errors)
		}
	}
	// The tenant's auditor reads but may not change it.
	if r := post(t, gw, demo.TenantKeyPrefix+"1", `mutation($id: ID!) { deleteWatchRule(id: $id) }`, map[string]any{"id": rule.Rule.ID}); r.code() != "FORBIDDEN" {
		t.Errorf("auditor delete: %+v", r.Errors)
	}

	// New sessions: one of tenant-1's organisations, one of tenant-2's, on the same server.
	var t1Org, t2Org string
	for _, tn := range fleet.Config.Tenants {
		switch tn.ID {
		case "tenant-1":
			t1Org = tn.Organizations[0].Name
		case "tenant-2":
			t2Org = tn.Organizations[0].Name
		}
	}
	server := fleet.Config.Tenants[0].Organizations[0].Server
	sim := fleet.Sims[server]
	mine := sim.AddSession(upstream.RestoreSession{Organization: t1Org, ClientHost: "STRANGER-PC (via: 198.51.100.20)", InitiatedBy: "CONTOSO\\mallory"})
	sim.AddSession(upstream.RestoreSession{Organization: t2Org, ClientHost: "STRANGER-PC"})
	// t1's rule once; the provider-wide rule twice.
	waitFor(t, 30*time.Second, func() bool { return rcv.count() >= 3 },
		"3 requests at the receiver, got ", lazy(func() string { return fmt.Sprint(rcv.count()) }))
	time.Sleep(200 * time.Millisecond)
	rcv.mu.Lock()
	got := slices.Clone(rcv.got)
	rcv.mu.Unlock()
	wh, _ := standardwebhooks.NewWebhook(rule.Secret)
	var tenantHits int
	for _, g := range got {
		var p struct {
			Rule struct{ ID string }
			Data struct {
				UpstreamID   string
				Organization struct{ Name string }
			}
		}
		_ = json.Unmarshal(g.body, &p)
		if p.Rule.ID != rule.Rule.ID {
			continue
		}
		tenantHits++
		if err := wh.Verify(g.body, g.h); err != nil {
			t.Errorf("signature: %v", err)
		}
		if p.Data.UpstreamID != mine.ID || p.Data.Organization.Name != t1Org {
			t.Errorf("tenant rule delivered %+v", p.Data)
		}
	}
	if tenantHits != 1 || len(got) != 3 {
		t.Fatalf("tenant rule hits %d (want 1), all %d (want 3)", tenantHits, len(got))
	}
	var dl struct {
		WebhookDeliveries struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Status    string
					SessionID string
					Attempts  []struct{ StatusCode int }
				}
			}
		}
	}
	waitFor(t, 10*time.Second, func() bool {
		mustPost(t, gw, demo.TenantKeyPrefix+"1", `query($id: ID!) { webhookDeliveries(ruleId: $id, first: 10) { totalCount edges { node { status sessionId attempts { statusCode } } } } }`,
			map[string]any{"id": rule.Rule.ID}, &dl)
		return dl.WebhookDeliveries.TotalCount == 1 && dl.WebhookDeliveries.Edges[0].Node.Status == "SUCCEEDED"
	}, "one SUCCEEDED delivery, have ", lazy(func() string { return fmt.Sprintf("%+v", dl) }))
	if a := dl.WebhookDeliveries.Edges[0].Node.Attempts; len(a) != 1 || a[0].StatusCode != 200 {
		t.Fatalf("attempts %+v", a)
	}
	var tested struct {
		TestWatchRule struct{ Status, EventType string }
	}
	mustPost(t, gw, t1AdminKey, `mutation($id: ID!) { testWatchRule(id: $id) { status eventType } }`, map[string]any{"id": rule.Rule.ID}, &tested)
	if tested.TestWatchRule.Status != "SUCCEEDED" || tested.TestWatchRule.EventType != "webhook.test" {
		t.Fatalf("test delivery %+v", tested)
	}
	// Delivery pages carry sealed cursors.
	const page = `query($id: ID!, $after: String) { webhookDeliveries(ruleId: $id, first: 1, after: $after) {
		totalCount edges { node { eventType } } pageInfo { hasNextPage endCursor } } }`
	type pageT struct {
		WebhookDeliveries struct {
			TotalCount int
			Edges      []struct{ Node struct{ EventType string } }
			PageInfo   struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	var p1, p2 pageT
	mustPost(t, gw, t1AdminKey, page, map[string]any{"id": rule.Rule.ID}, &p1)
	mustPost(t, gw, t1AdminKey, page, map[string]any{"id": rule.Rule.ID, "after": p1.WebhookDeliveries.PageInfo.EndCursor}, &p2)
	if p1.WebhookDeliveries.TotalCount != 2 || !p1.WebhookDeliveries.PageInfo.HasNextPage || p2.WebhookDeliveries.PageInfo.HasNextPage ||
		p1.WebhookDeliveries.Edges[0].Node.EventType != "webhook.test" || p2.WebhookDeliveries.Edges[0].Node.EventType != "restore.session.started" {
		t.Fatalf("pages %+v then %+v", p1, p2)
	}
	if strings.Contains(p1.WebhookDeliveries.PageInfo.EndCursor, "wd_") {
		t.Fatal("the cursor is readable")
	}
	if r := post(t, gw, t1AdminKey, page, map[string]any{"id": rule.Rule.ID, "after": "k1:wd:1:wd_x"}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("forged cursor: %+v", r.Errors)
	}
	var deleted struct{ DeleteWatchRule bool }
	mustPost(t, gw, t1AdminKey, `mutation($id: ID!) { deleteWatchRule(id: $id) }`, map[string]any{"id": rule.Rule.ID}, &deleted)
	if !deleted.DeleteWatchRule || len(ids(t1AdminKey)) != 0 {
		t.Fatal("delete")
	}
}

// with copies m with key/value pairs replaced.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// Without the store (the watch off) the rule and report fields say so.
func TestWatchRulesNeedTheStore(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	_, errs := h.query(`{ watchRules { id } }`, nil)
	if len(errs) != 1 || errs[0].code() != "NOT_CONFIGURED" {
		t.Fatalf("errors %+v", errs)
	}
}

// auditTruth is the report computed from the simulators' own data.
type auditTruth struct{ sessions, items, bytes, failed int }

// TestRestoreAuditMatchesSimulator: the report's totals, grouped by each dimension, equal the
// totals computed from the simulators' data, for an admin and for a tenant; the CSV export
// holds the same rows; the per-session CSV one row per session.
func TestRestoreAuditMatchesSimulator(t *testing.T) {
	// Serial: coverage must be complete once the totals agree, which a watcher slowed by parallel tests misses (seen under -race).
	fleet, gw := rulesGateway(t, 60)
	waitBackfill(t, gw)
	// Ground truth from the simulators.
	type simRow struct {
		server, orgID, orgName string
		s                      upstream.RestoreSession
		items, bytes           int
	}
	var all []simRow
	for _, name := range demo.Names {
		sim := fleet.Sims[name]
		orgs := map[string]string{}
		for _, o := range sim.Organizations() {
			orgs[strings.ToLower(o.Name)] = o.ID
		}
		for _, s := range sim.Sessions() {
			r := simRow{server: name, orgID: orgs[strings.ToLower(s.Organization)], orgName: s.Organization, s: s}
			for _, e := range sim.Events(s.ID) {
				if e.Type == upstream.EventTypeNone {
					continue
				}
				r.items++
				if e.ItemSizeBytes != nil {
					r.bytes += int(*e.ItemSizeBytes)
				}
			}
			all = append(all, r)
		}
	}
	tenantOrgs := map[string]bool{} // server|orgID of tenant-1
	for _, tn := range fleet.Config.Tenants {
		if tn.ID != "tenant-1" {
			continue
		}
		for _, o := range tn.Organizations {
			for _, so := range fleet.Sims[o.Server].Organizations() {
				if strings.EqualFold(so.Name, o.Name) {
					tenantOrgs[o.Server+"|"+strings.ToLower(so.ID)] = true
				}
			}
		}
	}
	keyOf := func(r simRow, dim string) string {
		ch := upstream.ParseClientHost(r.s.ClientHost)
		switch dim {
		case "INITIATED_BY":
			return r.s.InitiatedBy
		case "CLIENT_MACHINE":
			return ch.MachineName
		case "VIA_ADDRESS":
			return ch.ViaAddress
		case "ORGANIZATION":
			if r.orgID == "" {
				return gid.ID{Kind: gid.KindDetachedOrganization, Server: r.server, Upstream: r.orgName}.String()
			}
			return gid.ID{Kind: gid.KindOrganization, Server: r.server, Upstream: r.orgID}.String()
		case "TYPE":
			return wantSessionType[r.s.Type]
		case "RESULT":
			return wantSessionResult[r.s.Result]
		case "DAY":
			return r.s.CreationTime.UTC().Format("2006-01-02")
		}
		return ""
	}
	// Inside the backfill window (100 days), so coverage is complete.
	from := time.Now().UTC().AddDate(0, 0, -99)
	to := time.Now().UTC().Add(time.Hour)
	const q = `query($from: DateTime!, $to: DateTime!, $g: [RestoreAuditDimension!]!) {
		restoreAudit(from: $from, to: $to, groupBy: $g) {
			rows { initiatedBy clientMachine viaAddress organization { id name } type result day sessions items bytes failedSessions first last }
			coverage { server { name } from to complete } } }`
	type auditRow struct {
		InitiatedBy, ClientMachine, ViaAddress *string
		Organization                           *struct{ ID, Name string }
		Type, Result, Day                      *string
		Sessions, Items, Bytes, FailedSessions int
		First, Last                            string
	}
	type audit struct {
		RestoreAudit struct {
			Rows     []auditRow
			Coverage []struct {
				Server   struct{ Name string }
				Complete bool
			}
		}
	}
	rowKey := func(r auditRow, dim string) string {
		p := map[string]*string{"INITIATED_BY": r.InitiatedBy, "CLIENT_MACHINE": r.ClientMachine, "VIA_ADDRESS": r.ViaAddress,
			"TYPE": r.Type, "RESULT": r.Result, "DAY": r.Day}[dim]
		if dim == "ORGANIZATION" {
			return r.Organization.ID
		}
		return *p
	}
	dims := []string{"INITIATED_BY", "CLIENT_MACHINE", "VIA_ADDRESS", "ORGANIZATION", "TYPE", "RESULT", "DAY"}
	for _, who := range []struct {
		key    string
		tenant bool
	}{{demo.AdminKey, false}, {demo.TenantKeyPrefix + "1", true}} {
		truth := func(dim string) map[string]auditTruth {
			out := map[string]auditTruth{}
			for _, r := range all {
				if who.tenant && !tenantOrgs[r.server+"|"+strings.ToLower(r.orgID)] ||
					r.s.CreationTime.Before(from) || !r.s.CreationTime.Before(to) {
					continue
				}
				k := keyOf(r, dim)
				x := out[k]
				x.sessions++
				x.items += r.items
				x.bytes += r.bytes
				if r.s.Result == upstream.SessionResultFailed {
					x.failed++
				}
				out[k] = x
			}
			return out
		}
		// The archive completes events of backfilled sessions as it goes: wait until the totals agree.
		start := time.Now()
		for _, dim := range dims {
			want := truth(dim)
			var a audit
			var got map[string]auditTruth
			// One 60 s budget for every dimension.
			waitFor(t, 60*time.Second-time.Since(start), func() bool {
				a = audit{}
				mustPost(t, gw, who.key, q, map[string]any{"from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "g": []string{dim}}, &a)
				got = map[string]auditTruth{}
				for _, r := range a.RestoreAudit.Rows {
					got[rowKey(r, dim)] = auditTruth{r.Sessions, r.Items, r.Bytes, r.FailedSessions}
				}
				return fmt.Sprint(got) == fmt.Sprint(want)
			}, lazy(func() string { return fmt.Sprintf("%s by %s:\n got %v\nwant %v", who.key, dim, got, want) }))
			if len(want) < 2 && dim != "TYPE" && dim != "RESULT" {
				t.Logf("%s by %s: only %d groups", who.key, dim, len(want))
			}
			for _, c := range a.RestoreAudit.Coverage {
				if !c.Complete {
					t.Errorf("coverage of %s incomplete after the backfill", c.Server.Name)
				}
			}
			if who.tenant && len(a.RestoreAudit.Coverage) == 3 {
				t.Errorf("tenant coverage lists every server")
			}
			// The CSV export holds the same rows.
			csvRows := exportCSV(t, gw, who.key, "/export/restore-audit.csv", url.Values{
				"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "groupBy": {dim}})
			if len(csvRows) != len(a.RestoreAudit.Rows)+1 || csvRows[0][0] != "initiatedBy" {
				t.Fatalf("CSV has %d records for %d rows", len(csvRows), len(a.RestoreAudit.Rows))
			}
			for i, r := range a.RestoreAudit.Rows {
				rec := csvRows[i+1]
				want := []string{str(r.InitiatedBy), str(r.ClientMachine), str(r.ViaAddress), "", "", str(r.Type), str(r.Result), str(r.Day), "",
					fmt.Sprint(r.Sessions), fmt.Sprint(r.Items), fmt.Sprint(r.Bytes), fmt.Sprint(r.FailedSessions), r.First, r.Last}
				if r.Organization != nil {
					want[3], want[4] = r.Organization.ID, r.Organization.Name
				}
				for j := range want {
					if w := csvEscaped(want[j]); rec[j] != w {
						t.Fatalf("CSV row %d col %d = %q, GraphQL %q", i, j, rec[j], w)
					}
				}
			}
		}
		// One row per session in the detail export.
		var total int
		for _, x := range truth("TYPE") {
			total += x.sessions
		}
		detail := exportCSV(t, gw, who.key, "/export/restore-audit-sessions.csv", url.Values{
			"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}})
		if len(detail) != total+1 || detail[0][0] != "sessionId" {
			t.Fatalf("%s: detail CSV has %d records, want %d + header", who.key, len(detail), total)
		}
	}
	// Bad input is refused, not answered with a partial file.
	for _, v := range []url.Values{
		{"to": {to.Format(time.RFC3339)}},
		{"from": {to.Format(time.RFC3339)}, "to": {from.Format(time.RFC3339)}},
		{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "groupBy": {"COLOUR"}},
		{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "colour": {"red"}},
	} {
		if code := exportStatus(gw, demo.AdminKey, "/export/restore-audit.csv", v); code != http.StatusBadRequest {
			t.Errorf("%v: status %d", v, code)
		}
	}
	if code := exportStatus(gw, "", "/export/restore-audit.csv", url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}); code != http.StatusUnauthorized {
		t.Errorf("anonymous export: status %d", code)
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func csvEscaped(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func exportRequest(key, path string, v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path+"?"+v.Encode(), nil)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	return r
}

func exportStatus(gw *app.Gateway, key, path string, v url.Values) int {
	w := httptest.NewRecorder()
	gw.Handler.ServeHTTP(w, exportRequest(key, path, v))
	return w.Code
}

func exportCSV(t *testing.T, gw *app.Gateway, key, path string, v url.Values) [][]string {
	t.Helper()
	w := httptest.NewRecorder()
	gw.Handler.ServeHTTP(w, exportRequest(key, path, v))
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("export %s: %d %s", path, w.Code, w.Body.String())
	}
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatalf("export %s: %v", path, err)
	}
	return recs
}

// A reload that takes an organisation away from a tenant stops the tenant's rules for it at
// once: sessions of that organisation no longer match, others still do.
func TestReloadNarrowsWatchRules(t *testing.T) {
	t.Parallel()
	fleet, gw := rulesGateway(t, 10)
	waitBackfill(t, gw)
	rcv := newHookReceiver(t)
	var created struct {
		CreateWatchRule struct{ Rule struct{ ID string } }
	}
	mustPost(t, gw, t1AdminKey, createRule, map[string]any{"in": map[string]any{"name": "all", "url": rcv.URL, "on": "STARTED"}}, &created)
	// tenant-1 owns organisations 0 and 1 on the first server (and one elsewhere).
	t1 := fleet.Config.Tenants[0]
	server := t1.Organizations[0].Server
	kept, dropped := t1.Organizations[1].Name, t1.Organizations[0].Name
	cfg := *fleet.Config
	cfg.Tenants = slices.Clone(cfg.Tenants)
	cfg.Tenants[0].Organizations = slices.Clone(t1.Organizations[1:])
	if err := gw.Reload(func() (*config.Config, error) { return &cfg, nil }); err != nil {
		t.Fatal(err)
	}
	sim := fleet.Sims[server]
	droppedSession := sim.AddSession(upstream.RestoreSession{Organization: dropped, ClientHost: "PC1"})
	keptSession := sim.AddSession(upstream.RestoreSession{Organization: kept, ClientHost: "PC2"})
	var err error
	// Both archived (their hooks have run), the kept one delivered.
	waitFor(t, 30*time.Second, func() bool {
		_, err = gw.Store.Session(t.Context(), server, droppedSession.ID)
		return rcv.count() >= 1 && err == nil
	}, "a delivery and the dropped session archived: ", lazy(func() string {
		return fmt.Sprintf("deliveries %d, dropped session archived: %v", rcv.count(), err)
	}))
	time.Sleep(300 * time.Millisecond) // a delivery of the dropped one would have come by now
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 1 || !strings.Contains(string(rcv.got[0].body), keptSession.ID) {
		t.Fatalf("%d deliveries; the first: %s", len(rcv.got), rcv.got[0].body)
	}
}
