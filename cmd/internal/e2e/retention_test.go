package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// With a short webhooks.historyRetention, the delivery history a tenant reads through GraphQL
// loses its old finished deliveries while a pending one (waiting an hour for its retry) stays;
// the pruned deliveries are counted in /metrics.
func TestDeliveryHistoryRetention(t *testing.T) {
	t.Parallel()
	_, gw := watchGateway(t, 5, func(c *config.Config) {
		c.Auth.APIKeys = append(c.Auth.APIKeys,
			config.APIKey{Name: "t1-admin", SHA256: demo.KeySHA256(t1AdminKey), Tenant: "tenant-1", Role: "TENANT_ADMIN"})
		// Long enough that the two deliveries made below are surely still there when the
		// history is first read (the retention runs every second), short for the test.
		keep := 3 * time.Second
		c.Webhooks = config.Webhooks{AllowHTTP: true, AllowPrivateNetworks: []string{"127.0.0.0/8"},
			RetrySchedule: []time.Duration{0, time.Hour}, HistoryRetention: &keep}
	})
	ok := newHookReceiver(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(down.Close)
	newRule := func(name, url string) string {
		var created struct {
			CreateWatchRule struct{ Rule struct{ ID string } }
		}
		mustPost(t, gw, t1AdminKey, createRule, map[string]any{"in": map[string]any{"name": name, "url": url, "on": "ENDED"}}, &created)
		return created.CreateWatchRule.Rule.ID
	}
	delivered, retried := newRule("delivered", ok.URL), newRule("retried", down.URL)

	const testRule = `mutation($id: ID!) { testWatchRule(id: $id) { id status } }`
	type testResult struct{ TestWatchRule struct{ ID, Status string } }
	// A failed test delivery, redelivered: PENDING, its next attempt an hour away.
	var failed testResult
	mustPost(t, gw, t1AdminKey, testRule, map[string]any{"id": retried}, &failed)
	if failed.TestWatchRule.Status != "FAILED" {
		t.Fatalf("test delivery to a receiver that is down: %+v", failed)
	}
	var redelivered struct{ RedeliverWebhook struct{ Status string } }
	mustPost(t, gw, t1AdminKey, `mutation($id: ID!) { redeliverWebhook(id: $id) { status } }`, map[string]any{"id": failed.TestWatchRule.ID}, &redelivered)

	type history struct {
		WebhookDeliveries struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID, Status    string
					Attempts      []struct{ StatusCode *int }
					NextAttemptAt *string
				}
			}
		}
	}
	const historyQ = `query($id: ID!) { webhookDeliveries(ruleId: $id) { totalCount edges { node { id status attempts { statusCode } nextAttemptAt } } } }`
	read := func(rule string) history { // as the tenant's auditor
		var h history
		mustPost(t, gw, demo.TenantKeyPrefix+"1", historyQ, map[string]any{"id": rule}, &h)
		return h
	}
	waitFor(t, 30*time.Second, func() bool { // the redelivery's attempt
		h := read(retried)
		return h.WebhookDeliveries.TotalCount == 1 && len(h.WebhookDeliveries.Edges[0].Node.Attempts) == 2
	})
	// Two delivered messages, newer than the pending one.
	for range 2 {
		var r testResult
		mustPost(t, gw, t1AdminKey, testRule, map[string]any{"id": delivered}, &r)
		if r.TestWatchRule.Status != "SUCCEEDED" {
			t.Fatalf("test delivery: %+v", r)
		}
	}
	if n := read(delivered).WebhookDeliveries.TotalCount; n != 2 {
		t.Fatalf("history before the retention ran: %d deliveries, want 2", n)
	}
	// Once the retention has pruned them, it has also seen the pending one, older still.
	waitFor(t, 30*time.Second, func() bool { return read(delivered).WebhookDeliveries.TotalCount == 0 })
	h := read(retried)
	if h.WebhookDeliveries.TotalCount != 1 {
		t.Fatalf("pending history: %+v", h)
	}
	n := h.WebhookDeliveries.Edges[0].Node
	if n.ID != failed.TestWatchRule.ID || n.Status != "PENDING" || n.NextAttemptAt == nil || len(n.Attempts) != 2 {
		t.Fatalf("the pending delivery: %+v", n)
	}
	if got := scrape(t, asAdmin(gw.Handler))["vbo_gateway_webhook_deliveries_pruned_total"]; got != 2 {
		t.Fatalf("vbo_gateway_webhook_deliveries_pruned_total = %v, want 2", got)
	}
}
