package watchrules

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// prunedMetric reads vbo_gateway_webhook_deliveries_pruned_total, a counter without labels.
func prunedMetric(t *testing.T, svc *Service) float64 {
	t.Helper()
	got := counterSeries(t, svc, "vbo_gateway_webhook_deliveries_pruned_total")
	v, ok := got[""]
	if !ok || len(got) != 1 {
		t.Fatalf("pruned metric has labels or several series: %v", got)
	}
	return v
}

// The periodic prune job deletes finished deliveries older than the retention, with their
// attempts; a recent finished delivery and an old pending one (waiting for its retry) stay.
func TestHistoryRetentionPrunesPeriodically(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, eng.Options(t), envOpts{schedule: []time.Duration{0, time.Hour},
				retention: time.Hour, pruneEvery: 50 * time.Millisecond})
			ok := newReceiver(t, nil)
			down := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(503) })
			t1, t2 := "t1", "t2"
			tested := e.create(&t2, rule(ok.URL, model.WatchTriggerStarted)) // not in org-1: only test deliveries
			retried := e.create(&t1, rule(down.URL, model.WatchTriggerStarted))
			var old []string
			for range 2 {
				d, err := e.svc.Test(ctx, tested.Rule.ID)
				if err != nil || d.Status != model.WebhookDeliveryStatusSucceeded {
					t.Fatalf("test delivery: %+v %v", d, err)
				}
				old = append(old, d.ID)
			}
			e.start()
			e.archive(session("s1", false), "org-1", 3, itemEvents(3), true, false)
			waitFor(t, "the first attempt to fail", func() bool {
				ds := e.deliveries(retried.Rule.ID)
				return len(ds) == 1 && len(ds[0].Attempts) == 1 && ds[0].Status == model.WebhookDeliveryStatusPending
			})
			if n := prunedMetric(t, e.svc); n != 0 {
				t.Fatalf("pruned %v before anything was old", n)
			}
			// Everything so far happened two hours ago.
			if err := e.st.InTx(ctx, func(tx store.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE webhook_delivery SET updated_ns = updated_ns - ?`, int64(2*time.Hour))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			recent, err := e.svc.Test(ctx, tested.Rule.ID)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the old test deliveries to be pruned", func() bool { return len(e.deliveries(tested.Rule.ID)) == 1 })
			if ds := e.deliveries(tested.Rule.ID); ds[0].ID != recent.ID {
				t.Fatalf("kept %s, want the recent %s", ds[0].ID, recent.ID)
			}
			if ds := e.deliveries(retried.Rule.ID); len(ds) != 1 || ds[0].Status != model.WebhookDeliveryStatusPending || len(ds[0].Attempts) != 1 {
				t.Fatalf("the pending delivery: %+v", ds)
			}
			var orphans int
			if err := e.st.QueryRow(ctx, `SELECT COUNT(*) FROM webhook_attempt WHERE delivery_id IN (?, ?)`, old[0], old[1]).Scan(&orphans); err != nil || orphans != 0 {
				t.Fatalf("%d attempts of pruned deliveries left (%v)", orphans, err)
			}
			if n := prunedMetric(t, e.svc); n != 2 {
				t.Fatalf("pruned metric %v, want 2", n)
			}
		})
	}
}

// Without a retention nothing is ever pruned, however old.
func TestHistoryRetentionOff(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	rcv := newReceiver(t, nil)
	created := e.create(nil, rule(rcv.URL, model.WatchTriggerStarted))
	if _, err := e.svc.Test(context.Background(), created.Rule.ID); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE webhook_delivery SET updated_ns = 1`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.PruneHistory(ctx); n != 0 || err != nil {
		t.Fatalf("pruned %d (%v) with the retention off", n, err)
	}
	if len(e.deliveries(created.Rule.ID)) != 1 {
		t.Fatal("the delivery is gone")
	}
}

// New refuses a negative retention (fails closed) rather than pruning everything or nothing.
func TestHistoryRetentionNegativeRefused(t *testing.T) {
	st := openStore(t, storetest.SQLite(t))
	o := serviceOptions(t, st, &scopes{}, envOpts{})
	o.HistoryRetention = -time.Hour
	if svc, err := New(context.Background(), o); err == nil || svc != nil {
		t.Fatalf("New with a negative retention = %v, %v; want an error", svc, err)
	}
	o.HistoryRetention = time.Hour
	if _, err := New(context.Background(), o); err != nil {
		t.Fatalf("New with a retention: %v", err)
	}
}
