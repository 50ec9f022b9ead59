package e2e_test

// The isolation suite over the streaming transports: isoDialWS is the websocket transport of
// isolation_test.go's shared checks (every query shape there runs over HTTP and as a
// graphql-transport-ws subscribe operation), and TestIsoWatchIsolation runs the shapes that
// need the watch (rule mutations, restoreAudit, another tenant's cursor) over HTTP and
// websocket, and subscriptions over SSE and websocket, from one table.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// listen serves the gateway on loopback (once) and returns its URL.
func (e *isoEnv) listen() string {
	e.listenOnce.Do(func() {
		srv := httptest.NewServer(e.gw.Handler)
		e.t.Cleanup(srv.Close)
		e.url = srv.URL
	})
	return e.url
}

// isoWS is one caller's graphql-transport-ws socket: RawPost sends each operation as a
// subscribe message and waits for its answer, one operation at a time, so one socket serves a
// tenant's every case.
type isoWS struct {
	ctx context.Context
	c   *websocket.Conn
	mu  sync.Mutex
	n   int
}

// isoDialWS connects key's socket (credentials in connection_init's payload) to the gateway.
func isoDialWS(t *testing.T, e *isoEnv, key string) isoCaller {
	t.Helper()
	return isoDialWSURL(t, e.listen(), key)
}

func isoDialWSURL(t *testing.T, url, key string) *isoWS {
	t.Helper()
	ctx := t.Context()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	w := &isoWS{ctx: ctx, c: c}
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": bearerInit(key)}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := w.read(ctx)
		if err != nil {
			t.Fatalf("connection_init: %v", err)
		}
		if m.Type == "connection_ack" {
			return w
		}
	}
}

// read returns the next message that is not a ping (answering pings).
func (w *isoWS) read(ctx context.Context) (wsMessage, error) {
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, w.c, &m); err != nil {
			return m, err
		}
		if m.Type != "ping" {
			return m, nil
		}
		if err := wsjson.Write(ctx, w.c, map[string]any{"type": "pong"}); err != nil {
			return m, err
		}
	}
}

// RawPost runs one operation as a subscribe message: its next payload is the answer, an error
// message's payload its errors; it fails if the socket closes or nothing ends it within 30 s.
func (w *isoWS) RawPost(query string, options ...client.Option) (*client.Response, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	req := client.Request{Query: query}
	for _, o := range options {
		o(&req)
	}
	w.n++
	id := strconv.Itoa(w.n)
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	payload := map[string]any{"query": req.Query, "variables": req.Variables}
	if req.OperationName != "" {
		payload["operationName"] = req.OperationName
	}
	if err := wsjson.Write(ctx, w.c, map[string]any{"id": id, "type": "subscribe", "payload": payload}); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", id, err)
	}
	var resp client.Response
	answered := false
	for {
		m, err := w.read(ctx)
		if err != nil {
			return nil, fmt.Errorf("operation %s: %w", id, err)
		}
		if m.ID != id {
			return nil, fmt.Errorf("operation %s: a %s message for operation %q", id, m.Type, m.ID)
		}
		switch m.Type {
		case "next":
			if answered {
				return nil, fmt.Errorf("operation %s: a query answered twice", id)
			}
			answered = true
			if err := json.Unmarshal(m.Payload, &resp); err != nil {
				return nil, fmt.Errorf("operation %s: %w", id, err)
			}
		case "error":
			resp.Errors = m.Payload
			return &resp, nil
		case "complete":
			if !answered {
				return nil, errors.New("operation " + id + " completed without an answer")
			}
			return &resp, nil
		default:
			return nil, fmt.Errorf("operation %s: unexpected %s message", id, m.Type)
		}
	}
}

// isoWatchCase is one query shape of the watch's surface, run as one caller over every
// transport; foreign and missing are the values of the variable "id" (another tenant's, and
// one nobody has) when the shape must answer an out-of-scope value exactly like a missing one.
type isoWatchCase struct {
	name, key, query string
	vars             map[string]any
	foreign, missing any
	code             string // the error code the foreign value must get ("" for none)
}

// TestIsoWatchIsolation: tenant-1's callers (an admin and an auditor) name tenant-2's rule,
// organisation, session and cursor in every shape of the watch's surface (rule queries and
// mutations, deliveries, restoreAudit, restoreSessions after another tenant's cursor) over HTTP
// and over a websocket (one socket per caller, reused by every case), and subscribe over SSE
// and websocket: nothing of tenant-2 comes back, an out-of-scope value answers exactly like a
// missing one, and both transports give the same answer. Tenant-2's rule is untouched after.
func TestIsoWatchIsolation(t *testing.T) {
	t.Parallel()
	fleet, gw := rulesGateway(t, 30)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	waitBackfill(t, gw)
	rcv := newHookReceiver(t)
	t1Auditor, t2Auditor := demo.TenantKeyPrefix+"1", demo.TenantKeyPrefix+"2"

	// Tenant-2's rule, organisation, session and a cursor of its session list.
	ruleIn := map[string]any{"name": "tenant-2's rule", "url": rcv.URL + "/hook", "on": "STARTED"}
	var created struct {
		CreateWatchRule struct{ Rule struct{ ID string } }
	}
	mustPost(t, gw, t2AdminKey, createRule, map[string]any{"in": ruleIn}, &created)
	foreignRule := created.CreateWatchRule.Rule.ID
	var orgs struct {
		Organizations isoConn[struct {
			ID, Name string
			Server   struct{ Name string }
		}]
	}
	mustPost(t, gw, demo.AdminKey, `{ organizations(first: 100) { edges { node { id name server { name } } } } }`, nil, &orgs)
	owner := map[string]string{} // org id -> tenant
	var t1Org, t2Org, t2Server string
	for _, o := range orgs.Organizations.nodes() {
		for _, ct := range fleet.Config.Tenants {
			for _, co := range ct.Organizations {
				if co.Server == o.Server.Name && strings.EqualFold(co.Name, o.Name) {
					owner[o.ID] = ct.ID
				}
			}
		}
		switch {
		case owner[o.ID] == "tenant-1" && t1Org == "":
			t1Org = o.ID
		case owner[o.ID] == "tenant-2" && t2Org == "":
			t2Org, t2Server = o.ID, o.Server.Name
		}
	}
	var t2Sessions struct {
		RestoreSessions isoConn[isoIDNode]
	}
	mustPost(t, gw, t2Auditor, `{ restoreSessions(first: 2) { pageInfo { hasNextPage endCursor } edges { node { id } } } }`, nil, &t2Sessions)
	if t1Org == "" || t2Org == "" || len(t2Sessions.RestoreSessions.Edges) == 0 || t2Sessions.RestoreSessions.PageInfo.EndCursor == nil {
		t.Fatalf("fixture: tenant-1 org %q, tenant-2 org %q, tenant-2 sessions %+v", t1Org, t2Org, t2Sessions.RestoreSessions)
	}
	foreignSession := t2Sessions.RestoreSessions.Edges[0].Node.ID
	foreignCursor := *t2Sessions.RestoreSessions.PageInfo.EndCursor
	// What must never appear in tenant-1's answers' data: tenant-2's rule, session and tenant
	// name, and every organisation tenant-1 does not own.
	markers := []string{foreignRule, foreignSession, "tenant-2"}
	for id, tn := range owner {
		if tn != "tenant-1" {
			markers = append(markers, id)
		}
	}
	missingOrg := gid.ID{Kind: gid.KindOrganization, Server: t2Server, Upstream: isoRandomUUID()}.String()
	missingSession := gid.ID{Kind: gid.KindRestoreSession, Server: t2Server, Upstream: isoRandomUUID()}.String()

	from, to := time.Now().UTC().Add(-200*24*time.Hour).Format(time.RFC3339), time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	const audit = `query($from: DateTime!, $to: DateTime!, $f: RestoreSessionFilter, $g: [RestoreAuditDimension!]!) {
	  restoreAudit(from: $from, to: $to, filter: $f, groupBy: $g) {
	    rows { initiatedBy organization { id name } sessions first last } coverage { server { name } complete } } }`
	auditOrg := strings.NewReplacer("$f: RestoreSessionFilter", "$id: ID!", "filter: $f", "filter: {organizationIds: [$id]}").Replace(audit)
	cases := []isoWatchCase{
		{name: "watchRules", key: t1AdminKey, query: `{ watchRules { id name tenant } }`},
		{name: "watchRules as auditor", key: t1Auditor, query: `{ watchRules { id name tenant } }`},
		{name: "updateWatchRule", key: t1AdminKey, query: `mutation($id: ID!, $in: WatchRuleInput!) { updateWatchRule(id: $id, input: $in) { id name } }`,
			vars: map[string]any{"in": with(ruleIn, "name", "taken over")}, foreign: foreignRule, missing: "wr_doesnotexist", code: "NOT_FOUND"},
		{name: "rotateWatchRuleSecret", key: t1AdminKey, query: `mutation($id: ID!) { rotateWatchRuleSecret(id: $id) { secret rule { id } } }`,
			foreign: foreignRule, missing: "wr_doesnotexist", code: "NOT_FOUND"},
		{name: "testWatchRule", key: t1AdminKey, query: `mutation($id: ID!) { testWatchRule(id: $id) { id } }`,
			foreign: foreignRule, missing: "wr_doesnotexist", code: "NOT_FOUND"},
		{name: "deleteWatchRule", key: t1AdminKey, query: `mutation($id: ID!) { deleteWatchRule(id: $id) }`,
			foreign: foreignRule, missing: "wr_doesnotexist", code: "NOT_FOUND"},
		{name: "webhookDeliveries", key: t1AdminKey, query: `query($id: ID!) { webhookDeliveries(ruleId: $id) { totalCount edges { node { id } } } }`,
			foreign: foreignRule, missing: "wr_doesnotexist", code: "NOT_FOUND"},
		{name: "webhookDeliveries as auditor", key: t1Auditor, query: `query($id: ID!) { webhookDeliveries(ruleId: $id) { totalCount } }`,
			foreign: foreignRule, missing: "wr_doesnotexist", code: "NOT_FOUND"},
		{name: "restoreAudit by organisation", key: t1Auditor, query: audit,
			vars: map[string]any{"from": from, "to": to, "g": []string{"ORGANIZATION", "INITIATED_BY"}}},
		{name: "restoreAudit filtered on a foreign organisation", key: t1Auditor, query: auditOrg,
			vars: map[string]any{"from": from, "to": to, "g": []string{"ORGANIZATION"}}, foreign: t2Org, missing: missingOrg},
		{name: "restoreAudit filtered on own and foreign organisations", key: t1Auditor, query: audit,
			vars: map[string]any{"from": from, "to": to, "g": []string{"ORGANIZATION"}, "f": map[string]any{"organizationIds": []string{t1Org, t2Org}}}},
		{name: "restoreSessions after another tenant's cursor", key: t1Auditor,
			query:   `query($id: String) { restoreSessions(first: 5, after: $id) { totalCount edges { node { id organization { id } } } } }`,
			foreign: foreignCursor}, // a sealed position: tenant-1's own sessions after it, nothing else
		{name: "restoreSession of another tenant", key: t1Auditor,
			query:   `query($id: ID!) { restoreSession(id: $id) { id name events(first: 3) { edges { node { id itemName } } } } }`,
			foreign: foreignSession, missing: missingSession, code: "NOT_FOUND"},
	}

	transports := []struct {
		name string
		dial func(t *testing.T, key string) isoCaller
	}{
		{"http", func(_ *testing.T, key string) isoCaller {
			return client.New(gw.Handler, client.Path("/graphql"), client.AddHeader("Authorization", "Bearer "+key))
		}},
		{"websocket", func(t *testing.T, key string) isoCaller { return isoDialWSURL(t, srv.URL, key) }},
	}
	var mu sync.Mutex
	answers := map[string]map[string]string{} // case -> transport -> answer
	answer := func(t *testing.T, c isoCaller, q string, vars map[string]any, id any) (string, []isoErr, json.RawMessage) {
		t.Helper()
		if id != nil {
			vars = with(vars, "id", id)
		}
		data, errs := isoRun(t, c, q, vars)
		raw, _ := json.Marshal(data)
		b, _ := json.Marshal(map[string]any{"data": data, "errors": errs})
		out := string(b)
		if s, ok := id.(string); ok {
			out = strings.ReplaceAll(out, s, "<id>")
		}
		return out, errs, raw
	}
	t.Run("transports", func(t *testing.T) {
		for _, tr := range transports {
			t.Run(tr.name, func(t *testing.T) {
				t.Parallel()
				callers := map[string]isoCaller{}
				for _, c := range cases {
					if callers[c.key] == nil {
						callers[c.key] = tr.dial(t, c.key) // one per caller, reused by its cases
					}
					c1 := callers[c.key]
					got, errs, data := answer(t, c1, c.query, c.vars, c.foreign)
					for _, m := range markers {
						if strings.Contains(string(data), m) {
							t.Errorf("LEAK (%s over %s): tenant-2's %s in %s", c.name, tr.name, m, data)
						}
					}
					if c.code != "" && (len(errs) != 1 || errs[0].code() != c.code) {
						t.Errorf("%s over %s: errors %+v, want one %s", c.name, tr.name, errs, c.code)
					}
					if c.missing != nil {
						if want, _, _ := answer(t, c1, c.query, c.vars, c.missing); got != want {
							t.Errorf("LEAK (%s over %s): another tenant's value answers %s, a missing one %s", c.name, tr.name, got, want)
						}
					}
					mu.Lock()
					if answers[c.name] == nil {
						answers[c.name] = map[string]string{}
					}
					answers[c.name][tr.name] = got
					mu.Unlock()
				}
			})
		}
		for _, tr := range []string{"sse", "websocket"} {
			t.Run("subscriptions/"+tr, func(t *testing.T) {
				t.Parallel()
				isoWatchSubscriptions(t, gw, srv.URL, tr, t1Auditor, t1Org, t2Org, foreignSession, missingSession, markers)
			})
		}
	})
	for _, c := range cases {
		if h, w := answers[c.name]["http"], answers[c.name]["websocket"]; h != w {
			t.Errorf("%s: HTTP answers %s, the websocket %s", c.name, h, w)
		}
	}
	// Tenant-2's rule survived tenant-1's mutations: same name, no delivery.
	var rules struct {
		WatchRules []struct{ ID, Name string }
	}
	mustPost(t, gw, t2AdminKey, `{ watchRules { id name } }`, nil, &rules)
	if len(rules.WatchRules) != 1 || rules.WatchRules[0].ID != foreignRule || rules.WatchRules[0].Name != ruleIn["name"] {
		t.Errorf("tenant-2's rules after tenant-1's mutations: %+v", rules.WatchRules)
	}
	if n := rcv.count(); n != 0 {
		t.Errorf("tenant-2's receiver got %d deliveries from tenant-1's testWatchRule", n)
	}
}

// isoWatchSubscriptions subscribes as key over one transport (sse or websocket): a replay
// filtered on its own and another tenant's organisation delivers exactly its own archived
// sessions, and restoreEventAdded of another tenant's session ends with the error a missing
// session gets.
func isoWatchSubscriptions(t *testing.T, gw *app.Gateway, url, transport, key, ownOrg, foreignOrg, foreignSession, missingSession string, markers []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	subscribe := func(q string, vars map[string]any) *subscriber {
		if transport == "sse" {
			return sseSubscribe(t, ctx, url, key, q, vars)
		}
		s, _ := wsSubscribe(t, ctx, url, bearerInit(key), q, vars)
		return s
	}
	// How many sessions of its organisation the archive holds (restoreAudit reads the archive).
	var audit struct {
		RestoreAudit struct{ Rows []struct{ Sessions int } }
	}
	mustPost(t, gw, key, `query($o: ID!, $from: DateTime!, $to: DateTime!) { restoreAudit(from: $from, to: $to,
	  filter: {organizationIds: [$o]}, groupBy: []) { rows { sessions } } }`,
		map[string]any{"o": ownOrg, "from": time.Now().UTC().AddDate(-4, 0, 0).Format(time.RFC3339),
			"to": time.Now().UTC().Add(time.Hour).Format(time.RFC3339)}, &audit)
	if len(audit.RestoreAudit.Rows) != 1 || audit.RestoreAudit.Rows[0].Sessions == 0 {
		t.Fatalf("restoreAudit of its own organisation: %+v", audit.RestoreAudit.Rows)
	}
	want := audit.RestoreAudit.Rows[0].Sessions

	started := subscribe(`subscription($since: DateTime, $filter: RestoreSessionFilter) {
	  restoreSessionStarted(since: $since, filter: $filter) { id organization { id } } }`,
		map[string]any{"since": "2000-01-01T00:00:00Z", "filter": map[string]any{"organizationIds": []string{ownOrg, foreignOrg}}})
	waitFor(t, 20*time.Second, func() bool { return len(started.snapshot()) >= want },
		transport+" replay of its ", want, " archived sessions, got ", lazy(func() string { return fmt.Sprint(len(started.snapshot())) }))
	time.Sleep(100 * time.Millisecond) // anything beyond its own would come right after
	events := started.snapshot()
	t.Logf("%s: restoreSessionStarted replayed %d sessions of its own (archive: %d)", transport, len(events), want)
	if len(events) != want {
		t.Errorf("%s: restoreSessionStarted replayed %d sessions, want its own %d", transport, len(events), want)
	}
	for _, e := range events {
		var d struct {
			RestoreSessionStarted struct {
				ID           string
				Organization struct{ ID string }
			}
		}
		if len(e.Errors) > 0 || json.Unmarshal(e.Data, &d) != nil || d.RestoreSessionStarted.Organization.ID != ownOrg {
			t.Errorf("LEAK (%s): restoreSessionStarted delivered %s %+v, not a session of %s", transport, e.Data, e.Errors, ownOrg)
		}
		for _, m := range markers {
			if strings.Contains(string(e.Data), m) {
				t.Errorf("LEAK (%s): tenant-2's %s in %s", transport, m, e.Data)
			}
		}
	}

	// Another tenant's session: the same error as a missing one, then the end of the stream.
	shape := func(id string) string {
		s := subscribe(`subscription($id: ID!) { restoreEventAdded(sessionId: $id) { id itemName } }`, map[string]any{"id": id})
		select {
		case <-s.done:
		case <-ctx.Done():
			t.Fatalf("%s: restoreEventAdded(%s) neither refused nor ended", transport, id)
		}
		got := s.snapshot()
		if len(got) != 1 || len(got[0].Errors) != 1 || got[0].Errors[0].code() != "NOT_FOUND" || string(got[0].Data) != "" && string(got[0].Data) != "null" {
			t.Errorf("%s: restoreEventAdded(%s) = %+v, want one NOT_FOUND", transport, id, got)
		}
		b, _ := json.Marshal(got)
		return strings.ReplaceAll(string(b), id, "<id>")
	}
	if f, m := shape(foreignSession), shape(missingSession); f != m {
		t.Errorf("LEAK (%s): restoreEventAdded of another tenant's session gives %s, of a missing one %s", transport, f, m)
	}
}
