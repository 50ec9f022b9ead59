package httpapi

import "github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/graphiql"

// Examples are the named operations GraphiQL opens with, one tab each. Every one runs within
// the default limits for a provider admin and a tenant, and none shows null first thing (see
// TestExamplesRun in cmd/internal/app).
var Examples = []graphiql.Tab{
	{Query: `# Who restored what, from which machine, newest first, across every server.
# extensions.cost (below the data) says what the query cost.
query WhoRestoredWhatFromWhere {
  restoreSessions(first: 10) {
    edges {
      node {
        startTime
        type
        result
        initiatedBy
        clientHost { machineName viaAddress }
        organization { name server { name } }
        events(first: 5) {
          totalCount
          edges { node { type status itemName source target itemSizeBytes } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`},
	{Query: `# A portal dashboard: every organisation you can see, with its latest restores.
query Dashboard {
  organizations(first: 20) {
    totalCount
    edges {
      node {
        name
        server { name }
        isBackedUp
        lastBackupTime
        restoreSessions(first: 3) {
          edges { node { startTime type result initiatedBy } }
        }
      }
    }
  }
}
`},
	{Query: `# Paging: run it, copy pageInfo.endCursor into the variables as "after", run it
# again. The cursor records each server's position: page 2 continues where page 1 ended.
query NextPage($after: String) {
  restoreSessions(first: 25, after: $after) {
    edges { node { startTime organization { name } type initiatedBy result } }
    pageInfo { hasNextPage endCursor }
  }
}
`, Variables: `{"after": null}`},
	{Query: `# A tenant's view: who you are and the organisations you may see. In the demo, set
# the headers to {"Authorization": "Bearer demo-tenant-1"} to see what a tenant sees.
query TenantView {
  viewer {
    subject
    role
    tenant
    organizations {
      name
      server { name }
      restoreSessions(first: 5) {
        edges { node { startTime type result initiatedBy clientHost { machineName } } }
      }
    }
  }
}
`},
}
