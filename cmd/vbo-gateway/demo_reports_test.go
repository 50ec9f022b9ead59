package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// The demo has a report schedule for tenant 1 (period DEMO) delivered to its receiver, and a
// GraphiQL tab that lists it and runs it now: the run's report.ready arrives at the receiver
// signed with the schedule's secret (verified by the receiver), and the run shows as done
// and delivered. Another tenant's admin neither sees nor runs it.
func TestDemoReportScheduleDelivers(t *testing.T) {
	base, fleet, _, logs := demoGateway(t)
	rcv := fleet.Receiver
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "query ReportSchedules") || !strings.Contains(string(page), "runReportScheduleNow") {
		t.Error("GraphiQL has no report schedule tab")
	}
	tab := demo.ReportScheduleTab()
	var headers map[string]string
	if err := json.Unmarshal([]byte(tab.Headers), &headers); err != nil {
		t.Fatal(err)
	}
	key, _ := strings.CutPrefix(headers["Authorization"], "Bearer ")
	type run struct {
		OnDemand   bool
		Status     string
		Deliveries []struct{ Channel, Status string }
	}
	type listed struct {
		ReportSchedules []struct {
			ID, Every  string
			WebhookURL string
			Runs       struct{ Edges []struct{ Node run } }
		}
	}
	var l listed
	mustGQL(t, base, key, tab.Query, "ReportSchedules", nil, &l)
	if len(l.ReportSchedules) != 1 || l.ReportSchedules[0].Every != "DEMO" || l.ReportSchedules[0].WebhookURL != rcv.URL() {
		t.Fatalf("tenant 1's schedules: %+v", l)
	}
	id := l.ReportSchedules[0].ID
	var other listed
	mustGQL(t, base, demo.TenantAdminKey(2), tab.Query, "ReportSchedules", nil, &other)
	if len(other.ReportSchedules) != 0 {
		t.Errorf("tenant 2 sees %+v", other)
	}
	if a := gql(t, base, demo.TenantAdminKey(2), tab.Query, "RunNow", map[string]any{"id": id}); a.code() != "NOT_FOUND" {
		t.Errorf("tenant 2 runs tenant 1's schedule: %+v, want NOT_FOUND", a.Errors)
	}
	var ran struct{ RunReportScheduleNow struct{ OnDemand bool } }
	mustGQL(t, base, key, tab.Query, "RunNow", map[string]any{"id": id}, &ran)
	if !ran.RunReportScheduleNow.OnDemand {
		t.Errorf("run now: %+v", ran)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mustGQL(t, base, key, tab.Query, "ReportSchedules", nil, &l)
		if e := l.ReportSchedules[0].Runs.Edges; len(e) > 0 && e[0].Node.Status == "DONE" && len(e[0].Node.Deliveries) == 1 &&
			e[0].Node.Deliveries[0].Status == "SUCCEEDED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs: %+v\n%s", l.ReportSchedules[0].Runs, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []demo.Delivery
	for _, d := range rcv.Deliveries() {
		if d.Type == demo.ReportReady {
			got = append(got, d)
		}
	}
	if len(got) != 1 || got[0].RuleID != id || got[0].Signature != demo.SignatureVerified {
		t.Fatalf("report deliveries at the receiver: %+v", got)
	}
}
