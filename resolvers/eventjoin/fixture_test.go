package eventjoin_test

import (
	"testing"

	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjointest"
)

// TestJoinFixture: the rule on the fixture its callers' tests share (eventjointest): each event
// joins the action the fixture says, or none.
func TestJoinFixture(t *testing.T) {
	t.Parallel()
	f := eventjointest.New()
	for i := range f.Events {
		e := &f.Events[i]
		got := ""
		if j := eventjoin.Join(e, f.Actions); j >= 0 {
			got = f.Actions[j].ID
		}
		if got != f.Want[e.ID] {
			t.Errorf("event %s joined %q, want %q", e.ID, got, f.Want[e.ID])
		}
	}
}
