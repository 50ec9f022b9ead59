package watchrules

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

// queueJob puts a delivery job into River's tables in state ("available", "scheduled",
// "running" or "cancelled").
type queueJob func(t *testing.T, deliveryID, state string)

// withRiver migrates River's tables into s (as New does) and returns a way to queue
// delivery jobs with an insert-only River client.
func withRiver(t *testing.T, s *store.Store) queueJob {
	t.Helper()
	switch db := s.Native().(type) {
	case *sql.DB:
		return riverJobs(t, s, riversqlite.New(db))
	case *pgxpool.Pool:
		return riverJobs(t, s, riverpgxv5.New(db))
	default:
		t.Fatalf("store connection %T", db)
		return nil
	}
}

func riverJobs[TTx any](t *testing.T, s *store.Store, drv riverdriver.Driver[TTx]) queueJob {
	ctx := context.Background()
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatalf("river migrations: %v", err)
	}
	client, err := river.NewClient(drv, &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, id, state string) {
		t.Helper()
		opts := &river.InsertOpts{Queue: "webhooks"}
		if state == "scheduled" {
			opts.ScheduledAt = time.Now().Add(time.Hour)
		}
		res, err := client.Insert(ctx, deliverArgs{DeliveryID: id}, opts)
		if err != nil {
			t.Fatalf("queue job for %s: %v", id, err)
		}
		switch state {
		case "cancelled": // finalized: can never run again
			if _, err := client.JobCancel(ctx, res.Job.ID); err != nil {
				t.Fatal(err)
			}
		case "running":
			err := s.InTx(ctx, func(tx store.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = CURRENT_TIMESTAMP WHERE id = ?`, res.Job.ID)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// storedDelivery is one webhook_delivery row for the retention tests.
type storedDelivery struct {
	id, status, trigger, session string
	updated                      time.Time
	attempts                     int
	job                          string // state of its River job ("" for none)
	keep                         bool
}

func insertDeliveries(t *testing.T, s *store.Store, ds []storedDelivery) {
	t.Helper()
	ctx := context.Background()
	err := s.InTx(ctx, func(tx store.Tx) error {
		for _, d := range ds {
			server, trigger := "syd1", d.trigger
			if d.session == "" {
				server, trigger = "", "TEST"
			}
			if _, err := tx.Exec(ctx, `INSERT INTO webhook_delivery (id, rule_id, message_id, event_type, trigger_on, server, session_id,
				status, attempts, payload, created_ns, updated_ns) VALUES (?, ?, ?, 'restore.session.started', ?, ?, ?, ?, ?, '{}', ?, ?)`,
				d.id, "wr_"+d.id, "msg_"+d.id, trigger, server, d.session, d.status, d.attempts, d.updated.Add(-time.Minute).UnixNano(), d.updated.UnixNano()); err != nil {
				return err
			}
			for n := 1; n <= d.attempts; n++ {
				if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempt (delivery_id, n, at_ns, status_code, error, duration_ms) VALUES (?, ?, ?, 500, 'boom', 3)`,
					d.id, n, d.updated.UnixNano()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func remaining(t *testing.T, s *store.Store, table, col string) map[string]int {
	t.Helper()
	rows, err := s.Query(context.Background(), `SELECT `+col+`, COUNT(*) FROM `+table+` GROUP BY `+col)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPruneDeliveries: finished deliveries older than the cutoff go with their attempts, in
// batches; recent, pending, in-flight ones, ones whose River job can still run and ones of a
// session still open in the archive stay; a second run deletes nothing.
func TestPruneDeliveries(t *testing.T) {
	cutoff := t0
	old, recent := cutoff.Add(-time.Hour), cutoff.Add(time.Minute)
	deliveries := []storedDelivery{
		{id: "wd_succeeded_old", status: "SUCCEEDED", trigger: "STARTED", session: "done1", updated: old, attempts: 2},
		{id: "wd_failed_old", status: "FAILED", trigger: "ENDED", session: "done1", updated: old, attempts: 10},
		{id: "wd_cancelled_old", status: "CANCELLED", trigger: "STARTED", session: "gone1", updated: old},
		{id: "wd_test_old", status: "SUCCEEDED", updated: old.Add(-90 * 24 * time.Hour), attempts: 1},
		{id: "wd_finished_job_old", status: "SUCCEEDED", trigger: "ENDED", session: "gone1", updated: old, attempts: 1, job: "cancelled"},
		{id: "wd_succeeded_recent", status: "SUCCEEDED", trigger: "STARTED", session: "done1", updated: recent, attempts: 1, keep: true},
		{id: "wd_failed_at_cutoff", status: "FAILED", trigger: "STARTED", session: "gone1", updated: cutoff, attempts: 1, keep: true},
		{id: "wd_pending_old", status: "PENDING", trigger: "STARTED", session: "gone1", updated: old, attempts: 3, job: "scheduled", keep: true},
		{id: "wd_pending_lost_job", status: "PENDING", trigger: "ENDED", session: "gone1", updated: old, keep: true},
		{id: "wd_in_flight_old", status: "PENDING", trigger: "ENDED", session: "done1", updated: old, attempts: 1, job: "running", keep: true},
		{id: "wd_live_job_old", status: "SUCCEEDED", trigger: "STARTED", session: "gone2", updated: old, attempts: 1, job: "available", keep: true},
		{id: "wd_open_session_old", status: "SUCCEEDED", trigger: "ITEM", session: "open1", updated: old, attempts: 1, keep: true},
	}
	for _, eng := range storetest.Engines() {
		for _, batch := range []int{0, 1, 4} {
			t.Run(fmt.Sprintf("%s/batch=%d", eng.Name, batch), func(t *testing.T) {
				ctx := context.Background()
				s := openStore(t, eng.Options(t))
				queue := withRiver(t, s)
				archiveSessions(t, s, map[string]bool{"open1": true, "done1": false})
				insertDeliveries(t, s, deliveries)
				var wantKept []string
				wantAttempts := map[string]int{}
				for _, d := range deliveries {
					if d.job != "" {
						queue(t, d.id, d.job)
					}
					if d.keep {
						wantKept = append(wantKept, d.id)
						if d.attempts > 0 {
							wantAttempts[d.id] = d.attempts
						}
					}
				}
				slices.Sort(wantKept)

				n, err := pruneDeliveries(ctx, s, deliveryPrune{before: cutoff, batch: batch})
				if err != nil {
					t.Fatal(err)
				}
				if want := len(deliveries) - len(wantKept); n != int64(want) {
					t.Errorf("pruned %d deliveries, want %d", n, want)
				}
				kept := remaining(t, s, "webhook_delivery", "id")
				var got []string
				for id := range kept {
					got = append(got, id)
				}
				slices.Sort(got)
				if !slices.Equal(got, wantKept) {
					t.Errorf("kept %v\nwant %v", got, wantKept)
				}
				if att := remaining(t, s, "webhook_attempt", "delivery_id"); fmt.Sprint(att) != fmt.Sprint(wantAttempts) {
					t.Errorf("attempts left %v\nwant %v", att, wantAttempts)
				}
				if n, err := pruneDeliveries(ctx, s, deliveryPrune{before: cutoff, batch: batch}); n != 0 || err != nil {
					t.Errorf("second run pruned %d (%v), want 0", n, err)
				}
				// The archive itself is untouched.
				if _, err := s.Session(ctx, "syd1", "done1"); err != nil {
					t.Errorf("archived session: %v", err)
				}
			})
		}
	}
}

// TestPruneDeliveriesBacklog: a backlog larger than several batches is deleted whole, one
// bounded transaction after another.
func TestPruneDeliveriesBacklog(t *testing.T) {
	const total, batch = 2500, 1000
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, eng.Options(t))
			withRiver(t, s)
			ds := make([]storedDelivery, total)
			for i := range ds {
				ds[i] = storedDelivery{id: fmt.Sprintf("wd_%05d", i), status: "SUCCEEDED", updated: t0.Add(-time.Duration(i+1) * time.Second), attempts: i % 2}
			}
			insertDeliveries(t, s, ds)
			n, err := pruneDeliveries(ctx, s, deliveryPrune{before: t0, batch: batch})
			if err != nil || n != total {
				t.Fatalf("pruned %d (%v), want %d", n, err, total)
			}
			if left := len(remaining(t, s, "webhook_delivery", "id")) + len(remaining(t, s, "webhook_attempt", "delivery_id")); left != 0 {
				t.Fatalf("%d rows left", left)
			}
		})
	}
}

// archiveSessions archives sessions on syd1 (id -> still open), as the watcher would.
func archiveSessions(t *testing.T, s *store.Store, open map[string]bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.EnsureServer(ctx, "syd1", t0.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.AcquireLease(ctx, "syd1", "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("acquire: ok=%v err=%v", ok, err)
	}
	var changes []store.Change
	for id, working := range open {
		x := session(id, working)
		x.CreationTime = t0.Add(-48 * time.Hour)
		changes = append(changes, store.Change{Session: store.Session{Server: "syd1", Session: x, OrgID: "org-1",
			EventsRead: 3, EventsComplete: !working}, NewEvents: itemEvents(3)})
	}
	if err := s.Archive(ctx, l, changes, store.Checkpoint{HighWater: t0}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPruneDeliveriesPastOpenSessions: more deliveries of open sessions than a batch, older
// than every prunable one, neither stop the prune nor are looked at again: it walks past them
// and deletes the rest, in bounded transactions. On each engine.
func TestPruneDeliveriesPastOpenSessions(t *testing.T) {
	const kept, pruned, batch = 7, 5, 3
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, eng.Options(t))
			withRiver(t, s)
			archiveSessions(t, s, map[string]bool{"open1": true, "done1": false})
			var ds []storedDelivery
			for i := range kept {
				ds = append(ds, storedDelivery{id: fmt.Sprintf("wd_open_%d", i), status: "SUCCEEDED", trigger: "ITEM",
					session: "open1", updated: t0.Add(-time.Duration(100+i) * time.Hour), attempts: 1})
			}
			for i := range pruned {
				ds = append(ds, storedDelivery{id: fmt.Sprintf("wd_done_%d", i), status: "SUCCEEDED", trigger: "ENDED",
					session: "done1", updated: t0.Add(-time.Duration(1+i) * time.Hour), attempts: 1})
			}
			insertDeliveries(t, s, ds)
			n, err := pruneDeliveries(ctx, s, deliveryPrune{before: t0, batch: batch})
			if err != nil || n != pruned {
				t.Fatalf("pruned %d (%v), want %d", n, err, pruned)
			}
			left := remaining(t, s, "webhook_delivery", "id")
			if len(left) != kept {
				t.Fatalf("left %v, want the %d deliveries of the open session", left, kept)
			}
			for id := range left {
				if id[:len("wd_open_")] != "wd_open_" {
					t.Fatalf("kept %s", id)
				}
			}
		})
	}
}
