package actionlog

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// PendingItemActions lists exactly the item actions that may have reached VBO and have no
// outcome (no DOWNLOAD, none awaiting approval, none completed, none begun at or after the
// cutoff), oldest first and bounded; SessionItemActions lists one session's item actions.
func TestPendingItemActions(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice, bob := actor("t1", "alice"), actor("t1", "bob")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		other := e.start(t, bob, "syd1", "org-1", "vbo-2")
		e.step(t, alice, KindBrowse, s.ID)
		begin := func(a Actor, k Kind, gw string, mod func(*Entry)) Action {
			t.Helper()
			en := Entry{Actor: a, Kind: k, GatewaySessionID: gw, Items: []Item{{ID: "i1", Name: "Mail 1"}}}
			switch k {
			case KindSend:
				en.Recipients = []string{"bob@contoso.example"}
			case KindRestoreTo:
				en.Target = "bob@contoso.example"
			}
			if mod != nil {
				mod(&en)
			}
			b, err := e.log.Begin(ctx, en)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		send := begin(alice, KindSend, s.ID, nil)
		restoreTo := begin(alice, KindRestoreTo, s.ID, nil)
		download := begin(alice, KindDownload, s.ID, nil)
		awaiting := begin(alice, KindRestoreToOriginal, s.ID, func(en *Entry) { en.ApprovalUntil = e.clk.Now().Add(time.Hour) })
		approved := begin(alice, KindRestoreToOriginal, s.ID, func(en *Entry) { en.ApprovalUntil = e.clk.Now().Add(time.Hour) })
		if _, err := e.log.Approve(ctx, approved.ID, bob); err != nil {
			t.Fatal(err)
		}
		done := begin(alice, KindRestoreTo, s.ID, nil)
		if _, err := e.log.Complete(ctx, done.ID, Outcome{Status: StatusSucceeded, Counts: &Counts{Created: 1}}); err != nil {
			t.Fatal(err)
		}
		otherSession := begin(bob, KindRestoreTo, other.ID, nil)
		cutoff := e.clk.Now()
		late := begin(alice, KindRestoreTo, s.ID, nil)

		ids := func(list []Action) []string {
			out := make([]string, len(list))
			for i, a := range list {
				out[i] = a.ID
			}
			return out
		}
		got, err := e.log.PendingItemActions(ctx, cutoff, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{send.ID, restoreTo.ID, approved.ID, otherSession.ID}; !slices.Equal(ids(got), want) {
			t.Fatalf("pending = %v, want %v (send, restoreTo, approved, other session)", ids(got), want)
		}
		if got[2].Approval == nil || got[2].Status != StatusPending {
			t.Fatalf("approved action read back as %+v", got[2])
		}
		got, err = e.log.PendingItemActions(ctx, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{send.ID, restoreTo.ID}; !slices.Equal(ids(got), want) {
			t.Fatalf("pending, limit 2 = %v, want %v", ids(got), want)
		}
		got, err = e.log.PendingItemActions(ctx, e.clk.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ids(got), late.ID) {
			t.Fatalf("a later cutoff misses %s: %v", late.ID, ids(got))
		}

		got, err = e.log.SessionItemActions(ctx, s.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{send.ID, restoreTo.ID, download.ID, awaiting.ID, approved.ID, done.ID, late.ID}; !slices.Equal(ids(got), want) {
			t.Fatalf("session item actions = %v, want %v", ids(got), want)
		}
		if got[5].Counts == nil || got[5].Counts.Created != 1 || got[3].Status != StatusPendingApproval {
			t.Fatalf("session item actions read back without their state: %+v / %+v", got[5], got[3])
		}
		if got, err = e.log.SessionItemActions(ctx, s.ID, 2); err != nil || len(got) != 2 {
			t.Fatalf("limit 2: %d, %v", len(got), err)
		}
	})
}

// The log's reads of what still waits for VBO walk their partial indexes (migration 00025) on
// both engines instead of scanning the whole log (every session's browse steps included): the
// indexes exist after migrating, and SQLite's plans for the very queries search them (the
// reaper's in its order, with no sort of its own). The queries' kinds must stay literals
// matching the indexes' conditions, or SQLite cannot use them.
func TestPendingReadsUseTheirIndexes(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		for _, name := range []string{"restore_action_item_pending", "restore_action_start_recent"} {
			exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?`
			if e.st.Driver() == store.DriverPostgres {
				exists = `SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'restore_action' AND indexname = ?`
			}
			var n int
			if err := e.st.QueryRow(ctx, exists, name).Scan(&n); err != nil || n != 1 {
				t.Fatalf("index %s: %d found (%v), want 1", name, n, err)
			}
		}
		if e.st.Driver() != store.DriverSQLite {
			return
		}
		plan := func(query string, args ...any) string {
			t.Helper()
			rows, err := e.st.Query(ctx, `EXPLAIN QUERY PLAN `+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return strings.Join(plan, "\n")
		}
		if p := plan(actionQuery(pendingItemWhere)+` LIMIT ?`, store.NS(t0), 50); !strings.Contains(p, "b USING INDEX restore_action_item_pending") ||
			strings.Contains(p, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("PendingItemActions' plan does not walk restore_action_item_pending in order:\n%s", p)
		}
		if p := plan(pendingStartOrgsQuery, "syd1", store.NS(t0)); !strings.Contains(p, "b USING INDEX restore_action_start_recent (server=? AND at_ns>?)") ||
			!strings.Contains(p, "INDEX restore_action_outcome (ref_id=?)") {
			t.Errorf("PendingStartOrgs' plan does not search restore_action_start_recent and restore_action_outcome:\n%s", p)
		}
	})
}

// PendingStartOrgs answers PendingStarts for a batch of organisations in one read: each
// organisation with a START waiting, "" when any organisation of the server has one, none
// for an answered START, another server's, or one begun at or before since.
func TestPendingStartOrgs(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		orgs := []string{"org-1", "org-2", "org-3", ""}
		got, err := e.log.PendingStartOrgs(ctx, "syd1", orgs, time.Time{})
		if err != nil || len(got) != len(orgs) || slices.Contains([]bool{got["org-1"], got["org-2"], got["org-3"], got[""]}, true) {
			t.Fatalf("empty log: %v %v", got, err)
		}
		e.clk.Set(t0.Add(time.Hour))
		begin := func(server, org string) Action {
			t.Helper()
			b, err := e.log.Begin(ctx, Entry{Actor: actor("t1", "alice"), Kind: KindStart, Reason: "r", Server: server, OrganizationID: org})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		early := begin("syd1", "org-3")
		e.clk.Set(t0.Add(2 * time.Hour))
		begin("syd1", "org-1")
		begin("syd1", "org-1")
		begin("mel1", "org-2")
		answered := begin("syd1", "org-2")
		if _, err := e.log.Complete(ctx, answered.ID, Outcome{Status: StatusSucceeded, VBOSessionID: "vbo-2"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			server string
			since  time.Time
			want   map[string]bool
		}{
			{"syd1", t0, map[string]bool{"org-1": true, "org-2": false, "org-3": true, "": true}},
			{"syd1", early.At, map[string]bool{"org-1": true, "org-2": false, "org-3": false, "": true}},
			{"mel1", t0, map[string]bool{"org-1": false, "org-2": true, "org-3": false, "": true}},
			{"akl1", t0, map[string]bool{"org-1": false, "org-2": false, "org-3": false, "": false}},
		} {
			got, err := e.log.PendingStartOrgs(ctx, tc.server, orgs, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("PendingStartOrgs(%s, since %v) = %v, want %v", tc.server, tc.since, got, tc.want)
			}
			for _, org := range orgs { // the one-organisation form agrees
				if one, err := e.log.PendingStarts(ctx, tc.server, org, tc.since); err != nil || one != tc.want[org] {
					t.Errorf("PendingStarts(%s, %q, since %v) = %v %v, want %v", tc.server, org, tc.since, one, err, tc.want[org])
				}
			}
		}
	})
}
