package watchrules

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// M1: one owner's slow receiver holds at most its share of the workers. Tenant t1 has forty
// deliveries queued at a receiver that never answers (until the test ends); tenant t2's one
// delivery, queued after them, is delivered while all of t1's attempts are still hanging: no
// t1 attempt has ended (none recorded) and t1 holds exactly its two workers. Without the cap
// t1's jobs fill all four workers and t2 waits for an attempt to time out (30 s here).
func TestSlowOwnerDoesNotStarveAnother(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			const perOwner, backlog = 2, 40
			e := newEnv(t, eng.Options(t), envOpts{perOwner: perOwner, timeout: 30 * time.Second})
			release := make(chan struct{})
			slow := newReceiver(t, func(_ int, _ http.ResponseWriter) { <-release })
			fast := newReceiver(t, nil)
			t1, t2 := "t1", "t2"
			ruleA := e.create(&t1, rule(slow.URL+"/hook?token=a", model.WatchTriggerStarted))
			ruleB := e.create(&t2, rule(fast.URL+"/hook", model.WatchTriggerStarted))
			for i := range backlog {
				e.archive(session(fmt.Sprintf("a%d", i), true), "org-1", 0, nil, false, false)
			}
			e.start()
			t.Cleanup(func() { close(release) }) // runs first: the hanging attempts end, then the service stops
			waitFor(t, "t1 to hold its workers", func() bool { return len(slow.requests()) >= perOwner })
			queued := time.Now()
			e.archive(session("b1", true), "org-2", 0, nil, false, false)
			waitFor(t, "t2's delivery", func() bool {
				ds := e.deliveries(ruleB.Rule.ID)
				return len(ds) == 1 && ds[0].Status == model.WebhookDeliveryStatusSucceeded
			})
			t.Logf("t2's delivery reached its receiver %v after it was queued", fast.requests()[0].at.Sub(queued))
			if n := len(slow.requests()); n != perOwner {
				t.Fatalf("the slow receiver got %d requests at once, want t1's cap %d", n, perOwner)
			}
			ds := e.deliveries(ruleA.Rule.ID)
			if len(ds) != backlog {
				t.Fatalf("t1 has %d deliveries, want %d", len(ds), backlog)
			}
			for _, d := range ds {
				if d.Status != model.WebhookDeliveryStatusPending || len(d.Attempts) != 0 {
					t.Fatalf("t1's delivery %s is %s with %d attempts: t2 was delivered only after a t1 attempt ended",
						d.ID, d.Status, len(d.Attempts))
				}
			}
		})
	}
}

// An owner holds at most its cap; its waiting jobs come back spaced ownerBusyGap apart, each
// owner's on its own line, and a released worker is free again.
func TestOwnerSlots(t *testing.T) {
	t.Parallel()
	o := newOwnerSlots(2)
	r1, ok1 := o.take("tenant:a")
	_, ok2 := o.take("tenant:a")
	_, ok3 := o.take("tenant:a")
	_, okB := o.take("tenant:b")
	if !ok1 || !ok2 || ok3 || !okB {
		t.Fatalf("take: %v %v %v (b: %v), want true true false (b: true)", ok1, ok2, ok3, okB)
	}
	now := time.Unix(1_000_000, 0)
	var got []time.Duration
	for range 4 {
		got = append(got, o.snooze("tenant:a", now))
	}
	if want := []time.Duration{time.Second, 1200 * time.Millisecond, 1400 * time.Millisecond, 1600 * time.Millisecond}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tenant:a snoozes %v, want %v", got, want)
	}
	if d := o.snooze("tenant:b", now); d != time.Second {
		t.Fatalf("tenant:b snoozes %v, want 1s", d)
	}
	if d := o.snooze("tenant:a", now.Add(time.Minute)); d != time.Second {
		t.Fatalf("after the backlog came back, tenant:a snoozes %v, want 1s", d)
	}
	r1()
	r1() // once only
	if _, ok := o.take("tenant:a"); !ok {
		t.Fatal("a released worker is not free again")
	}
	if _, ok := o.take("tenant:a"); ok {
		t.Fatal("a double release freed two workers")
	}
}
