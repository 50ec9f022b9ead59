package watchrules

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// Two gateway replicas on one PostgreSQL, both delivering: every message reaches the receiver
// exactly once.
func TestTwoReplicasDeliverEachJobOnce(t *testing.T) {
	pg := storetest.Postgres(t)
	a := newEnv(t, pg, envOpts{id: "replica-a"})
	stB := openStore(t, pg)
	b := newService(t, stB, a.scope, envOpts{id: "replica-b"})
	rcv := newReceiver(t, func(int, http.ResponseWriter) { time.Sleep(10 * time.Millisecond) })
	t1 := "t1"
	created := a.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	a.start()
	startService(t, b)
	const n = 40
	t0 := time.Now()
	for i := range n {
		a.archive(session(fmt.Sprint("s", i), true), "org-1", 0, nil, false, false)
	}
	t.Logf("archived in %v", time.Since(t0))
	waitFor(t, "every delivery", func() bool {
		ds := a.deliveries(created.Rule.ID)
		if len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.Status != model.WebhookDeliveryStatusSucceeded {
				return false
			}
		}
		return true
	})
	t.Logf("delivered in %v", time.Since(t0))
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive now
	seen := map[string]int{}
	for _, r := range rcv.requests() {
		seen[r.header.Get("webhook-id")]++
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", id, c)
		}
	}
	for _, d := range a.deliveries(created.Rule.ID) {
		if len(d.Attempts) != 1 {
			t.Errorf("%s: %d attempts", d.ID, len(d.Attempts))
		}
	}
}
