package e2e_test

import (
	"testing"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// A filter that leaves a server nothing to match does not walk that server's listing at all.
func TestOrganizationFilterWalksOnlyServersWithMatches(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	orgs := h.sim("mel1").Organizations()
	mine := gid.ID{Kind: gid.KindOrganization, Server: "mel1", Upstream: orgs[0].ID}.String()
	unknown := gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: "00000000-0000-4000-8000-000000000000"}.String()
	h.resetStats()
	var out struct {
		RestoreSessions struct {
			Edges []struct {
				Node struct{ Organization struct{ Name string } }
			}
		}
	}
	h.mustQuery(`query($ids: [ID!]) { restoreSessions(first: 5, filter: {organizationIds: $ids}) { edges { node { organization { name } } } } }`,
		map[string]any{"ids": []string{mine, unknown}}, &out)
	if len(out.RestoreSessions.Edges) == 0 {
		t.Fatal("no sessions for mel1's organisation")
	}
	for _, e := range out.RestoreSessions.Edges {
		if e.Node.Organization.Name != orgs[0].Name {
			t.Errorf("session of %q, want only %q", e.Node.Organization.Name, orgs[0].Name)
		}
	}
	if n := h.calls("mel1", routeSessions); n == 0 {
		t.Error("mel1's listing was not walked")
	}
	for _, s := range []string{"syd1", "akl1"} {
		if n := h.calls(s, routeSessions); n != 0 {
			t.Errorf("%s: %d listing calls, want 0 (nothing there can match)", s, n)
		}
	}
}
