package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var archiveBase = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// fillArchive archives n random sessions over two servers and ten days, with detached
// organisations and enum values VBO may add later.
func fillArchive(t *testing.T, st *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(42, 42))
	types := []upstream.RestoreSessionType{"Vex", "Veod", "Vesp", "Vet", "Vnew"}
	results := []upstream.RestoreSessionResult{"Success", "Warning", "Failed", "Odd"}
	states := []upstream.RestoreSessionState{"Working", "Stopped"}
	hosts := []string{"PC1 (via: 198.51.100.7)", "PC1", "pc2 (via: 203.0.113.9)", "", "=HYPERLINK(1)"}
	users := []string{"CONTOSO\\alice", "CONTOSO\\bob", ""}
	for _, server := range []string{"syd1", "mel1"} {
		if _, err := st.EnsureServer(ctx, server, archiveBase); err != nil {
			t.Fatal(err)
		}
		l, ok, err := st.AcquireLease(ctx, server, "test", time.Hour)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		var changes []store.Change
		for i := range n / 2 {
			org := r.IntN(4)
			orgID := fmt.Sprintf("Org-%d", org)
			if org == 3 {
				orgID = "" // detached
			}
			s := upstream.RestoreSession{ID: fmt.Sprintf("%s-%d", server, i), Organization: fmt.Sprintf("Org %d", org),
				Type: types[r.IntN(len(types))], Result: results[r.IntN(len(results))], State: states[r.IntN(2)],
				CreationTime: archiveBase.Add(time.Duration(r.IntN(10*24*3600)) * time.Second).Add(time.Duration(r.IntN(1e9))),
				InitiatedBy:  users[r.IntN(len(users))], ClientHost: hosts[r.IntN(len(hosts))]}
			ch := upstream.ParseClientHost(s.ClientHost)
			c := store.Change{Session: store.Session{Server: server, Session: s, OrgID: orgID,
				ClientMachine: ch.MachineName, ViaAddress: ch.ViaAddress,
				Totals: store.Totals{Items: int64(r.IntN(100)), Bytes: int64(r.IntN(1 << 40))}}}
			if person := []string{"", "alice", "=bob"}[i%3]; person != "" { // the gateway's, joined by the watcher
				c.Attribution = &store.Attribution{ThroughGateway: true, Person: person, Reason: "ticket " + person}
			}
			changes = append(changes, c)
		}
		if err := st.Archive(ctx, l, changes, store.Checkpoint{}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// archiveTenants owns fillArchive's organisations as the tenant directory would: Org-0 on both
// servers is tenant-a's, Org-1 on syd1 tenant-b's, Org-2 on mel1 tenant-c's; the rest (and the
// detached ones) are no tenant's. Ids compare ignoring case, as the directory compares them.
func archiveTenantOf(server, orgID string) (string, bool) {
	t, ok := map[[2]string]string{{"syd1", "org-0"}: "tenant-a", {"mel1", "org-0"}: "tenant-a", {"syd1", "org-1"}: "tenant-b",
		{"mel1", "org-2"}: "tenant-c"}[[2]string{server, strings.ToLower(orgID)}]
	return t, ok
}

// archiveTenantScope is a tenant's scope under archiveTenantOf.
func archiveTenantScope(tenant string) func(server, orgID string) bool {
	return func(server, orgID string) bool { t, ok := archiveTenantOf(server, orgID); return ok && t == tenant }
}

// The database's grouping answers exactly what reading every session and matching it in Go
// answers, for every combination of dimensions (TENANT among them), a spread of filters and
// scopes, and windows of whole days (the per-day rollup), of partial days at both edges (the
// rollup and the sessions) and shorter than a day (the sessions).
func TestGroupedPathEqualsExactPath(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			fillArchive(t, st, 800)
			a, err := NewArchive(st, ArchiveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			orgID := func(server, id string) string {
				return gid.ID{Kind: gid.KindOrganization, Server: server, Upstream: id}.String()
			}
			mid := archiveBase.Add(4 * 24 * time.Hour)
			offMid := mid.Add(13*time.Hour + 7*time.Minute + 1) // not on a day's edge
			filters := []*model.RestoreSessionFilter{
				nil,
				{Types: []model.RestoreSessionType{model.RestoreSessionTypeExchange, model.RestoreSessionTypeUnknown}},
				{Results: []model.RestoreSessionResult{model.RestoreSessionResultFailed}, States: []model.RestoreSessionState{model.RestoreSessionStateStopped}},
				{Results: []model.RestoreSessionResult{model.RestoreSessionResultUnknown}},
				{OrganizationIds: []string{orgID("syd1", "org-1"), orgID("mel1", "Org-2")}},
				{OrganizationIds: []string{}},
				{StartTimeFrom: &mid},
				{StartTimeTo: &mid, Types: []model.RestoreSessionType{model.RestoreSessionTypeTeams}},
				{StartTimeFrom: &offMid, Results: []model.RestoreSessionResult{model.RestoreSessionResultSuccess}},
				{StartTimeTo: &offMid},
			}
			scopes := map[string]func(string, string) bool{
				"admin":  func(string, string) bool { return true },
				"tenant": func(server, org string) bool { return server == "syd1" && (org == "Org-0" || org == "Org-1") },
			}
			dimSets := [][]Dimension{nil}
			for _, d := range AllDimensions {
				dimSets = append(dimSets, []Dimension{d})
			}
			dimSets = append(dimSets, []Dimension{ByOrganization, ByDay}, []Dimension{ByInitiatedBy, ByClientMachine, ByViaAddress},
				[]Dimension{ByTenant, ByOrganization}, []Dimension{ByTenant, ByDay, ByResult}, []Dimension{ByPerson, ByTenant}, AllDimensions)
			// Whole days (read from the per-day rollup), partial days at both edges (the rollup
			// and the sessions), and less than a day (the sessions alone).
			windows := [][2]time.Time{{archiveBase.Add(24 * time.Hour), archiveBase.Add(8 * 24 * time.Hour)},
				{archiveBase.Add(29*time.Hour + 17*time.Minute), archiveBase.Add(7*24*time.Hour + 5*time.Hour + 1)},
				{archiveBase.Add(50 * time.Hour), archiveBase.Add(60 * time.Hour)}}
			for wi, win := range windows {
				from, to := win[0], win[1]
				for scopeName, inScope := range scopes {
					for fi, f := range filters {
						for _, dims := range dimSets {
							gd := make([]model.RestoreAuditDimension, len(dims))
							for i, d := range dims {
								gd[i] = model.RestoreAuditDimension(d)
							}
							q := resolvers.AuditQuery{From: from, To: to, Filter: f, GroupBy: gd, Servers: []string{"syd1", "mel1"}, InScope: inScope,
								TenantOf: archiveTenantOf}
							exact, _ := NewAggregator(dims, q.TenantOf)
							if err := a.Sessions(context.Background(), q, func(s *match.Session) error { exact.Add(s); return nil }); err != nil {
								t.Fatal(err)
							}
							grouped, _ := NewAggregator(dims, q.TenantOf)
							if err := a.groups(context.Background(), q, dims, grouped.AddGroup); err != nil {
								t.Fatal(err)
							}
							want, _ := exact.Rows()
							got, _ := grouped.Rows()
							if !reflect.DeepEqual(got, want) {
								t.Fatalf("window %d, %s, filter %d, dims %v: grouped %d rows, exact %d rows\n got %+v\nwant %+v", wi, scopeName, fi, dims, len(got), len(want), first(got), first(want))
							}
							if len(want) == 0 && fi == 0 {
								t.Fatalf("window %d, %s, dims %v: no rows at all", wi, scopeName, dims)
							}
						}
					}
				}
			}
		})
	}
}

// A provider admin's report grouped by TENANT holds one row per tenant whose totals are that
// tenant's own ungrouped report (its scope), and a null-tenant row with what no tenant owns;
// the rows add up to the admin's total. Both paths: the database's grouping, and the exact
// path a substring filter takes.
func TestRestoreAuditByTenantSumsPerTenant(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			fillArchive(t, st, 400)
			a, err := NewArchive(st, ArchiveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			from, to := archiveBase, archiveBase.Add(10*24*time.Hour)
			everyone := func(string, string) bool { return true }
			sum := func(rows []*model.RestoreAuditRow) totals {
				var x totals
				for _, r := range rows {
					x.sessions += int64(r.Sessions)
					x.items += r.Items
					x.bytes += r.Bytes
					x.failed += int64(r.FailedSessions)
				}
				return x
			}
			alice := "alice"
			for name, f := range map[string]*model.RestoreSessionFilter{"grouped": nil, "exact": {InitiatedBy: &alice}} {
				q := resolvers.AuditQuery{From: from, To: to, Filter: f, Servers: []string{"syd1", "mel1"}, InScope: everyone}
				total, err := a.RestoreAudit(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				q.GroupBy, q.TenantOf = []model.RestoreAuditDimension{model.RestoreAuditDimensionTenant}, archiveTenantOf
				byTenant, err := a.RestoreAudit(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := sum(byTenant.Rows), sum(total.Rows); got != want || want.sessions == 0 {
					t.Fatalf("%s: tenant rows add up to %+v, the total is %+v", name, got, want)
				}
				var tenants []string
				for _, r := range byTenant.Rows {
					if r.InitiatedBy != nil || r.Organization != nil || r.Day != nil {
						t.Errorf("%s: a dimension not grouped by is set: %+v", name, r)
					}
					if r.Tenant == nil {
						tenants = append(tenants, "")
						continue
					}
					tenants = append(tenants, *r.Tenant)
					own := resolvers.AuditQuery{From: from, To: to, Filter: f, Servers: []string{"syd1", "mel1"}, InScope: archiveTenantScope(*r.Tenant)}
					res, err := a.RestoreAudit(ctx, own)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := sum([]*model.RestoreAuditRow{r}), sum(res.Rows); got != want {
						t.Errorf("%s: %s's row %+v, its own report %+v", name, *r.Tenant, got, want)
					}
				}
				// Null first, then by id; every tenant with sessions, and the organisations no tenant owns.
				if want := []string{"", "tenant-a", "tenant-b", "tenant-c"}; !reflect.DeepEqual(tenants, want) {
					t.Errorf("%s: tenants %q, want %q", name, tenants, want)
				}
			}
		})
	}
}

func first(rows []Row) any {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}
