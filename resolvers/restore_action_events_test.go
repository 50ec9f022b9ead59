package resolvers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjointest"
)

// joinFrontDoor is a RestoreFrontDoor holding one gateway session ("gw", VBO session s1 of
// syd1) and its steps; only what RestoreAction.events reads is implemented.
type joinFrontDoor struct {
	RestoreFrontDoor
	steps []*model.RestoreAction
	pages int
}

func (f *joinFrontDoor) SessionsByVBO(_ context.Context, keys [][2]string) (map[[2]string]*GatewaySession, error) {
	out := map[[2]string]*GatewaySession{}
	for _, k := range keys {
		if k == [2]string{"syd1", "s1"} {
			out[k] = &GatewaySession{ID: "gw", Server: "syd1", VBOSessionID: "s1"}
		}
	}
	return out, nil
}

func (f *joinFrontDoor) Actions(_ context.Context, gatewaySessionID string, after int64, limit int) ([]*model.RestoreAction, error) {
	f.pages++
	var out []*model.RestoreAction
	for _, s := range f.steps {
		if gatewaySessionID == "gw" && s.Position > after && len(out) < limit {
			out = append(out, s)
		}
	}
	return out, nil
}

// fixtureSteps are the fixture's actions as the front door maps them to the schema, between a
// session's other steps (START, BROWSE).
func fixtureSteps(f eventjointest.Fixture) []*model.RestoreAction {
	steps := []*model.RestoreAction{{ID: "start", Kind: model.RestoreActionKindStart, Server: "syd1", StartTime: eventjointest.T0.Add(-time.Hour), VBOSessionID: "s1"},
		{ID: "browse", Kind: model.RestoreActionKindBrowse, Server: "syd1", StartTime: eventjointest.T0.Add(-time.Minute), VBOSessionID: "s1"}}
	for _, a := range f.Actions {
		m := &model.RestoreAction{ID: a.ID, Kind: model.RestoreActionKind(a.Kind), Server: "syd1", StartTime: a.At, EndTime: a.CompletedAt,
			NeedsApproval: a.NeedsApproval, ApprovedAt: a.ApprovedAt, VBOSessionID: "s1"}
		for _, n := range a.Items {
			m.Items = append(m.Items, &model.RestoreActionItem{UpstreamID: "id-" + n, Kind: model.RestoreItemKindMailItem, Name: &n})
		}
		steps = append(steps, m)
	}
	for i, s := range steps {
		s.Position = int64(i + 1)
	}
	return steps
}

// listingFrontDoor is joinFrontDoor with RestoreSessionItemActions: the item actions alone.
type listingFrontDoor struct {
	*joinFrontDoor
	lists int
}

func (f *listingFrontDoor) SessionItemActions(_ context.Context, gatewaySessionID string, limit int) ([]*model.RestoreAction, error) {
	f.lists++
	var out []*model.RestoreAction
	for _, s := range f.steps {
		if gatewaySessionID == "gw" && s.Kind != model.RestoreActionKindStart && s.Kind != model.RestoreActionKindBrowse && len(out) < limit {
			out = append(out, s)
		}
	}
	return out, nil
}

// TestActionEventsAgreeWithTheJoin: RestoreAction.events lists, for each action of the shared
// fixture, exactly the events resolvers/eventjoin joins to it among the session's item actions:
// an event shows under one action at most (the one the webhook names and the reaper counts),
// and one no action takes (no guess, a waiting action's, another kind's) under none; whether
// the front door lists the session's item actions alone or only pages its steps.
func TestActionEventsAgreeWithTheJoin(t *testing.T) {
	t.Parallel()
	for _, listing := range []bool{false, true} {
		t.Run(fmt.Sprintf("listing=%v", listing), func(t *testing.T) {
			t.Parallel()
			f := eventjointest.New()
			archive := newCountingArchive()
			archive.events = f.Events
			fd := &joinFrontDoor{steps: fixtureSteps(f)}
			lf := &listingFrontDoor{joinFrontDoor: fd}
			r := &Resolver{Restore: fd, Reads: &ArchiveReads{Reader: archive, From: ReadsArchive}}
			if listing {
				r.Restore = lf
			}
			shown := map[string]string{}
			for _, step := range fd.steps {
				events, err := r.actionEvents(context.Background(), step)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, e := range events {
					if e.ServerName != "syd1" || e.SessionID != "s1" {
						t.Fatalf("%s: event %s of %s/%s", step.ID, e.Upstream.ID, e.ServerName, e.SessionID)
					}
					ids = append(ids, e.Upstream.ID)
					if prev, dup := shown[e.Upstream.ID]; dup {
						t.Errorf("event %s shows under %s and %s", e.Upstream.ID, prev, step.ID)
					}
					shown[e.Upstream.ID] = step.ID
				}
				if want := f.Joined(step.ID); !slices.Equal(ids, want) {
					t.Errorf("%s: events %v, want %v", step.ID, ids, want)
				}
			}
			if len(shown) != len(f.Want) {
				t.Errorf("%d events shown, the join places %d", len(shown), len(f.Want))
			}
			// One read of the session's actions per item action (START and BROWSE read none).
			if n := len(f.Actions); listing && (lf.lists != n || fd.pages != 0) || !listing && fd.pages != n {
				t.Errorf("listing %v: %d lists, %d pages of steps for %d actions", listing, lf.lists, fd.pages, n)
			}
		})
	}
}

// TestActionEventsWithoutItsSession: an action whose session the front door no longer finds is
// joined alone (its own window and items), and one with no VBO session or no archive has none.
func TestActionEventsWithoutItsSession(t *testing.T) {
	t.Parallel()
	f := eventjointest.New()
	archive := newCountingArchive()
	archive.events = f.Events
	steps := fixtureSteps(f)
	var second *model.RestoreAction
	for _, s := range steps {
		if s.ID == eventjointest.Second {
			second = s
		}
	}
	r := &Resolver{Restore: &joinFrontDoor{}, Reads: &ArchiveReads{Reader: archive, From: ReadsArchive}}
	events, err := r.actionEvents(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range events {
		ids = append(ids, e.Upstream.ID)
	}
	// Alone, the second restore takes every Restore event from 2 minutes before it on (its
	// window is open): it is the only restore the join sees.
	if want := []string{"budget-skew", "budget-2", "inbox", "message", "minutes-late"}; !slices.Equal(ids, want) {
		t.Fatalf("alone: %v, want %v", ids, want)
	}
	noSession := *second
	noSession.VBOSessionID = ""
	for name, c := range map[string]struct {
		r *Resolver
		a *model.RestoreAction
	}{"no VBO session": {r, &noSession}, "no archive": {&Resolver{Restore: &joinFrontDoor{}}, second}} {
		if events, err := c.r.actionEvents(context.Background(), c.a); err != nil || len(events) != 0 {
			t.Errorf("%s: %d events, %v", name, len(events), err)
		}
	}
}
