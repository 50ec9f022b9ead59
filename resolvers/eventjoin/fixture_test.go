package eventjoin_test

import (
	"testing"

	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjointest"
)

// TestJoinFixture: the rule on the fixture its callers' tests share (eventjointest): each event
// joins the action the fixture says, or none, whether joined alone (Join) or against the
// actions prepared once (NewSet).
func TestJoinFixture(t *testing.T) {
	t.Parallel()
	f := eventjointest.New()
	set := eventjoin.NewSet(f.Actions)
	for i := range f.Events {
		e := &f.Events[i]
		for how, j := range map[string]int{"Join": eventjoin.Join(e, f.Actions), "Set.Join": set.Join(e)} {
			got := ""
			if j >= 0 {
				got = f.Actions[j].ID
			}
			if got != f.Want[e.ID] {
				t.Errorf("%s: event %s joined %q, want %q", how, e.ID, got, f.Want[e.ID])
			}
		}
	}
}
