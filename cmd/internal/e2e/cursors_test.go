package e2e_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// Cursors are sealed with the configured cursorKey: a second gateway with the same key (a
// restart, another replica) continues a listing from the first one's cursor; a gateway without
// a configured key (its own key, drawn at start) refuses it with BAD_USER_INPUT, and the client
// starts again from the first page.
func TestCursorsAcrossReplicas(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 3, sessions: 20})
	const q = `query($after: String) { restoreSessions(first: 5, after: $after) {
	  edges { node { id } } pageInfo { endCursor } } }`
	type page struct {
		RestoreSessions struct {
			Edges []struct {
				Node struct{ ID string }
			}
			PageInfo pageInfo
		}
	}
	var p1, p2 page
	h.mustQuery(q, nil, &p1)
	h.mustQuery(q, map[string]any{"after": *p1.RestoreSessions.PageInfo.EndCursor}, &p2)

	replica := func(cfg *config.Config) *client.Client {
		gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return client.New(asAdmin(gw.Handler), client.Path("/graphql"))
	}
	var again page
	if err := replica(h.fleet.Config).Post(q, &again, client.Var("after", *p1.RestoreSessions.PageInfo.EndCursor)); err != nil {
		t.Fatalf("same key: %v", err)
	}
	if len(again.RestoreSessions.Edges) != 5 || again.RestoreSessions.Edges[0].Node.ID != p2.RestoreSessions.Edges[0].Node.ID {
		t.Errorf("same key: page 2 = %+v, want %+v", again.RestoreSessions.Edges, p2.RestoreSessions.Edges)
	}

	noKey := *h.fleet.Config
	noKey.CursorKey = config.CursorKey{}
	resp, err := replica(&noKey).RawPost(q, client.Var("after", *p1.RestoreSessions.PageInfo.EndCursor))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(resp.Errors); !strings.Contains(s, "BAD_USER_INPUT") || !strings.Contains(s, "first page") {
		t.Errorf("a cursor of another key: errors %s, want BAD_USER_INPUT telling to start from the first page", s)
	}
}
