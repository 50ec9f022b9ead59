package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
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
			changes = append(changes, store.Change{Session: store.Session{Server: server, Session: s, OrgID: orgID,
				ClientMachine: ch.MachineName, ViaAddress: ch.ViaAddress,
				Totals: store.Totals{Items: int64(r.IntN(100)), Bytes: int64(r.IntN(1 << 40))}}})
		}
		if err := st.Archive(ctx, l, changes, store.Checkpoint{}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// The database's grouping answers exactly what reading every session and matching it in Go
// answers, for every combination of dimensions and a spread of filters and scopes.
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
			from, to := archiveBase.Add(24*time.Hour), archiveBase.Add(8*24*time.Hour)
			mid := archiveBase.Add(4 * 24 * time.Hour)
			filters := []*model.RestoreSessionFilter{
				nil,
				{Types: []model.RestoreSessionType{model.RestoreSessionTypeExchange, model.RestoreSessionTypeUnknown}},
				{Results: []model.RestoreSessionResult{model.RestoreSessionResultFailed}, States: []model.RestoreSessionState{model.RestoreSessionStateStopped}},
				{Results: []model.RestoreSessionResult{model.RestoreSessionResultUnknown}},
				{OrganizationIds: []string{orgID("syd1", "org-1"), orgID("mel1", "Org-2")}},
				{OrganizationIds: []string{}},
				{StartTimeFrom: &mid},
				{StartTimeTo: &mid, Types: []model.RestoreSessionType{model.RestoreSessionTypeTeams}},
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
				AllDimensions)
			for scopeName, inScope := range scopes {
				for fi, f := range filters {
					for _, dims := range dimSets {
						gd := make([]model.RestoreAuditDimension, len(dims))
						for i, d := range dims {
							gd[i] = model.RestoreAuditDimension(d)
						}
						q := resolvers.AuditQuery{From: from, To: to, Filter: f, GroupBy: gd, Servers: []string{"syd1", "mel1"}, InScope: inScope}
						exact, _ := NewAggregator(dims)
						if err := a.Sessions(context.Background(), q, func(s *match.Session) error { exact.Add(s); return nil }); err != nil {
							t.Fatal(err)
						}
						grouped, _ := NewAggregator(dims)
						if err := a.groups(context.Background(), q, dims, grouped.AddGroup); err != nil {
							t.Fatal(err)
						}
						want, _ := exact.Rows()
						got, _ := grouped.Rows()
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s, filter %d, dims %v: grouped %d rows, exact %d rows\n got %+v\nwant %+v", scopeName, fi, dims, len(got), len(want), first(got), first(want))
						}
						if len(want) == 0 && fi == 0 {
							t.Fatalf("%s, dims %v: no rows at all", scopeName, dims)
						}
					}
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
