package demo

import (
	"encoding/json"
	"fmt"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
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

// RestoreActionsQuery is the GraphiQL tab of the restore item actions (issue 25,
// docs/restore-front-door.md): a message downloaded through a one-time link and one restored to
// another folder, run as tenant 1's RESTORE_OPERATOR.
const RestoreActionsQuery = `# Restore actions through the gateway: data leaves only through the gateway, each item
# recorded against you before VBO is called (headers: demo-tenant-1-operator).
# 1. Run StartRestoreSession; copy its id into "session".
# 2. Run Items: a mailbox's messages with their ids; copy one id into "item" and a mailbox
#    address of the organisation into "target".
# 3. Run DownloadMessage: it answers a one-time URL (bound to you, expiring in minutes). Fetch
#    it once with the same Authorization header, e.g.
#      curl -H 'Authorization: Bearer demo-tenant-1-operator' -o message.msg http://localhost:8080<url>
#    A second fetch answers 410; anyone else 404. The record then holds the bytes and SHA-256.
# 4. Run RestoreToFolder: the message restored into the target mailbox's folder "Recovered by
#    the gateway" (same organisation only; VBO's Microsoft 365 credentials come from the
#    gateway's configuration). Run it again: the same idempotencyKey answers the first result.
# 5. Run Actions: every step, item by item, with VBO's own item events once the watch has
#    archived them.
mutation StartRestoreSession($org: ID!, $reason: String!) {
  startRestoreSession(input: {organizationId: $org, type: EXCHANGE, reason: $reason}) { id state }
}

query Items($session: ID!) {
  restoreSession(id: $session, live: true) {
    browse {
      mailboxes(first: 2) { edges { node { name email
        folders: children(kind: MAIL_FOLDER, first: 1) { edges { node { name
          items: children(kind: MAIL_ITEM, first: 3) { edges { node { id name sizeBytes } } }
        } } }
      } } }
    }
  }
}

mutation DownloadMessage($session: ID!, $item: ID!, $reason: String!) {
  downloadRestoreItems(input: {sessionId: $session, itemIds: [$item], reason: $reason, idempotencyKey: "demo-download-1"}) {
    url expiresAt action { id kind status items { name } }
  }
}

mutation RestoreToFolder($session: ID!, $item: ID!, $target: String!, $reason: String!) {
  restoreItemsTo(input: {sessionId: $session, itemIds: [$item], target: $target, folder: "Recovered by the gateway",
      reason: $reason, idempotencyKey: "demo-restore-1"}) {
    state counts { created merged skipped failed } warnings
    action { id kind status target items { name upstreamId } }
  }
}

query Actions($session: ID!) {
  restoreSession(id: $session, live: true) {
    attribution { actions(first: 50) { edges { node { kind person summary status target bytes sha256
      counts { created failed } items { name } events { type itemName startTime } } } } }
  }
}
`

// RestoreActionsTab is GraphiQL's restore actions tab on the organisation orgID of server.
func RestoreActionsTab(server, orgID string) graphiql.Tab {
	org := gid.ID{Kind: gid.KindOrganization, Server: server, Upstream: orgID}.String()
	vars, _ := json.MarshalIndent(map[string]any{"org": org, "reason": "Ticket 4712: restore the lost invoice mail",
		"session": "paste the session's id here", "item": "paste a message's id here", "target": "paste a mailbox address here"}, "", "  ")
	headers, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + TenantOperatorKey(1)})
	return graphiql.Tab{Query: RestoreActionsQuery, Variables: string(vars), Headers: string(headers)}
}

// RestoreActionsTabFor is the restore actions tab on the fleet: tenant 1's first organisation.
func (f *Fleet) RestoreActionsTabFor() (graphiql.Tab, bool) {
	tab, ok := f.RestoreTabFor()
	if !ok {
		return tab, false
	}
	var vars map[string]any
	if err := json.Unmarshal([]byte(tab.Variables), &vars); err != nil {
		return graphiql.Tab{}, false
	}
	id, err := gid.ParseKind(fmt.Sprint(vars["org"]), gid.KindOrganization)
	if err != nil {
		return graphiql.Tab{}, false
	}
	return RestoreActionsTab(id.Server, id.Upstream), true
}

// DemoRestorePassword is the Microsoft 365 password the demo configures for every
// organisation's restores (the simulator accepts any): a real deployment reads it from an
// environment variable or a file (restore.organizations[].credentials).
const DemoRestorePassword = "demo-m365-password"

// RestoreOrganizations are the demo's restore.organizations: every simulated organisation
// with user credentials, so restores to another or the original location can run.
func (f *Fleet) RestoreOrganizations() []config.RestoreOrg {
	creds := config.M365Credentials{UserName: "restore-admin@demo.invalid"}
	var out []config.RestoreOrg
	for _, name := range Names {
		sim, ok := f.Sims[name]
		if !ok {
			continue
		}
		for _, o := range sim.Organizations() {
			out = append(out, config.RestoreOrg{Server: name, ID: o.ID, Credentials: creds.WithSecrets("", "", DemoRestorePassword)})
		}
	}
	return out
}
