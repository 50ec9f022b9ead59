package watchrules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

func rule(url string, on model.WatchTrigger, mod ...func(*model.WatchRuleInput)) model.WatchRuleInput {
	in := model.WatchRuleInput{Name: "r " + string(on), URL: url, On: on}
	for _, m := range mod {
		m(&in)
	}
	return in
}

// A match is delivered signed (the Standard Webhooks library verifies it), shaped like the
// RestoreSession, with the rule and the session's global id.
func TestDeliverySignedAndShaped(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			rcv := newReceiver(t, nil)
			t1 := "t1"
			created := e.create(&t1, rule(rcv.URL+"/hook", model.WatchTriggerStarted, func(in *model.WatchRuleInput) {
				in.ClientMachineNotIn = []string{"ADMIN-PC"}
			}))
			e.start()
			e.archive(session("s1", true), "org-1", 0, nil, false, false)
			waitFor(t, "the delivery", func() bool { return len(rcv.requests()) == 1 })
			got := rcv.requests()[0]
			wh, err := standardwebhooks.NewWebhook(created.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(got.body, got.header); err != nil {
				t.Fatalf("signature: %v", err)
			}
			var p struct {
				Type string
				Rule struct{ ID, Name string }
				Data struct {
					ID           string
					UpstreamID   string
					Organization struct{ ID, Name string }
					ClientHost   struct{ MachineName, ViaAddress string }
				}
			}
			if err := json.Unmarshal(got.body, &p); err != nil {
				t.Fatal(err)
			}
			wantID := gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: "s1"}.String()
			if p.Type != "restore.session.started" || p.Rule.ID != created.Rule.ID || p.Data.ID != wantID ||
				p.Data.Organization.Name != "Org s1" || p.Data.ClientHost.MachineName != "UNKNOWN-PC" || p.Data.ClientHost.ViaAddress != "203.0.113.7" {
				t.Fatalf("payload %+v", p)
			}
			waitFor(t, "SUCCEEDED", func() bool {
				ds := e.deliveries(created.Rule.ID)
				return len(ds) == 1 && ds[0].Status == model.WebhookDeliveryStatusSucceeded
			})
			d := e.deliveries(created.Rule.ID)[0]
			if d.MessageID != got.header.Get("webhook-id") || d.SessionID == nil || *d.SessionID != wantID {
				t.Fatalf("delivery %+v", d)
			}
		})
	}
}

// 500 then 200: one retry, with the same webhook-id (and body); both attempts recorded.
func TestRetryKeepsWebhookID(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
				if n == 1 {
					w.WriteHeader(500)
				}
			})
			t1 := "t1"
			created := e.create(&t1, rule(rcv.URL, model.WatchTriggerEnded))
			e.start()
			e.archive(session("s1", false), "org-1", 3, itemEvents(3), true, false)
			waitFor(t, "SUCCEEDED", func() bool {
				ds := e.deliveries(created.Rule.ID)
				return len(ds) == 1 && ds[0].Status == model.WebhookDeliveryStatusSucceeded
			})
			got := rcv.requests()
			if len(got) != 2 {
				t.Fatalf("%d requests, want 2", len(got))
			}
			if a, b := got[0].header.Get("webhook-id"), got[1].header.Get("webhook-id"); a == "" || a != b {
				t.Fatalf("webhook-id %q then %q", a, b)
			}
			if string(got[0].body) != string(got[1].body) {
				t.Fatal("the body changed between attempts")
			}
			d := e.deliveries(created.Rule.ID)[0]
			if fmt.Sprint(statusCodes(d)) != "[500 200]" || d.Attempts[0].Error == nil || d.Attempts[1].Error != nil {
				t.Fatalf("attempts %v", statusCodes(d))
			}
			if got := attemptMetrics(t, e.svc); got != "delivered=1 failed=1 gone=0" {
				t.Fatalf("metrics: %s", got)
			}
		})
	}
}

// Retry-After is honoured: the next attempt waits at least that long although the schedule
// says 50 ms. (A lower bound only: it holds however slow the machine is.)
func TestRetryAfterHonoured(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	t1 := "t1"
	e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	e.start()
	e.archive(session("s1", true), "org-1", 0, nil, false, false)
	waitFor(t, "the retry", func() bool { return len(rcv.requests()) == 2 })
	got := rcv.requests()
	if gap := got[1].at.Sub(got[0].at); gap < 2*time.Second {
		t.Fatalf("retried after %v, before Retry-After (2s)", gap)
	}
}

// Attempts stop after the schedule; the delivery is FAILED with every attempt recorded.
func TestGivesUpAfterSchedule(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{schedule: []time.Duration{0, 20 * time.Millisecond, 20 * time.Millisecond}})
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(502) })
	t1 := "t1"
	created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	e.start()
	e.archive(session("s1", true), "org-1", 0, nil, false, false)
	waitFor(t, "FAILED", func() bool {
		ds := e.deliveries(created.Rule.ID)
		return len(ds) == 1 && ds[0].Status == model.WebhookDeliveryStatusFailed
	})
	time.Sleep(200 * time.Millisecond) // nothing more may come
	if n := len(rcv.requests()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

// 410 Gone disables the rule; later matches are not delivered.
func TestGoneDisablesRule(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
	t1 := "t1"
	created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	e.start()
	e.archive(session("s1", true), "org-1", 0, nil, false, false)
	waitFor(t, "the rule disabled", func() bool {
		r, err := e.svc.Get(context.Background(), created.Rule.ID)
		return err == nil && !r.Enabled
	})
	r, _ := e.svc.Get(context.Background(), created.Rule.ID)
	if r.DisabledReason == nil || !strings.Contains(*r.DisabledReason, "410") {
		t.Fatalf("disabled reason %v", r.DisabledReason)
	}
	if ds := e.deliveries(created.Rule.ID); len(ds) != 1 || ds[0].Status != model.WebhookDeliveryStatusFailed {
		t.Fatalf("deliveries %+v", ds)
	}
	e.archive(session("s2", true), "org-1", 0, nil, false, false)
	time.Sleep(300 * time.Millisecond)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("%d requests after the rule was disabled, want 1", n)
	}
	if ds := e.deliveries(created.Rule.ID); len(ds) != 1 {
		t.Fatalf("%d deliveries recorded, want 1", len(ds))
	}
	// Enabling it again clears the reason.
	in := rule(rcv.URL, model.WatchTriggerStarted, func(in *model.WatchRuleInput) { in.Enabled = ptr(true) })
	if r, err := e.svc.Update(context.Background(), created.Rule.ID, in); err != nil || !r.Enabled || r.DisabledReason != nil {
		t.Fatalf("re-enabled %+v %v", r, err)
	}
}

// A tenant's rule never sees another tenant's sessions, and a match whose organisation leaves
// the owner's scope before the attempt is cancelled, not sent.
func TestOutOfScopeNeverDelivered(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			rcv := newReceiver(t, nil)
			t1 := "t1"
			created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
			// Workers not started yet: the matches wait in the queue.
			e.archive(session("other", true), "org-2", 0, nil, false, false) // t2's: no match at all
			e.archive(session("mine", true), "org-1", 0, nil, false, false)
			ds := e.deliveries(created.Rule.ID)
			if len(ds) != 1 || !strings.Contains(*ds[0].SessionID, "") || ds[0].Status != model.WebhookDeliveryStatusPending {
				t.Fatalf("deliveries before start: %+v", ds)
			}
			// A reload takes org-1 away from t1 before the attempt.
			e.scope.set("t1", "org-9")
			e.start()
			waitFor(t, "CANCELLED", func() bool {
				ds := e.deliveries(created.Rule.ID)
				return len(ds) == 1 && ds[0].Status == model.WebhookDeliveryStatusCancelled
			})
			if n := len(rcv.requests()); n != 0 {
				t.Fatalf("receiver got %d requests", n)
			}
			// Tenant removed altogether: no match.
			e.scope.set("t1")
			e.archive(session("mine2", true), "org-1", 0, nil, false, false)
			if n := len(e.deliveries(created.Rule.ID)); n != 1 {
				t.Fatalf("%d deliveries after the tenant was removed", n)
			}
		})
	}
}

// Each (rule, session, trigger) fires at most once, and never for history: not for the
// backfill, not for a session first seen before the rule.
func TestAtMostOnceAndNoHistory(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			rcv := newReceiver(t, nil)
			ctx := context.Background()
			// Seen before any rule exists (running), and a backfilled session.
			e.archive(session("old", true), "org-1", 0, nil, false, false)
			e.archive(session("back", false), "org-1", 2, itemEvents(2), true, true)
			clockTick(t, e.st) // the rules are created after those sightings
			t1 := "t1"
			ended := e.create(&t1, rule(rcv.URL, model.WatchTriggerEnded))
			item := e.create(&t1, rule(rcv.URL, model.WatchTriggerItem))
			started := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
			e.start()
			// "old" ends now: first seen before the rules, so ENDED stays quiet; its new
			// items are first seen now, so ITEM fires.
			e.archive(session("old", false), "org-1", 2, itemEvents(2), true, false)
			// "new": started, items in two polls, ended; archived twice more for good measure.
			e.archive(session("new", true), "org-1", 1, itemEvents(1), false, false)
			evs := itemEvents(3)
			e.archive(session("new", true), "org-1", 3, evs[1:], false, false)
			e.archive(session("new", false), "org-1", 3, nil, true, false)
			e.archive(session("new", false), "org-1", 3, nil, true, false)
			count := func(r *model.WatchRuleCreated) (n int, sessions []string) {
				for _, d := range e.deliveries(r.Rule.ID) {
					n++
					id, _ := gid.Parse(*d.SessionID)
					sessions = append(sessions, id.Upstream)
				}
				return n, sessions
			}
			waitFor(t, "deliveries", func() bool { return len(rcv.requests()) == 4 })
			time.Sleep(200 * time.Millisecond)
			if n, s := count(started); n != 1 || s[0] != "new" {
				t.Errorf("STARTED: %d %v", n, s)
			}
			if n, s := count(ended); n != 1 || s[0] != "new" {
				t.Errorf("ENDED: %d %v", n, s)
			}
			if n, s := count(item); n != 2 || fmt.Sprint(s) != "[new old]" && fmt.Sprint(s) != "[old new]" {
				t.Errorf("ITEM: %d %v", n, s)
			}
			if n := len(rcv.requests()); n != 4 {
				t.Errorf("receiver got %d requests, want 4", n)
			}
			_ = ctx
		})
	}
}

// During a rotation both secrets sign; each verifies on its own.
func TestRotationSignsWithBoth(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	rcv := newReceiver(t, nil)
	t1 := "t1"
	created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	rotated, err := e.svc.RotateSecret(context.Background(), created.Rule.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == created.Secret || rotated.Rule.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotation %+v", rotated.Rule)
	}
	e.start()
	e.archive(session("s1", true), "org-1", 0, nil, false, false)
	waitFor(t, "the delivery", func() bool { return len(rcv.requests()) == 1 })
	got := rcv.requests()[0]
	if n := len(strings.Fields(got.header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures, want 2", n)
	}
	for _, secret := range []string{created.Secret, rotated.Secret} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(got.body, got.header); err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	// Without overlap only the new secret signs.
	again, err := e.svc.RotateSecret(context.Background(), created.Rule.ID, 0)
	if err != nil || again.Rule.PreviousSecretExpiresAt != nil {
		t.Fatalf("rotation without overlap: %+v %v", again, err)
	}
	d, err := e.svc.Test(context.Background(), created.Rule.ID)
	if err != nil || d.Status != model.WebhookDeliveryStatusSucceeded {
		t.Fatalf("test delivery %+v %v", d, err)
	}
	last := rcv.requests()[1]
	wh, _ := standardwebhooks.NewWebhook(rotated.Secret)
	if err := wh.Verify(last.body, last.header); err == nil {
		t.Fatal("the retired secret still verifies")
	}
	wh, _ = standardwebhooks.NewWebhook(again.Secret)
	if err := wh.Verify(last.body, last.header); err != nil {
		t.Fatalf("new secret: %v", err)
	}
}

// Redelivery sends the same message (same webhook-id and body) again.
func TestRedeliver(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	rcv := newReceiver(t, nil)
	t1 := "t1"
	created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	e.start()
	e.archive(session("s1", true), "org-1", 0, nil, false, false)
	waitFor(t, "SUCCEEDED", func() bool {
		ds := e.deliveries(created.Rule.ID)
		return len(ds) == 1 && ds[0].Status == model.WebhookDeliveryStatusSucceeded
	})
	d := e.deliveries(created.Rule.ID)[0]
	if _, err := e.svc.Redeliver(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redelivery", func() bool { return len(rcv.requests()) == 2 })
	got := rcv.requests()
	if got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") || string(got[0].body) != string(got[1].body) {
		t.Fatal("the redelivery is a different message")
	}
	if _, err := e.svc.Redeliver(context.Background(), "wd_nope"); !errors.Is(err, resolvers.ErrNotFound) {
		t.Fatalf("unknown delivery: %v", err)
	}
}

// Receivers must be https and public unless the gateway allows otherwise; checked when the
// rule is written.
func TestCreateRefusesUnsafeTargets(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{noAllow: true})
	for _, url := range []string{
		"http://hooks.example.com/x",     // not https
		"https://127.0.0.1/x",            // loopback
		"https://169.254.169.254/latest", // metadata
		"https://10.0.0.8/x",             // private
		"https://[fd00::1]/x",            // unique-local
		"https://100.64.1.1/x",           // CGNAT
		"https://localhost/x",            // resolves to loopback
	} {
		_, err := e.svc.Create(context.Background(), nil, "tester", rule(url, model.WatchTriggerStarted))
		var ie *model.InputError
		if !errors.As(err, &ie) || !strings.Contains(ie.Error(), "url") {
			t.Errorf("%s: %v, want an input error on url", url, err)
		}
	}
	_, err := e.svc.Create(context.Background(), nil, "tester", rule("https://203.0.113.9/x", model.WatchTriggerStarted,
		func(in *model.WatchRuleInput) { in.MinItems = ptr(int64(3)) }))
	var ie *model.InputError
	if !errors.As(err, &ie) || !strings.Contains(ie.Error(), "minItems") {
		t.Errorf("minItems on STARTED: %v", err)
	}
}

// Deliveries page newest first.
func TestDeliveriesPaging(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	rcv := newReceiver(t, nil)
	t1 := "t1"
	created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	for i := range 5 {
		e.archive(session(fmt.Sprint("s", i), true), "org-1", 0, nil, false, false)
	}
	var seen []string
	after := ""
	for {
		conn, err := e.svc.Deliveries(context.Background(), created.Rule.ID, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		if conn.TotalCount != 5 {
			t.Fatalf("totalCount %d", conn.TotalCount)
		}
		for _, ed := range conn.Edges {
			seen = append(seen, ed.Node.ID)
		}
		if !conn.PageInfo.HasNextPage {
			break
		}
		after = conn.Edges[len(conn.Edges)-1].Cursor
	}
	if len(seen) != 5 {
		t.Fatalf("paged %d deliveries, want 5", len(seen))
	}
	uniq := map[string]bool{}
	for _, id := range seen {
		uniq[id] = true
	}
	if len(uniq) != 5 {
		t.Fatal("a delivery repeated across pages")
	}
	if _, err := e.svc.Deliveries(context.Background(), created.Rule.ID, 2, "garbage"); err == nil {
		t.Fatal("a bad cursor was accepted")
	}
}

// attemptMetrics reads vbo_gateway_webhook_attempts_total.
func attemptMetrics(t *testing.T, svc *Service) string {
	t.Helper()
	got := counterSeries(t, svc, "vbo_gateway_webhook_attempts_total")
	return fmt.Sprintf("delivered=%v failed=%v gone=%v", got["delivered"], got["failed"], got["gone"])
}

// A test delivery whose caller gives up mid-attempt is still recorded (FAILED, not left PENDING).
func TestTestDeliveryRecordedWhenCallerGivesUp(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	release := make(chan struct{})
	defer close(release)
	rcv := newReceiver(t, func(int, http.ResponseWriter) { <-release })
	t1 := "t1"
	created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if d, err := e.svc.Test(ctx, created.Rule.ID); err == nil && d.Status == model.WebhookDeliveryStatusSucceeded {
		t.Fatalf("delivered %+v", d)
	}
	ds := e.deliveries(created.Rule.ID)
	if len(ds) != 1 || ds[0].Status != model.WebhookDeliveryStatusFailed || len(ds[0].Attempts) != 1 || ds[0].Attempts[0].Error == nil {
		t.Fatalf("deliveries %+v", ds)
	}
}

// SigningSecrets are the secrets that sign a rule's deliveries now: the current one, and the
// previous one while a rotation overlaps. An unknown rule is not found.
func TestSigningSecrets(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOpts{})
	t1 := "t1"
	rcv := newReceiver(t, nil)
	created := e.create(&t1, rule(rcv.URL, model.WatchTriggerStarted))
	reveal := func(id string) []string {
		t.Helper()
		keys, err := e.svc.SigningSecrets(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.Reveal())
		}
		return out
	}
	if got := reveal(created.Rule.ID); !slices.Equal(got, []string{created.Secret}) {
		t.Fatalf("after create: %d secrets, want the created one", len(got))
	}
	rotated, err := e.svc.RotateSecret(context.Background(), created.Rule.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := reveal(created.Rule.ID); !slices.Equal(got, []string{rotated.Secret, created.Secret}) {
		t.Fatalf("during the overlap: %d secrets, want the new one then the previous one", len(got))
	}
	again, err := e.svc.RotateSecret(context.Background(), created.Rule.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := reveal(created.Rule.ID); !slices.Equal(got, []string{again.Secret}) {
		t.Fatalf("without overlap: %d secrets, want the new one", len(got))
	}
	if _, err := e.svc.SigningSecrets(context.Background(), "wr_missing"); !errors.Is(err, resolvers.ErrNotFound) {
		t.Fatalf("unknown rule: %v, want ErrNotFound", err)
	}
}
