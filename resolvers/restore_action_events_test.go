package resolvers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjointest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
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

// TestActionEventsCostIsBounded: RestoreAction.events joins each archived event of the session
// (up to actionEventsScan) among the session's item actions (up to eventjoin.MaxActions), each
// naming up to restore.maxItemsPerAction items: the items are folded once, not compared again
// for every event. The worst case here (every action's window holds every event, no action
// names it) took seconds of CPU per field, per action of a page.
func TestActionEventsCostIsBounded(t *testing.T) {
	t.Parallel()
	const actions, items, events = eventjoin.MaxActions, 100, actionEventsScan
	t0 := eventjointest.T0
	var steps []*model.RestoreAction
	for i := range actions {
		m := &model.RestoreAction{ID: fmt.Sprintf("a%03d", i), Kind: model.RestoreActionKindRestoreTo, Server: "syd1",
			StartTime: t0, VBOSessionID: "s1", Position: int64(i + 1)} // no outcome yet: its window is open
		for j := range items {
			n := fmt.Sprintf("RE: RE: RE: Quarterly figures for the board, message %d of restore %d", j, i)
			m.Items = append(m.Items, &model.RestoreActionItem{UpstreamID: n, Kind: model.RestoreItemKindMailItem, Name: &n})
		}
		steps = append(steps, m)
	}
	archive := newCountingArchive()
	archive.events = nil
	for k := range events {
		// No action names it (subjects alike but for their end): every window is searched.
		name := fmt.Sprintf("RE: RE: RE: Quarterly figures for the board, message %d of no restore", k)
		if k == events/2 {
			name = " re: re: re: QUARTERLY figures for the board, message 7 of restore 0 " // named by a000 alone
		}
		archive.events = append(archive.events, upstream.RestoreSessionEvent{ID: fmt.Sprintf("e%d", k), Order: k,
			Type: upstream.EventTypeRestore, Status: upstream.EventStatusSuccess, ItemName: name, StartTime: t0.Add(time.Second)})
	}
	r := &Resolver{Restore: &listingFrontDoor{joinFrontDoor: &joinFrontDoor{steps: steps}}, Reads: &ArchiveReads{Reader: archive, From: ReadsArchive}}
	start := time.Now()
	got, err := r.actionEvents(context.Background(), steps[0])
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Upstream.ID != fmt.Sprintf("e%d", events/2) {
		t.Fatalf("%d events joined to a000, want the one naming its item", len(got))
	}
	if took > 2*time.Second {
		t.Fatalf("joining %d events among %d actions of %d items took %v", events, actions, items, took)
	}
}
