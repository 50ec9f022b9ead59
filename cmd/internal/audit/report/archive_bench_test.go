package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// benchSessions is the archive size the restore audit is measured at.
const benchSessions = 100_000

var (
	benchServers = []string{"syd1", "mel1", "akl1"}
	benchEnd     = archiveBase.Add(90 * 24 * time.Hour)
)

// benchOrg is organisation i (of 20): Org-i on server i mod 3.
func benchOrg(i int) (server, id string) { return benchServers[i%3], fmt.Sprintf("Org-%d", i) }

// fillBenchArchive archives n sessions spread over 20 organisations on three servers, 90 days,
// a few initiators and client machines, with item totals and the text VBO records.
func fillBenchArchive(b *testing.B, st *store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 7))
	types := []upstream.RestoreSessionType{"Vex", "Veod", "Vesp", "Vet"}
	results := []upstream.RestoreSessionResult{"Success", "Success", "Success", "Warning", "Failed"}
	hosts := []string{"ADMIN-PC01 (via: 198.51.100.7)", "ADMIN-PC02 (via: 198.51.100.7)", "VBO-CONSOLE", "HELPDESK-07 (via: 203.0.113.9)", "LAPTOP-X1", ""}
	eventTypes := []upstream.RestoreEventType{upstream.EventTypeView, upstream.EventTypeExport, upstream.EventTypeSave, upstream.EventTypeRestore}
	users := []string{"CONTOSO\\alice", "CONTOSO\\bob", "FABRIKAM\\carol", "svc-restore", "CONTOSO\\dave"}
	details := strings.Repeat("Restore of mailbox items completed with item-level detail. ", 4)
	perServer := map[string][]store.Change{}
	for i := range n {
		org := r.IntN(20)
		server, orgID := benchOrg(org)
		start := archiveBase.Add(time.Duration(r.Int64N(int64(90 * 24 * time.Hour))))
		end := start.Add(time.Duration(r.IntN(3600)) * time.Second)
		s := upstream.RestoreSession{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Organization: fmt.Sprintf("Org %d", org),
			Name: "Restore session " + fmt.Sprint(i), Type: types[r.IntN(len(types))], State: upstream.SessionStateStopped,
			Result: results[r.IntN(len(results))], CreationTime: start, EndTime: &end, InitiatedBy: users[r.IntN(len(users))],
			ClientHost: hosts[r.IntN(len(hosts))], ScopeName: "Backup job " + fmt.Sprint(org), Reason: "Ticket #" + fmt.Sprint(i%997),
			Details: details}
		events := make([]upstream.RestoreSessionEvent, r.IntN(3)) // item totals come from the events
		for j := range events {
			size := r.Int64N(1 << 26)
			events[j] = upstream.RestoreSessionEvent{ID: fmt.Sprintf("%x-%d", i, j), Type: eventTypes[r.IntN(len(eventTypes))],
				Status: "Success", StartTime: start.Add(time.Duration(j) * time.Second), Order: j, ItemName: "Quarterly report.docx",
				ItemType: "File", ItemSizeBytes: &size, Source: "ceo@contoso.com"}
		}
		ch := upstream.ParseClientHost(s.ClientHost)
		perServer[server] = append(perServer[server], store.Change{Session: store.Session{Server: server, Session: s, OrgID: orgID,
			ClientMachine: ch.MachineName, ViaAddress: ch.ViaAddress, EventsRead: len(events), EventsComplete: true}, NewEvents: events})
	}
	for _, server := range benchServers {
		if _, err := st.EnsureServer(ctx, server, archiveBase); err != nil {
			b.Fatal(err)
		}
		l, ok, err := st.AcquireLease(ctx, server, "bench", time.Hour)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		changes := perServer[server]
		for len(changes) > 0 {
			batch := changes[:min(len(changes), 2000)]
			changes = changes[len(batch):]
			if err := st.Archive(ctx, l, batch, store.Checkpoint{BackfillDone: true, HighWater: benchEnd}, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.SetPolled(ctx, l, benchEnd, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestoreAudit measures restoreAudit over 100,000 archived sessions, per engine, for
// the report's usual shapes. A benchmark only (the archive takes a while to fill):
//
//	go test ./cmd/internal/audit/report/ -run '^$' -bench RestoreAudit -count 5
func BenchmarkRestoreAudit(b *testing.B) {
	all := func(string, string) bool { return true }
	tenant := map[[2]string]bool{}
	var tenantServers []string
	for _, i := range []int{1, 4, 8} { // three organisations on two servers
		server, id := benchOrg(i)
		tenant[[2]string{server, id}] = true
		if !strings.Contains(strings.Join(tenantServers, ","), server) {
			tenantServers = append(tenantServers, server)
		}
	}
	inTenant := func(server, org string) bool { return tenant[[2]string{server, org}] }
	last30 := benchEnd.Add(-30 * 24 * time.Hour)
	shapes := []struct {
		name string
		q    resolvers.AuditQuery
	}{
		{"30d-by-day", resolvers.AuditQuery{From: last30, To: benchEnd, Servers: benchServers, InScope: all,
			GroupBy: []model.RestoreAuditDimension{model.RestoreAuditDimensionDay}}},
		{"30d-by-initiator-machine", resolvers.AuditQuery{From: last30, To: benchEnd, Servers: benchServers, InScope: all,
			GroupBy: []model.RestoreAuditDimension{model.RestoreAuditDimensionInitiatedBy, model.RestoreAuditDimensionClientMachine}}},
		{"30d-tenant-3-orgs-by-day", resolvers.AuditQuery{From: last30, To: benchEnd, Servers: tenantServers, InScope: inTenant,
			GroupBy: []model.RestoreAuditDimension{model.RestoreAuditDimensionDay}}},
		{"90d-by-org", resolvers.AuditQuery{From: archiveBase, To: benchEnd, Servers: benchServers, InScope: all,
			GroupBy: []model.RestoreAuditDimension{model.RestoreAuditDimensionOrganization}}},
	}
	for _, eng := range storetest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			ctx := context.Background()
			st := storetest.Open(b, eng.Options(b))
			fillBenchArchive(b, st, benchSessions)
			a, err := NewArchive(st, ArchiveOptions{})
			if err != nil {
				b.Fatal(err)
			}
			for _, sh := range shapes {
				b.Run(sh.name, func(b *testing.B) {
					res, err := a.RestoreAudit(ctx, sh.q)
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Rows) == 0 {
						b.Fatal("no rows")
					}
					for b.Loop() {
						if _, err := a.RestoreAudit(ctx, sh.q); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
