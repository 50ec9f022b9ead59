package watchrules

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// The hook's rules are read in full only when they changed, whoever changed them: a replica
// that never wrote a rule (reader) reuses its rules, as read and compiled, while nothing
// changed, and sees every change another replica (writer) makes (create, update, disable,
// delete) at its next archive transaction, recompiling only the rules that changed.
func TestActiveRulesReadAgainOnlyWhenChanged(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			writer := e.svc
			reader, err := New(context.Background(), serviceOptions(t, e.st, e.scope, envOpts{}))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			active := func() map[string]activeRule { // by name, as the hook reads them: in an archive transaction
				t.Helper()
				var rules []activeRule
				if err := e.st.InTx(ctx, func(tx store.Tx) error {
					var err error
					rules, err = reader.activeRules(ctx, tx)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				out := map[string]activeRule{}
				for _, ar := range rules {
					out[ar.row.def.Name] = ar
				}
				return out
			}
			if got := active(); len(got) != 0 {
				t.Fatalf("rules before any was created: %v", got)
			}
			const url = "http://127.0.0.1:1/hook"
			first := writer.mustCreate(t, rule(url, model.WatchTriggerStarted, func(in *model.WatchRuleInput) { in.Name = "first" }))
			a := active()
			if len(a) != 1 || a["first"].row == nil {
				t.Fatalf("after the writer created a rule: %v", a)
			}
			b := active()
			if b["first"].row != a["first"].row || b["first"].rule != a["first"].rule {
				t.Fatal("nothing changed, but the rule was read and compiled again")
			}

			if _, err := writer.Update(ctx, first.Rule.ID, rule(url, model.WatchTriggerStarted, func(in *model.WatchRuleInput) { in.Name = "renamed" })); err != nil {
				t.Fatal(err)
			}
			c := active()
			if len(c) != 1 || c["renamed"].row == nil || c["renamed"].rule == a["first"].rule {
				t.Fatalf("after the writer renamed the rule: %v", c)
			}

			second := writer.mustCreate(t, rule(url, model.WatchTriggerEnded, func(in *model.WatchRuleInput) { in.Name = "second" }))
			d := active()
			if len(d) != 2 || d["second"].row == nil {
				t.Fatalf("after the writer created a second rule: %v", d)
			}
			if d["renamed"].rule != c["renamed"].rule {
				t.Error("the unchanged rule was compiled again")
			}

			if _, err := writer.Update(ctx, second.Rule.ID, rule(url, model.WatchTriggerEnded, func(in *model.WatchRuleInput) {
				in.Name, in.Enabled = "second", ptr(false)
			})); err != nil {
				t.Fatal(err)
			}
			if got := active(); len(got) != 1 || got["renamed"].row == nil {
				t.Fatalf("after the writer disabled the second rule: %v", got)
			}
			if _, err := writer.Delete(ctx, first.Rule.ID); err != nil {
				t.Fatal(err)
			}
			if got := active(); len(got) != 0 {
				t.Fatalf("after the writer deleted the first rule: %v", got)
			}
		})
	}
}

func (s *Service) mustCreate(t *testing.T, in model.WatchRuleInput) *model.WatchRuleCreated {
	t.Helper()
	r, err := s.Create(context.Background(), nil, "tester", in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A rule's version (id, updated_ns) changes with every edit, even two edits within one tick of
// the store's clock (or after the clock went back): the hook, which reuses its rules while the
// versions it reads are the same, sees each edit. Here the store's clock stands still.
func TestActiveRulesSeeEditsWithinOneClockTick(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			ctx := context.Background()
			stopped, err := e.st.Now(ctx)
			if err != nil {
				t.Fatal(err)
			}
			writer := e.svc
			writer.now = func(context.Context) (time.Time, error) { return stopped, nil }
			reader, err := New(ctx, serviceOptions(t, e.st, e.scope, envOpts{}))
			if err != nil {
				t.Fatal(err)
			}
			names := func() []string {
				t.Helper()
				var rules []activeRule
				if err := e.st.InTx(ctx, func(tx store.Tx) error {
					var err error
					rules, err = reader.activeRules(ctx, tx)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, ar := range rules {
					out = append(out, ar.row.def.Name)
				}
				return out
			}
			const url = "http://127.0.0.1:1/hook"
			r := writer.mustCreate(t, rule(url, model.WatchTriggerStarted, func(in *model.WatchRuleInput) { in.Name = "v0" }))
			if got := names(); !slices.Equal(got, []string{"v0"}) {
				t.Fatalf("after the create: %v", got)
			}
			for _, name := range []string{"v1", "v2"} {
				if _, err := writer.Update(ctx, r.Rule.ID, rule(url, model.WatchTriggerStarted, func(in *model.WatchRuleInput) { in.Name = name })); err != nil {
					t.Fatal(err)
				}
				if got := names(); !slices.Equal(got, []string{name}) {
					t.Fatalf("after the edit to %s within the same clock tick, the hook has %v", name, got)
				}
			}
		})
	}
}
