package actionlog

import (
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

// The reaper's read of pending item actions walks the partial index restore_action_item_pending
// (migration 00025) on both engines instead of scanning and sorting the whole log (every
// session's browse steps included): the index exists after migrating, and SQLite's plan for
// the very query PendingItemActions runs searches it with no sort of its own. The query's kinds
// must stay literals matching the index's condition, or SQLite cannot use it.
func TestPendingItemActionsUseTheirIndex(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'restore_action_item_pending'`
		if e.st.Driver() == store.DriverPostgres {
			exists = `SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'restore_action' AND indexname = 'restore_action_item_pending'`
		}
		var n int
		if err := e.st.QueryRow(ctx, exists).Scan(&n); err != nil || n != 1 {
			t.Fatalf("index restore_action_item_pending: %d found (%v), want 1", n, err)
		}
		if e.st.Driver() != store.DriverSQLite {
			return
		}
		rows, err := e.st.Query(ctx, `EXPLAIN QUERY PLAN `+actionQuery(pendingItemWhere)+` LIMIT ?`, store.NS(t0), 50)
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
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "b USING INDEX restore_action_item_pending") || strings.Contains(text, "TEMP B-TREE") {
			t.Fatalf("PendingItemActions' plan does not walk restore_action_item_pending in order:\n%s", text)
		}
	})
}
