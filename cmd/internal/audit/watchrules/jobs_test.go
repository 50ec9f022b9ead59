package watchrules

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertest"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// requireDeliveryJob asserts, inside tx, that exactly one delivery job is queued (or, with
// want false, none) on the webhooks queue, with River's helpers on tx's engine.
func requireDeliveryJob(ctx context.Context, t *testing.T, tx store.Tx, want bool) *river.Job[deliverArgs] {
	t.Helper()
	opts := &rivertest.RequireInsertedOpts{Queue: queueName, MaxAttempts: 25}
	switch ntx := tx.Native().(type) {
	case *sql.Tx:
		if !want {
			rivertest.RequireNotInsertedTx[*riversqlite.Driver](ctx, t, ntx, deliverArgs{}, nil)
			return nil
		}
		return rivertest.RequireInsertedTx[*riversqlite.Driver](ctx, t, ntx, deliverArgs{}, opts)
	case pgx.Tx:
		if !want {
			rivertest.RequireNotInsertedTx[*riverpgxv5.Driver](ctx, t, ntx, deliverArgs{}, nil)
			return nil
		}
		return rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, ntx, deliverArgs{}, opts)
	default:
		t.Fatalf("store transaction %T", ntx)
		return nil
	}
}

// The hook queues a match's delivery job on the process's River client inside the archive
// transaction: the job is there in that transaction, gone with it when it rolls back, and
// committed with it (its deliveryId naming the delivery row it commits beside).
func TestHookInsertsInTheArchiveTx(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			t1 := "t1"
			e.create(&t1, rule("http://127.0.0.1:9/hook", model.WatchTriggerStarted))
			ctx := context.Background()
			c := store.Change{Session: store.Session{Server: "syd1", Session: session("s1", true), OrgID: "org-1"}}
			rollback := errors.New("roll back")
			err := e.st.Archive(ctx, e.lease, []store.Change{c}, store.Checkpoint{}, func(ctx context.Context, tx store.Tx, a store.Archived) error {
				if err := e.svc.Hook(ctx, tx, a); err != nil {
					return err
				}
				if job := requireDeliveryJob(ctx, t, tx, true); job.Args.DeliveryID == "" || job.Args.Round != 0 {
					t.Errorf("job args %+v", job.Args)
				}
				return rollback
			})
			if !errors.Is(err, rollback) {
				t.Fatalf("archive: %v, want the hook's error", err)
			}
			if err := e.st.InTx(ctx, func(tx store.Tx) error { requireDeliveryJob(ctx, t, tx, false); return nil }); err != nil {
				t.Fatal(err)
			}

			e.archive(session("s1", true), "org-1", 0, nil, false, false)
			if err := e.st.InTx(ctx, func(tx store.Tx) error {
				job := requireDeliveryJob(ctx, t, tx, true)
				var n int
				rows, err := tx.Query(ctx, `SELECT COUNT(*) FROM webhook_delivery WHERE id = ?`, job.Args.DeliveryID)
				if err != nil {
					return err
				}
				if _, err := store.Collect(rows, func(r store.Row) (int, error) { return 0, r.Scan(&n) }); err != nil {
					return err
				}
				if n != 1 {
					t.Errorf("job %+v names no delivery", job.Args)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
