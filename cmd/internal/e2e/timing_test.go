package e2e_test

import (
	"slices"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// Issue 11 item 7: node(id) on another tenant's existing session costs the same work as on a
// random id: the same upstream calls (counted exactly), and median times within a bound. Every
// VBO call takes 10 ms here, so a path that skips one (a cached session) stands out.
func TestNodeForeignCostsLikeMissing(t *testing.T) {
	// Serial: compares median latencies, which other tests' load would skew.
	if testing.Short() {
		t.Skip("timing test skipped with -short")
	}
	const latency = 10 * time.Millisecond
	e := isoStart(t, nil, nil)
	syd := e.fleet.Sims[demo.Names[0]]
	// Tenant 1 sees syd1's organisations 0 and 1; organisation 2 is tenant 2's.
	foreignOrg := syd.Organizations()[2].Name
	var foreign string
	for _, s := range syd.Sessions() {
		if s.Organization == foreignOrg && s.Finished() {
			foreign = gid.ID{Kind: gid.KindRestoreSession, Server: demo.Names[0], Upstream: s.ID}.String()
			break
		}
	}
	if foreign == "" {
		t.Fatal("no stopped session of tenant 2 on syd1")
	}
	admin, tenant := e.client(demo.AdminKey), e.client(demo.TenantKeyPrefix+"1")
	// The admin reads it first: the gateway now holds it in its cache of stopped sessions.
	isoMust(t, admin, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": foreign}, &struct{}{})
	syd.SetFaults(vbosim.Faults{Latency: latency})
	defer syd.SetFaults(vbosim.Faults{})

	missing := func() string {
		return gid.ID{Kind: gid.KindRestoreSession, Server: demo.Names[0], Upstream: isoRandomUUID()}.String()
	}
	probe := func(c *client.Client, id string) time.Duration {
		start := time.Now()
		_, errs := isoRun(t, c, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
		el := time.Since(start)
		if len(errs) != 1 || errs[0].code() != "NOT_FOUND" {
			t.Fatalf("node(%s) errors %+v, want NOT_FOUND", id, errs)
		}
		return el
	}
	calls := func(id string) int {
		syd.ResetStats()
		probe(tenant, id)
		return syd.Stats().Total
	}
	probe(tenant, foreign) // warm up (organisation list, connections)
	probe(tenant, missing())
	f, m := calls(foreign), calls(missing())
	t.Logf("upstream calls per probe: %d (another tenant's session), %d (missing)", f, m)
	if f != m {
		t.Errorf("upstream calls: %d for another tenant's session, %d for a missing one", f, m)
	}

	var tf, tm []time.Duration
	for range 60 { // interleaved, so both see the same machine load
		tf = append(tf, probe(tenant, foreign))
		tm = append(tm, probe(tenant, missing()))
	}
	slices.Sort(tf)
	slices.Sort(tm)
	mf, mm := tf[len(tf)/2], tm[len(tm)/2]
	diff := max(mf-mm, mm-mf)
	bound := max(latency/2, max(mf, mm)/4)
	t.Logf("median node(): another tenant's session %v, a missing one %v (difference %v, bound %v)", mf, mm, diff, bound)
	if diff > bound {
		t.Errorf("medians differ by %v > %v: foreign %v, missing %v", diff, bound, mf, mm)
	}
}
