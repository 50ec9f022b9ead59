package demo

import (
	"encoding/json"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/graphiql"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// KnownMachines are the client machines the demo's watch rule treats as the provider's own.
var KnownMachines = []string{"VBO-CONSOLE01", "VBM365-MGMT", "JUMPHOST01"}

// WatchRuleQuery is the GraphiQL tab that creates a watch rule against the demo receiver (the
// operations CreateWatchRule, TestWatchRule and Deliveries), run as tenant 1's TENANT_ADMIN.
const WatchRuleQuery = `# Watch rules and signed webhooks, against the demo's own receiver (see the headers:
# this tab runs as demo-tenant-1-admin, a TENANT_ADMIN of tenant-1). The receiver checks
# each delivery's signature and logs it in the gateway's log ("demo webhook receiver").
# 1. Run CreateWatchRule. The secret is shown only here; copy rule.id into "id" below.
# 2. Run TestWatchRule: a signed webhook.test delivery arrives at once.
# 3. Wait: each restore that starts in one of tenant-1's organisations from a machine not
#    in the list is delivered (the simulators start one every 20-60 s per server, tenant-1
#    owns 3 of their 36 organisations). Deliveries lists them. With the headers set to
#    demo-admin, CreateWatchRule makes a provider-wide rule: every restore, every server.
mutation CreateWatchRule($url: String!, $knownMachines: [String!]) {
  createWatchRule(input: {
    name: "Restores from a machine we do not know"
    url: $url
    on: STARTED
    clientMachineNotIn: $knownMachines
  }) {
    secret
    rule { id name tenant on url enabled }
  }
}

mutation TestWatchRule($id: ID!) {
  testWatchRule(id: $id) { status eventType attempts { statusCode } }
}

query Deliveries($id: ID!) {
  webhookDeliveries(ruleId: $id, first: 10) {
    totalCount
    edges { node { status eventType sessionId attempts { statusCode } } }
  }
}
`

// WatchRuleTab is GraphiQL's watch-rule tab for the receiver at receiverURL.
func WatchRuleTab(receiverURL string) graphiql.Tab {
	vars, _ := json.MarshalIndent(map[string]any{"url": receiverURL, "knownMachines": KnownMachines, "id": "paste rule.id here"}, "", "  ")
	headers, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + TenantAdminKey(1)})
	return graphiql.Tab{Query: WatchRuleQuery, Variables: string(vars), Headers: string(headers)}
}

// ReportTenant is the tenant the demo's report schedule belongs to (demo tenant 1).
const ReportTenant = "tenant-1"

// ReportSchedule is the demo's report schedule: tenant 1's restore audit every DEMO period
// (a few minutes), by initiator and organisation, delivered to the receiver at receiverURL.
func ReportSchedule(receiverURL string) model.ReportScheduleInput {
	return model.ReportScheduleInput{Name: "Demo: tenant 1's restores, every few minutes", Every: model.ReportPeriodDemo,
		TimeZone: "UTC", WebhookURL: &receiverURL,
		GroupBy: []model.RestoreAuditDimension{model.RestoreAuditDimensionInitiatedBy, model.RestoreAuditDimensionOrganization}}
}

// ReportScheduleQuery is the GraphiQL tab of the demo's report schedule (the operations
// ReportSchedules and RunNow), run as tenant 1's TENANT_ADMIN.
const ReportScheduleQuery = `# Scheduled restore audit reports (docs/reports.md). The demo made one for tenant-1 that
# runs every few minutes (period DEMO, allowed only in --demo) and sends a signed report.ready
# webhook to the demo's receiver, which logs it ("demo webhook receiver", type report.ready).
# 1. Run ReportSchedules: the schedule, its next run and its runs with their deliveries.
# 2. Copy a schedule's id into "id" below and run RunNow: the period that ends now is reported
#    at once (onDemand), then shows in ReportSchedules.
query ReportSchedules {
  reportSchedules {
    id name every nextRunAt webhookUrl
    runs(first: 5) {
      edges { node { from to onDemand status complete rows sessions deliveries { channel status attempts error } } }
    }
  }
}

mutation RunNow($id: ID!) {
  runReportScheduleNow(id: $id) { id from to onDemand status }
}
`

// ReportScheduleTab is GraphiQL's report schedule tab.
func ReportScheduleTab() graphiql.Tab {
	vars, _ := json.MarshalIndent(map[string]any{"id": "paste a schedule's id here"}, "", "  ")
	headers, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + TenantAdminKey(1)})
	return graphiql.Tab{Query: ReportScheduleQuery, Variables: string(vars), Headers: string(headers)}
}

// RestoreQuery is the GraphiQL tab of the restore front door (docs/restore-front-door.md): the
// operations StartRestoreSession, Browse and StopRestoreSession, run as tenant 1's
// RESTORE_OPERATOR.
const RestoreQuery = `# Restores through the gateway, recorded against the person (see the headers: this tab
# runs as demo-tenant-1-operator, a RESTORE_OPERATOR of tenant-1; demo-tenant-1 (an auditor)
# is refused with FORBIDDEN, another tenant's operator gets NOT_FOUND).
# 1. Run StartRestoreSession: VBO's Explore, recorded with your reason before VBO is called.
#    Copy the session's id into "session" below.
# 2. Run Browse: a page of mailboxes, each mailbox's folders and a few items of each
#    folder; every page is one VBO call, recorded. Page on with endCursor as "after".
# 3. Run StopRestoreSession, then Browse again: attribution and every recorded step remain,
#    browse is null. Sessions idle for restore.idleTimeout are stopped by the reaper.
mutation StartRestoreSession($org: ID!, $reason: String!) {
  startRestoreSession(input: {organizationId: $org, type: EXCHANGE, reason: $reason}) {
    id name state organization { name }
    attribution { throughGateway person reason }
  }
}

query Browse($session: ID!, $after: String) {
  restoreSession(id: $session, live: true) {
    state
    attribution {
      person tenant reason
      actions(first: 20) { edges { node { position kind summary status upstreamStatus startTime } } }
    }
    browse {
      mailboxes(first: 3, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { node { id name email
          folders: children(kind: MAIL_FOLDER, first: 5) { edges { node { name
            items: children(kind: MAIL_ITEM, first: 3) { edges { node { name itemType sizeBytes modified } } }
          } } }
        } }
      }
    }
  }
}

mutation StopRestoreSession($session: ID!) {
  stopRestoreSession(id: $session) { id state endTime attribution { throughGateway person } }
}
`

// RestoreTab is GraphiQL's restore tab, starting sessions on the organisation orgID (an
// upstream id) of server, one of tenant 1's.
func RestoreTab(server, orgID string) graphiql.Tab {
	org := gid.ID{Kind: gid.KindOrganization, Server: server, Upstream: orgID}.String()
	vars, _ := json.MarshalIndent(map[string]any{"org": org, "reason": "Ticket 4711: the user deleted the March invoices folder",
		"session": "paste the session's id here"}, "", "  ")
	headers, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + TenantOperatorKey(1)})
	return graphiql.Tab{Query: RestoreQuery, Variables: string(vars), Headers: string(headers)}
}

// RestoreTabFor is the restore tab on the fleet: tenant 1's first organisation.
func (f *Fleet) RestoreTabFor() (graphiql.Tab, bool) {
	for _, t := range f.Config.Tenants {
		if t.ID != "tenant-1" || len(t.Organizations) == 0 {
			continue
		}
		o := t.Organizations[0]
		sim, ok := f.Sims[o.Server]
		if !ok {
			return graphiql.Tab{}, false
		}
		for _, org := range sim.Organizations() {
			if org.Name == o.Name {
				return RestoreTab(o.Server, org.ID), true
			}
		}
	}
	return graphiql.Tab{}, false
}
