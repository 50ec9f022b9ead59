package report

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// restoreAudit groupBy PERSON groups the gateway's sessions under their person and the rest
// under a null person, on both paths (the database's grouping; the exact path a substring
// filter takes); the exports carry the attribution: the grouped CSV's person column, the
// sessions CSV's throughGateway, person, displayName and reason (the gateway's reason for its
// sessions, VBO's for the others), every cell defused like the others.
func TestRestoreAuditByPersonAndCSV(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.SQLite(t))
	ctx := context.Background()
	to := fillLong(t, st, 3) // s-00000..s-00002: outside the gateway, VBO reason "reason reason ..."
	l, _, err := st.AcquireLease(ctx, "syd1", "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gw := func(id string, minute int, a store.Attribution) store.Change {
		start := archiveBase.Add(time.Duration(minute)*time.Minute + time.Second)
		s := upstream.RestoreSession{ID: id, Organization: "Org 0", Type: upstream.SessionTypeExchange, State: upstream.SessionStateWorking,
			CreationTime: start, InitiatedBy: "GATEWAY\\svc", ClientHost: "GW1"}
		return store.Change{Session: store.Session{Server: "syd1", Session: s, OrgID: "Org-0"}, Attribution: &a}
	}
	if err := st.Archive(ctx, l, []store.Change{
		gw("gw-alice", 0, store.Attribution{ThroughGateway: true, Person: "alice", DisplayName: "Alice A", Tenant: "t1", Reason: "ticket 42"}),
		gw("gw-evil", 1, store.Attribution{ThroughGateway: true, Person: "=cmd|' /C calc'!A0", DisplayName: "@SUM(1)", Reason: "+1;-2"}),
		gw("gw-alice2", 2, store.Attribution{ThroughGateway: true, Person: "alice", Reason: "ticket 43"}),
	}, store.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	a, err := NewArchive(st, ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	substring := "a" // "CONTOSO\alice" and "GATEWAY\svc" both: the exact path, same sessions
	for name, f := range map[string]*model.RestoreSessionFilter{"grouped": nil, "exact": {InitiatedBy: &substring}} {
		q := resolvers.AuditQuery{From: archiveBase, To: to, Filter: f, GroupBy: []model.RestoreAuditDimension{model.RestoreAuditDimensionPerson},
			Servers: []string{"syd1"}, InScope: func(string, string) bool { return true }}
		got, err := a.RestoreAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		sessions := map[string]int{}
		for _, r := range got.Rows {
			key := "<null>"
			if r.Person != nil {
				key = *r.Person
			}
			sessions[key] += r.Sessions
		}
		if len(sessions) != 3 || sessions["<null>"] != 3 || sessions["alice"] != 2 || sessions["=cmd|' /C calc'!A0"] != 1 {
			t.Errorf("%s: sessions by person %v, want null:3 alice:2 and the formula person 1", name, sessions)
		}
	}

	h := a.Exports(allServers{"syd1"}, ExportOptions{})
	v := url.Values{"from": {archiveBase.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	read := func(path string, v url.Values) []map[string]string {
		t.Helper()
		w := exportGet(h, path, v)
		recs, err := csv.NewReader(w.Body).ReadAll()
		if w.Code != http.StatusOK || err != nil || len(recs) < 1 {
			t.Fatalf("%s: %d %v", path, w.Code, err)
		}
		var out []map[string]string
		for _, rec := range recs[1:] {
			m := map[string]string{}
			for i, h := range recs[0] {
				m[h] = rec[i]
			}
			out = append(out, m)
		}
		return out
	}
	byID := map[string]map[string]string{}
	for _, r := range read(ExportSessionsPath, v) {
		byID[r["initiatedBy"]+"|"+r["startTime"]] = r
	}
	want := []struct {
		start                                    time.Time
		through, person, display, reason, initBy string
	}{
		{archiveBase, "false", "", "", "reason reason reason", "CONTOSO\\alice"},
		{archiveBase.Add(time.Second), "true", "alice", "Alice A", "ticket 42", "GATEWAY\\svc"},
		{archiveBase.Add(time.Minute + time.Second), "true", "'=cmd|' /C calc'!A0", "'@SUM(1)", "'+1;'-2", "GATEWAY\\svc"},
	}
	for _, w := range want {
		r := byID[w.initBy+"|"+w.start.Format(time.RFC3339Nano)]
		if r == nil {
			t.Fatalf("sessions CSV lacks the session of %s at %s", w.initBy, w.start)
		}
		if r["throughGateway"] != w.through || r["person"] != w.person || r["displayName"] != w.display || len(r["reason"]) < len(w.reason) || r["reason"][:len(w.reason)] != w.reason {
			t.Errorf("session at %s: throughGateway %q person %q displayName %q reason %q; want %q %q %q %q...", w.start,
				r["throughGateway"], r["person"], r["displayName"], r["reason"], w.through, w.person, w.display, w.reason)
		}
	}
	v.Set("groupBy", "PERSON")
	persons := map[string]string{}
	for _, r := range read(ExportPath, v) {
		persons[r["person"]] = r["sessions"]
	}
	if len(persons) != 3 || persons[""] != "3" || persons["alice"] != "2" || persons["'=cmd|' /C calc'!A0"] != "1" {
		t.Errorf("grouped CSV sessions by person %v", persons)
	}
}
