package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// gqlAnswer is a GraphQL response.
type gqlAnswer struct {
	Data   json.RawMessage
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
}

func (a gqlAnswer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	return a.Errors[0].Extensions.Code
}

// demoGateway runs `vbo-gateway --demo` with a small fleet, no live activity and a fast watch,
// and returns its base URL, its fleet and its log.
func demoGateway(t *testing.T) (string, *demo.Fleet, *syncBuffer, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc, fleetc := make(chan string, 1), make(chan *demo.Fleet, 1)
	done := make(chan error, 1)
	var out, logs syncBuffer
	setup := demoSetup{fleet: demo.Options{Orgs: 6, Sessions: 30, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)},
		watchInterval: 50 * time.Millisecond, started: func(f *demo.Fleet) { fleetc <- f }}
	go func() {
		done <- runDemo(ctx, []string{"--demo", "--listen", "127.0.0.1:0", "--health-interval", "0"}, &out, &logs,
			func(a string) { addrc <- a }, setup)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(25 * time.Second):
			t.Error("no shutdown")
		}
	})
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run returned early: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	return "http://" + addr, <-fleetc, &out, &logs
}

// gql runs one operation of query as the holder of key.
func gql(t *testing.T, base, key, query, operation string, vars map[string]any) gqlAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": operation, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a gqlAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s: HTTP %d, %v", operation, resp.StatusCode, err)
	}
	return a
}

// mustGQL is gql that fails on errors and decodes the data into out.
func mustGQL(t *testing.T, base, key, query, operation string, vars map[string]any, out any) {
	t.Helper()
	a := gql(t, base, key, query, operation, vars)
	if len(a.Errors) > 0 {
		t.Fatalf("%s as %s: %+v", operation, key, a.Errors)
	}
	if err := json.Unmarshal(a.Data, out); err != nil {
		t.Fatalf("%s: %v: %s", operation, err, a.Data)
	}
}

// The demo shows watch rules end to end with no setup: its tenant-admin key runs GraphiQL's
// watch-rule tab against the demo receiver, a restore on the simulator is delivered to it
// signed with the rule's secret, and the receiver logs it; another tenant's admin neither
// sees nor manages the rule.
func TestDemoWatchRuleDelivers(t *testing.T) {
	base, fleet, out, logs := demoGateway(t)
	rcv := fleet.Receiver
	if rcv == nil {
		t.Fatal("the demo has no webhook receiver")
	}
	for _, want := range []string{demo.TenantAdminKey(1), demo.TenantAdminKey(3), "TENANT_ADMIN of tenant-1", "Webhooks:  " + rcv.URL()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start-up output lacks %q:\n%s", want, out.String())
		}
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "mutation CreateWatchRule") || !strings.Contains(string(page), demo.TenantAdminKey(1)) {
		t.Error("GraphiQL has no watch-rule tab with the tenant admin's key")
	}

	// Rules fire only for sessions first seen after the backfill.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Servers []struct{ Watcher *struct{ BackfillDone bool } }
		}
		mustGQL(t, base, demo.AdminKey, `{ servers { watcher { backfillDone } } }`, "", nil, &st)
		ready := len(st.Servers) == len(demo.Names)
		for _, s := range st.Servers {
			ready = ready && s.Watcher != nil && s.Watcher.BackfillDone
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("backfill not done")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// GraphiQL's tab, as is: its variables, its headers' key, its operations.
	tab := demo.WatchRuleTab(rcv.URL())
	var vars map[string]any
	var headers map[string]string
	if err := json.Unmarshal([]byte(tab.Variables), &vars); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(tab.Headers), &headers); err != nil {
		t.Fatal(err)
	}
	key, ok := strings.CutPrefix(headers["Authorization"], "Bearer ")
	if !ok || key != demo.TenantAdminKey(1) {
		t.Fatalf("tab headers %q", tab.Headers)
	}
	type created struct {
		CreateWatchRule struct {
			Secret string
			Rule   struct{ ID, Tenant string }
		}
	}
	var t1 created
	mustGQL(t, base, key, tab.Query, "CreateWatchRule", vars, &t1)
	if t1.CreateWatchRule.Rule.Tenant != "tenant-1" || !strings.HasPrefix(t1.CreateWatchRule.Secret, "whsec_") {
		t.Fatalf("created %+v", t1)
	}
	ruleID := t1.CreateWatchRule.Rule.ID
	vars["id"] = ruleID
	var tested struct {
		TestWatchRule struct{ Status, EventType string }
	}
	mustGQL(t, base, key, tab.Query, "TestWatchRule", vars, &tested)
	if tested.TestWatchRule.Status != "SUCCEEDED" || tested.TestWatchRule.EventType != "webhook.test" {
		t.Fatalf("test delivery %+v", tested)
	}

	// The demo's policy lets rules reach its receiver's address and no other private one.
	for _, url := range []string{"http://127.0.0.2:9/hook", "http://10.0.0.1/hook", "http://192.168.1.1/hook"} {
		if a := gql(t, base, key, tab.Query, "CreateWatchRule", map[string]any{"url": url}); a.code() != "BAD_USER_INPUT" {
			t.Errorf("a rule to %s: %+v, want BAD_USER_INPUT", url, a.Errors)
		}
	}

	// Tenant 2's admin has a rule of its own, and cannot see or manage tenant 1's; nor can
	// tenant 1's admin see or manage tenant 2's.
	t2Key := demo.TenantAdminKey(2)
	var t2 created
	mustGQL(t, base, t2Key, tab.Query, "CreateWatchRule", map[string]any{"url": rcv.URL() + "/tenant-2"}, &t2)
	t2Rule := t2.CreateWatchRule.Rule.ID
	listed := func(key string) []string {
		var l struct{ WatchRules []struct{ ID string } }
		mustGQL(t, base, key, `{ watchRules { id } }`, "", nil, &l)
		var ids []string
		for _, r := range l.WatchRules {
			ids = append(ids, r.ID)
		}
		return ids
	}
	manage := map[string]string{
		"update":     `mutation($id: ID!) { updateWatchRule(id: $id, input: {name: "mine now", url: "http://127.0.0.1:1/x", on: ENDED}) { id } }`,
		"delete":     `mutation($id: ID!) { deleteWatchRule(id: $id) }`,
		"rotate":     `mutation($id: ID!) { rotateWatchRuleSecret(id: $id) { secret } }`,
		"test":       `mutation($id: ID!) { testWatchRule(id: $id) { id } }`,
		"deliveries": `query($id: ID!) { webhookDeliveries(ruleId: $id) { totalCount } }`,
	}
	for _, c := range []struct{ key, own, other string }{
		{t2Key, t2Rule, ruleID},
		{key, ruleID, t2Rule},
	} {
		ids := listed(c.key)
		if !slices.Contains(ids, c.own) || slices.Contains(ids, c.other) {
			t.Errorf("%s lists %v: want its own %s and not %s", c.key, ids, c.own, c.other)
		}
		for name, q := range manage {
			if a := gql(t, base, c.key, q, "", map[string]any{"id": c.other}); a.code() != "NOT_FOUND" {
				t.Errorf("%s: %s of another tenant's rule: %+v, want NOT_FOUND", c.key, name, a.Errors)
			}
		}
	}
	if ids := listed(demo.AdminKey); !slices.Contains(ids, ruleID) || !slices.Contains(ids, t2Rule) {
		t.Fatalf("the rules were changed by another tenant: the admin lists %v", ids)
	}

	// A live restore in one of tenant-1's organisations from an unknown machine, and one in
	// tenant-2's, on the same simulated server.
	orgOf := func(tenant string) upstreamOrg {
		for _, tn := range fleet.Config.Tenants {
			if tn.ID == tenant {
				return upstreamOrg{server: tn.Organizations[0].Server, name: tn.Organizations[0].Name}
			}
		}
		t.Fatalf("no %s", tenant)
		return upstreamOrg{}
	}
	o1, o2 := orgOf("tenant-1"), orgOf("tenant-2")
	sim := fleet.Sims[o1.server]
	mine := sim.AddSession(upstream.RestoreSession{Organization: o1.name, ClientHost: "STRANGER-PC (via: 198.51.100.20)", InitiatedBy: "CONTOSO\\mallory"})
	if _, err := sim.AddEvent(mine.ID, upstream.RestoreSessionEvent{ItemName: "CEO mailbox", Source: "ceo@contoso.example"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.StopSession(mine.ID, upstream.SessionResultSuccess); err != nil {
		t.Fatal(err)
	}
	theirs := fleet.Sims[o2.server].AddSession(upstream.RestoreSession{Organization: o2.name, ClientHost: "STRANGER-PC"})

	// Each rule gets its own tenant's session, once, signed with its secret.
	byRule := func() map[string][]demo.Delivery {
		m := map[string][]demo.Delivery{}
		for _, d := range rcv.Deliveries() {
			if d.Type == "restore.session.started" {
				m[d.RuleID] = append(m[d.RuleID], d)
			}
		}
		return m
	}
	deadline = time.Now().Add(30 * time.Second)
	for len(byRule()[ruleID]) == 0 || len(byRule()[t2Rule]) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %+v", rcv.Deliveries())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate or a leak would show by now
	got := byRule()
	for _, c := range []struct {
		rule, secret, session string
	}{
		{ruleID, t1.CreateWatchRule.Secret, mine.ID},
		{t2Rule, t2.CreateWatchRule.Secret, theirs.ID},
	} {
		ds := got[c.rule]
		if len(ds) != 1 {
			t.Errorf("rule %s: %d deliveries, want 1", c.rule, len(ds))
			continue
		}
		d := ds[0]
		wh, err := standardwebhooks.NewWebhook(c.secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(d.Body, d.Header); err != nil {
			t.Errorf("rule %s: the signature does not verify with the rule's secret: %v", c.rule, err)
		}
		if d.Signature != demo.SignatureVerified {
			t.Errorf("rule %s: the receiver says the signature is %s", c.rule, d.Signature)
		}
		var p struct{ Data struct{ UpstreamID string } }
		if err := json.Unmarshal(d.Body, &p); err != nil || p.Data.UpstreamID != c.session {
			t.Errorf("rule %s delivered session %q, want %s", c.rule, p.Data.UpstreamID, c.session)
		}
		if !strings.Contains(logs.String(), `"msg":"demo webhook receiver: delivery received","rule":"`+c.rule+`"`) ||
			!strings.Contains(logs.String(), `"session":"`+d.Session+`"`) {
			t.Errorf("no log line for the delivery of rule %s:\n%s", c.rule, logs.String())
		}
	}
	var dl struct {
		WebhookDeliveries struct {
			Edges []struct {
				Node struct{ Status, EventType string }
			}
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		mustGQL(t, base, key, tab.Query, "Deliveries", vars, &dl)
		e := dl.WebhookDeliveries.Edges
		if len(e) == 2 && e[0].Node.EventType == "restore.session.started" && e[0].Node.Status == "SUCCEEDED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries of the tenant-1 rule: %+v", dl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type upstreamOrg struct{ server, name string }
