package e2e_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The watcher joins the restore action log to the sessions it archives: a session added
// outside the gateway fires a startedOutsideGateway rule exactly once; a session started
// through the gateway, which the watcher sees while its START still awaits VBO's answer (the
// race), never fires it, and fires the "through the gateway" rule once the START is answered,
// its payload carrying the person; restoreAudit groupBy PERSON groups it under its person
// (the other under null); the sessions CSV carries person and reason.
func TestRestoreAuditJoin(t *testing.T) {
	t.Parallel()
	fleet, gw := rulesGateway(t, 10)
	waitBackfill(t, gw)
	out, through := rulePair(t, gw, map[string]any{"name": "bypassed the portal", "on": "STARTED"}, "startedOutsideGateway", "through the portal")
	storeTick(t, gw.Store) // sessions first seen after the rules

	org, sim, orgID := tenant1Org(fleet)
	log := mustActionLog(t, gw)
	ctx := context.Background()
	// The front door records the START before calling VBO...
	start, err := log.Begin(ctx, actionlog.Entry{Kind: actionlog.KindStart, Reason: "ticket 42", Server: org.Server, OrganizationID: orgID,
		SessionType: "EXCHANGE", Actor: actionlog.Actor{Person: "alice@tenant-1", DisplayName: "Alice", Role: "RESTORE_OPERATOR", Tenant: "tenant-1"}})
	if err != nil {
		t.Fatal(err)
	}
	// ...VBO opens the session, and the watcher lists it before the front door recorded the answer.
	mine := sim.AddSession(upstream.RestoreSession{Organization: org.Name, ClientHost: "GATEWAY", InitiatedBy: "gateway-svc"})
	waitFor(t, 30*time.Second, func() bool {
		list, err := gw.Store.PendingAttributions(ctx, org.Server)
		return err == nil && len(list) == 1 && list[0].Session.ID == mine.ID
	}, "the gateway's session archived pending")
	// Meanwhile a restore that bypassed the portal, on the same organisation: it may be the
	// START's session as far as the watcher knows, so it waits too.
	bypass := sim.AddSession(upstream.RestoreSession{Organization: org.Name, ClientHost: "STRANGER-PC", InitiatedBy: "CONTOSO\\mallory"})
	waitFor(t, 30*time.Second, func() bool {
		list, err := gw.Store.PendingAttributions(ctx, org.Server)
		return err == nil && len(list) == 2
	}, "both sessions archived pending")
	time.Sleep(300 * time.Millisecond) // several polls while the START is pending
	if n := out.count() + through.count(); n != 0 {
		t.Fatalf("%d deliveries while the START is pending, want none", n)
	}
	if _, err := log.Complete(ctx, start.ID, actionlog.Outcome{Status: actionlog.StatusSucceeded, UpstreamStatus: 201, VBOSessionID: mine.ID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool { return through.count() >= 1 && out.count() >= 1 }, "both sessions decided and delivered")
	time.Sleep(300 * time.Millisecond)
	if out.count() != 1 || through.count() != 1 {
		t.Fatalf("deliveries: outside rule %d, through rule %d; want 1 and 1", out.count(), through.count())
	}
	type attribution struct {
		ThroughGateway bool
		Person, Reason *string
	}
	payload := func(r *hookReceiver) (id string, a attribution) {
		r.mu.Lock()
		defer r.mu.Unlock()
		var p struct {
			Data struct {
				UpstreamID  string
				Attribution attribution
			}
		}
		_ = json.Unmarshal(r.got[0].body, &p)
		return p.Data.UpstreamID, p.Data.Attribution
	}
	if id, a := payload(out); id != bypass.ID || a.ThroughGateway || a.Person != nil {
		t.Errorf("outside rule delivered %s %+v, want %s outside the gateway", id, a, bypass.ID)
	}
	if id, a := payload(through); id != mine.ID || !a.ThroughGateway || a.Person == nil || *a.Person != "alice@tenant-1" || *a.Reason != "ticket 42" {
		t.Errorf("through rule delivered %s %+v, want %s by alice", id, a, mine.ID)
	}

	from, to := time.Now().Add(-time.Hour).UTC(), time.Now().Add(time.Minute).UTC()
	var audit struct {
		RestoreAudit struct {
			Rows []struct {
				Person   *string
				Sessions int
			}
		}
	}
	mustPost(t, gw, demo.AdminKey, `query($from: DateTime!, $to: DateTime!) { restoreAudit(from: $from, to: $to, groupBy: [PERSON],
		filter: {startTimeFrom: $from}) { rows { person sessions } } }`,
		map[string]any{"from": mine.CreationTime.Add(-time.Second).UTC().Format(time.RFC3339Nano), "to": to.Format(time.RFC3339Nano)}, &audit)
	byPerson := map[string]int{}
	for _, r := range audit.RestoreAudit.Rows {
		byPerson[fmt.Sprint(show(r.Person))] += r.Sessions
	}
	if byPerson["alice@tenant-1"] != 1 || byPerson["<nil>"] < 1 {
		t.Errorf("restoreAudit by PERSON %v, want alice@tenant-1:1 and the bypass under null", byPerson)
	}

	req := httptest.NewRequest(http.MethodGet, "/export/restore-audit-sessions.csv?partial=true&from="+from.Format(time.RFC3339)+"&to="+to.Format(time.RFC3339), nil)
	req.Header.Set("Authorization", "Bearer "+demo.AdminKey)
	w := httptest.NewRecorder()
	gw.Handler.ServeHTTP(w, req)
	recs, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if w.Code != http.StatusOK || err != nil || len(recs) < 2 {
		t.Fatalf("sessions CSV: %d %v", w.Code, err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	found := false
	for _, rec := range recs[1:] {
		if rec[col["person"]] == "alice@tenant-1" {
			found = rec[col["reason"]] == "ticket 42" && rec[col["throughGateway"]] == "true"
		}
	}
	if !found {
		t.Errorf("sessions CSV lacks alice's session with its reason: header %v", recs[0])
	}
}

// storeTick waits (bounded) until the store's clock reads later than it does now, so whatever
// the store stamps next (a session's first sighting) is strictly after what it stamped before
// (a rule's creation): rules fire only for sessions first seen after them, and two stamps
// within the clock's resolution would be the same instant. A fixed sleep guessed at that
// resolution; this reads it (as the watch rules' own tests do, watchrules.clockTick).
func storeTick(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := t.Context()
	before, err := st.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Microsecond) {
		now, err := st.Now(ctx)
		switch {
		case err != nil:
			t.Fatal(err)
		case now.After(before):
			return
		case time.Now().After(deadline):
			t.Fatalf("the store's clock stayed at %v", before)
		}
	}
}
