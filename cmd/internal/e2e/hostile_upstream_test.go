package e2e_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// A server that sends its headers and then a byte every half second (issue 11, item 4): the
// cross-server list comes back with the other servers' sessions and one UPSTREAM_TIMEOUT that
// names the stalled server, well before the request deadline.
func TestFaultStalledBodyFailsAlone(t *testing.T) {
	// Serial: asserts the answer time (under 3 s).
	r := newRig(t, rigOpts{tune: func(c *config.Config) {
		c.Resilience.RequestTimeout = 4 * time.Second
		c.Resilience.ResponseTimeout = time.Second
	}})
	r.post(`{ organizations(first: 100) { totalCount } }`, nil) // tokens and organisations first
	r.fleet.Sims["mel1"].SetFaults(vbosim.Faults{StallBody: 500 * time.Millisecond})

	start := time.Now()
	resp := r.post(`{ restoreSessions(first: 60) { edges { node { upstreamId organization { server { name } } } } } }`, nil)
	el := time.Since(start)
	var d struct {
		RestoreSessions struct {
			Edges []struct {
				Node struct {
					Organization struct {
						Server struct{ Name string } `json:"server"`
					} `json:"organization"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"restoreSessions"`
	}
	if err := json.Unmarshal(resp.Data, &d); err != nil {
		t.Fatalf("data: %v: %s", err, resp.Data)
	}
	per := map[string]int{}
	for _, e := range d.RestoreSessions.Edges {
		per[e.Node.Organization.Server.Name]++
	}
	if per["syd1"] == 0 || per["akl1"] == 0 || per["mel1"] != 0 {
		t.Errorf("sessions per server = %v, want syd1 and akl1 only", per)
	}
	wantOneServerError(t, resp, "mel1", "UPSTREAM_TIMEOUT")
	if el > 3*time.Second {
		t.Errorf("answered after %v: the stalled server held the request to its deadline", el)
	}
}

// A server that redirects (item 3) or answers an oversized page (item 8) fails alone: the
// others' organisations come back with one UPSTREAM_ERROR naming it, and nothing of the
// redirect target or the page reaches the client.
func TestFaultHostileServerFailsAlone(t *testing.T) {
	// Serial: the others' answers must come within the rig's 2 s deadline while two million objects are refused.
	for _, tc := range []struct {
		name   string
		faults vbosim.Faults
	}{
		{"302 on GETs", vbosim.Faults{RedirectGetTo: "http://127.0.0.1:9/steal"}},
		{"two million {} organisations", vbosim.Faults{OversizedItems: 2_000_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{})
			r.post(`{ organizations(first: 100) { totalCount } }`, nil) // tokens first
			r.fleet.Sims["akl1"].SetFaults(tc.faults)
			resp := r.post(faultOrgsQuery, nil)
			if got := decodeOrgs(t, resp).orgsPerServer(); got["syd1"] != 3 || got["mel1"] != 3 || got["akl1"] != 0 {
				t.Errorf("orgs with sessions per server = %v, want syd1:3 mel1:3 akl1:0", got)
			}
			wantOneServerError(t, resp, "akl1", "UPSTREAM_ERROR")
			if m := resp.Errors[0].Message; strings.Contains(m, "127.0.0.1") || strings.Contains(m, "steal") {
				t.Errorf("message %q reveals the redirect target", m)
			}
		})
	}
}
