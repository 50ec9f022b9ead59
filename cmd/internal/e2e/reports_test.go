package e2e_test

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report/mail/mailtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

const (
	createSchedule = `mutation($in: ReportScheduleInput!) { createReportSchedule(input: $in) { secret schedule { id tenant email webhookUrl } } }`
	listSchedules  = `{ reportSchedules { id runs(first: 10) { edges { node { id onDemand status complete rows deliveries { channel target status attempts error } } } } } }`
	runNow         = `mutation($id: ID!) { runReportScheduleNow(id: $id) { id onDemand status } }`
)

// A tenant admin schedules a report over GraphQL, to a webhook and an email address, and runs
// it now: the webhook arrives signed with the schedule's secret, the email arrives at the SMTP
// server with the CSV attached, and that CSV is the webhook's and the export's for the same
// window and the tenant's scope; the run and its deliveries show under reportSchedules.
// Another tenant cannot see, run or delete the schedule; an address outside the tenant's
// email domains is refused. On SQLite and PostgreSQL (skipped, saying so, without one).
func TestReportScheduleEndToEnd(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			var dsn string
			if engine == "postgres" {
				dsn = pgtest.DSN(t) // skips without PostgreSQL
			}
			sink := mailtest.Start(t, mailtest.Options{})
			rcv := newHookReceiver(t)
			host, port, _ := net.SplitHostPort(sink.Addr)
			smtpPort, _ := strconv.Atoi(port)
			fleet, gw := rulesGatewayWith(t, 30, func(c *config.Config) {
				if dsn != "" {
					c.Store = config.Store{Driver: "postgres", DSNEnv: "UNUSED"}.WithDSN(dsn)
				}
				c.Email.SMTP = config.SMTP{Host: host, Port: smtpPort, From: "Restore reports <reports@provider.example>"}
				for i := range c.Tenants {
					if c.Tenants[i].ID == "tenant-1" {
						c.Tenants[i].EmailDomains = []string{"contoso.example"}
					}
				}
			})
			waitBackfill(t, gw)
			in := map[string]any{"name": "daily restores", "every": "DAY", "timeZone": "UTC",
				"groupBy": []string{"INITIATED_BY", "ORGANIZATION"}, "webhookUrl": rcv.URL + "/reports", "email": []string{"ops@contoso.example"}}

			// The tenant's email domains bound its recipients.
			if r := post(t, gw, t1AdminKey, createSchedule, map[string]any{"in": with(in, "email", []string{"ops@fabrikam.example"})}); r.code() != "BAD_USER_INPUT" {
				t.Fatalf("a recipient outside tenant-1's domains: %+v, want BAD_USER_INPUT", r.Errors)
			}
			var created struct {
				CreateReportSchedule struct {
					Secret   string
					Schedule struct{ ID, Tenant string }
				}
			}
			mustPost(t, gw, t1AdminKey, createSchedule, map[string]any{"in": in}, &created)
			id, secret := created.CreateReportSchedule.Schedule.ID, created.CreateReportSchedule.Secret
			if created.CreateReportSchedule.Schedule.Tenant != "tenant-1" || !strings.HasPrefix(secret, "whsec_") {
				t.Fatalf("created %+v", created)
			}

			// Another tenant neither sees, runs nor deletes it.
			for name, q := range map[string]string{
				"run":    runNow,
				"delete": `mutation($id: ID!) { deleteReportSchedule(id: $id) }`,
				"update": `mutation($id: ID!) { updateReportSchedule(id: $id, input: {name: "x", every: DAY, timeZone: "UTC", groupBy: []}) { id } }`,
			} {
				if r := post(t, gw, t2AdminKey, q, map[string]any{"id": id}); r.code() != "NOT_FOUND" {
					t.Errorf("tenant-2 %s: %+v, want NOT_FOUND", name, r.Errors)
				}
			}
			var other struct{ ReportSchedules []struct{ ID string } }
			mustPost(t, gw, t2AdminKey, listSchedules, nil, &other)
			if len(other.ReportSchedules) != 0 {
				t.Errorf("tenant-2 lists %+v", other.ReportSchedules)
			}

			var ran struct{ RunReportScheduleNow struct{ ID string } }
			mustPost(t, gw, t1AdminKey, runNow, map[string]any{"id": id}, &ran)
			type runNode struct {
				ID, Status string
				OnDemand   bool
				Rows       int
				Deliveries []struct{ Channel, Target, Status string }
			}
			var listed struct {
				ReportSchedules []struct {
					ID   string
					Runs struct{ Edges []struct{ Node runNode } }
				}
			}
			settled := func() bool {
				mustPost(t, gw, t1AdminKey, listSchedules, nil, &listed)
				if len(listed.ReportSchedules) != 1 || len(listed.ReportSchedules[0].Runs.Edges) != 1 {
					return false
				}
				n := listed.ReportSchedules[0].Runs.Edges[0].Node
				ok := n.Status == "DONE" && len(n.Deliveries) == 2
				for _, d := range n.Deliveries {
					ok = ok && d.Status == "SUCCEEDED"
				}
				return ok
			}
			waitFor(t, 30*time.Second, settled, "the run and its deliveries: ", lazy(func() string { b, _ := json.Marshal(listed); return string(b) }))
			run := listed.ReportSchedules[0].Runs.Edges[0].Node
			if run.ID != ran.RunReportScheduleNow.ID || !run.OnDemand || run.Rows == 0 {
				t.Errorf("run %+v, want the on-demand run %s with rows", run, ran.RunReportScheduleNow.ID)
			}

			// The webhook: signed with the schedule's secret, carrying the CSV.
			rcv.mu.Lock()
			hooks := slices.Clone(rcv.got)
			rcv.mu.Unlock()
			if len(hooks) != 1 {
				t.Fatalf("%d webhooks, want 1", len(hooks))
			}
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(hooks[0].body, hooks[0].h); err != nil {
				t.Errorf("the report.ready webhook does not verify with the schedule's secret: %v", err)
			}
			var p struct {
				Type string
				Data struct {
					ScheduleID, RunID string
					Period            struct{ From, To time.Time }
					CSV               string
				}
			}
			if err := json.Unmarshal(hooks[0].body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != "report.ready" || p.Data.ScheduleID != id || p.Data.RunID != run.ID || p.Data.CSV == "" {
				t.Fatalf("payload %+v", p)
			}

			// The email: to the recipient, with the CSV attached.
			msgs := sinkMessages(sink)
			if len(msgs) != 1 || len(msgs[0].Rcpts) != 1 || msgs[0].Rcpts[0] != "ops@contoso.example" {
				t.Fatalf("emails %+v, want one to ops@contoso.example", msgs)
			}
			var attached []byte
			for name, b := range mailtest.Attachments(t, msgs[0].Data) {
				if strings.HasSuffix(name, ".csv") {
					attached = b
				}
			}

			// The export for the same window and scope (the same tenant) is the same CSV.
			w := httptest.NewRecorder()
			gw.Handler.ServeHTTP(w, exportRequest(demo.TenantKey(1), "/export/restore-audit.csv", url.Values{
				"from": {rfc(p.Data.Period.From)}, "to": {rfc(p.Data.Period.To)}, "groupBy": {"INITIATED_BY,ORGANIZATION"}, "partial": {"true"}}))
			if w.Code != 200 {
				t.Fatalf("export: %d %s", w.Code, w.Body)
			}
			export := w.Body.String()
			if p.Data.CSV != export {
				t.Errorf("the webhook's CSV differs from the export:\n%s\nwant\n%s", p.Data.CSV, export)
			}
			if string(attached) != export {
				t.Errorf("the email's CSV differs from the export:\n%s\nwant\n%s", attached, export)
			}
			// Only tenant-1's organisations are in it.
			for _, tn := range fleet.Config.Tenants {
				if tn.ID == "tenant-1" {
					continue
				}
				for _, o := range tn.Organizations {
					if o.Name != "" && strings.Contains(export, o.Name) {
						t.Errorf("tenant-1's report holds %s's organisation %q", tn.ID, o.Name)
					}
				}
			}
		})
	}
}

func sinkMessages(s *mailtest.Sink) []mailtest.Message {
	msgs, _ := s.Messages()
	return msgs
}
