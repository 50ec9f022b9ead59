package eventjoin

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

func ev(typ upstream.RestoreEventType, item string, start time.Duration) *upstream.RestoreSessionEvent {
	return &upstream.RestoreSessionEvent{ID: "e", Type: typ, ItemName: item, StartTime: t0.Add(start)}
}

// TestJoin is the rule, case by case: the kind, the window and its skew edges, the item named or
// not, two actions of a kind in the window, running actions and approvals.
func TestJoin(t *testing.T) {
	t.Parallel()
	done := at(time.Minute)
	orig := Action{ID: "orig", Kind: RestoreToOriginal, Items: []string{"Budget"}, At: t0, CompletedAt: done}
	to := Action{ID: "to", Kind: RestoreTo, Items: []string{"Minutes"}, At: t0, CompletedAt: done}
	dl := Action{ID: "dl", Kind: Download, Items: []string{"Budget"}, At: t0, CompletedAt: done}
	send := Action{ID: "send", Kind: Send, Items: []string{" budget "}, At: t0, CompletedAt: done}
	retry := Action{ID: "retry", Kind: RestoreToOriginal, Items: []string{"Budget"}, At: t0.Add(5 * time.Second), CompletedAt: done}
	later := Action{ID: "later", Kind: RestoreTo, Items: []string{"Budget"}, At: t0.Add(10 * time.Minute), CompletedAt: at(11 * time.Minute)}
	running := Action{ID: "running", Kind: RestoreTo, Items: []string{"Budget"}, At: t0}
	runningLater := Action{ID: "running-later", Kind: RestoreTo, Items: []string{"Budget"}, At: t0.Add(time.Minute)}
	folder := Action{ID: "folder", Kind: RestoreTo, Items: []string{"Inbox"}, At: t0, CompletedAt: done}
	waiting := Action{ID: "waiting", Kind: RestoreToOriginal, Items: []string{"Budget"}, At: t0, NeedsApproval: true}
	expired := Action{ID: "expired", Kind: RestoreToOriginal, Items: []string{"Budget"}, At: t0.Add(-time.Hour), NeedsApproval: true, CompletedAt: at(time.Hour)}
	approved := Action{ID: "approved", Kind: RestoreToOriginal, Items: []string{"Budget"}, At: t0.Add(-time.Hour), NeedsApproval: true,
		ApprovedAt: at(30 * time.Minute), CompletedAt: at(31 * time.Minute)}
	sameA := Action{ID: "a", Kind: RestoreTo, Items: []string{"Budget"}, At: t0, CompletedAt: done}
	sameB := Action{ID: "b", Kind: RestoreTo, Items: []string{"Budget"}, At: t0, CompletedAt: done}

	for _, tc := range []struct {
		name    string
		e       *upstream.RestoreSessionEvent
		actions []Action
		want    string // "" : none
	}{
		{"named among restores", ev(upstream.EventTypeRestore, "Budget", time.Second), []Action{to, orig}, "orig"},
		{"other item named", ev(upstream.EventTypeRestore, "Minutes", time.Second), []Action{to, orig}, "to"},
		{"name trimmed and case folded", ev(upstream.EventTypeSend, "BUDGET", time.Second), []Action{send}, "send"},
		{"save joins the download", ev(upstream.EventTypeSave, "Budget", time.Second), []Action{orig, dl}, "dl"},
		{"export joins the download", ev(upstream.EventTypeExport, "Budget", time.Second), []Action{orig, dl}, "dl"},
		{"send joins no restore", ev(upstream.EventTypeSend, "Budget", time.Second), []Action{orig, dl}, ""},
		{"marker joins nothing", ev(upstream.EventTypeNone, "Budget", time.Second), []Action{orig}, ""},
		{"view joins nothing", ev(upstream.EventTypeView, "Budget", time.Second), []Action{orig, dl}, ""},
		{"skew before: edge", ev(upstream.EventTypeRestore, "Budget", -Skew), []Action{orig}, "orig"},
		{"skew before: past it", ev(upstream.EventTypeRestore, "Budget", -Skew-time.Nanosecond), []Action{orig}, ""},
		{"skew after: edge", ev(upstream.EventTypeRestore, "Budget", time.Minute+Skew), []Action{orig}, "orig"},
		{"skew after: past it", ev(upstream.EventTypeRestore, "Budget", time.Minute+Skew+time.Nanosecond), []Action{orig}, ""},
		{"running: open window", ev(upstream.EventTypeRestore, "Budget", 5*time.Hour), []Action{running}, "running"},
		{"running: not before its skew", ev(upstream.EventTypeRestore, "Budget", -Skew-time.Second), []Action{running}, ""},
		{"a retry: the latest begun", ev(upstream.EventTypeRestore, "Budget", 6*time.Second), []Action{retry, orig}, "retry"},
		{"the run nearest the event: the earlier, finished", ev(upstream.EventTypeRestore, "Budget", 30*time.Second), []Action{orig, Action{ID: "next", Kind: RestoreToOriginal, Items: []string{"Budget"}, At: t0.Add(time.Minute + 30*time.Second)}}, "orig"},
		{"the run nearest the event: the later", ev(upstream.EventTypeRestore, "Budget", 10*time.Minute+time.Second), []Action{running, later}, "later"},
		{"two running: the latest begun", ev(upstream.EventTypeRestore, "Budget", 2*time.Minute), []Action{running, runningLater}, "running-later"},
		{"two running: before the later began", ev(upstream.EventTypeRestore, "Budget", 30*time.Second), []Action{runningLater, running}, "running"},
		{"same run: the smaller id", ev(upstream.EventTypeRestore, "Budget", time.Second), []Action{sameB, sameA}, "a"},
		{"named beats the only unnamed", ev(upstream.EventTypeRestore, "Budget", time.Second), []Action{folder, running}, "running"},
		{"container: the only one of the kind", ev(upstream.EventTypeRestore, "Message 7", time.Second), []Action{folder, dl}, "folder"},
		{"container: either restore kind counts", ev(upstream.EventTypeRestore, "Message 7", time.Second), []Action{folder, orig}, ""},
		{"container: two in the window, no guess", ev(upstream.EventTypeRestore, "Message 7", time.Second), []Action{folder, to}, ""},
		{"container: the other out of its window", ev(upstream.EventTypeRestore, "Message 7", 10*time.Minute+time.Second), []Action{folder, later}, "later"},
		{"unnamed event: the only one", ev(upstream.EventTypeRestore, "", time.Second), []Action{orig}, "orig"},
		{"waiting for approval: never ran", ev(upstream.EventTypeRestore, "Budget", time.Second), []Action{waiting}, ""},
		{"waiting loses to nothing", ev(upstream.EventTypeRestore, "Message 7", time.Second), []Action{waiting, folder}, "folder"},
		{"expired unapproved: never ran", ev(upstream.EventTypeRestore, "Budget", time.Second), []Action{expired}, ""},
		{"approved: runs from its approval", ev(upstream.EventTypeRestore, "Budget", 30*time.Minute+time.Second), []Action{approved}, "approved"},
		{"approved: not before its approval", ev(upstream.EventTypeRestore, "Budget", 20*time.Minute), []Action{approved}, ""},
		{"no actions", ev(upstream.EventTypeRestore, "Budget", 0), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ""
			if i := Join(tc.e, tc.actions); i >= 0 {
				got = tc.actions[i].ID
			}
			if got != tc.want {
				t.Fatalf("joined %q, want %q", got, tc.want)
			}
			// The answer does not depend on the actions' order.
			rev := slices.Clone(tc.actions)
			slices.Reverse(rev)
			got = ""
			if i := Join(tc.e, rev); i >= 0 {
				got = rev[i].ID
			}
			if got != tc.want {
				t.Fatalf("reversed: joined %q, want %q", got, tc.want)
			}
		})
	}
}

// TestJoinAtMostOne: over a session's events, each joins one action at most, and a second
// action of the kind on the same item takes the events of its own run, not the first's.
func TestJoinAtMostOne(t *testing.T) {
	t.Parallel()
	first := Action{ID: "first", Kind: RestoreTo, Items: []string{"Budget", "Minutes"}, At: t0, CompletedAt: at(time.Minute)}
	second := Action{ID: "second", Kind: RestoreTo, Items: []string{"Budget"}, At: t0.Add(4 * time.Minute)} // running
	acts := []Action{first, second}
	events := []*upstream.RestoreSessionEvent{
		ev(upstream.EventTypeRestore, "Budget", 10*time.Second),
		ev(upstream.EventTypeRestore, "Minutes", 20*time.Second),
		ev(upstream.EventTypeRestore, "Budget", 4*time.Minute+time.Second),
		ev(upstream.EventTypeRestore, "Budget", 2*time.Minute+20*time.Second), // within both windows: nearer the first's run
		ev(upstream.EventTypeRestore, "Budget", 2*time.Minute+40*time.Second), // within both windows: nearer the second's
		ev(upstream.EventTypeRestore, "Minutes", 6*time.Minute),               // the first's window is over: the only restore
	}
	var got []string
	for _, e := range events {
		id := ""
		if i := Join(e, acts); i >= 0 {
			id = acts[i].ID
		}
		got = append(got, id)
	}
	if want := []string{"first", "first", "second", "first", "second", "second"}; !slices.Equal(got, want) {
		t.Fatalf("joined %v, want %v", got, want)
	}
}

// TestJoinTooManyActions: a session with more than MaxActions item actions joins nothing.
func TestJoinTooManyActions(t *testing.T) {
	t.Parallel()
	acts := make([]Action, MaxActions+1)
	for i := range acts {
		acts[i] = Action{ID: fmt.Sprint(i), Kind: RestoreTo, Items: []string{fmt.Sprint("item ", i)}, At: t0}
	}
	e := ev(upstream.EventTypeRestore, "item 3", time.Second)
	if i := Join(e, acts); i != -1 {
		t.Fatalf("joined %d of %d actions", i, len(acts))
	}
	if i := Join(e, acts[:MaxActions]); i != 3 {
		t.Fatalf("joined %d, want 3", i)
	}
}

// TestEventTypes: each item action kind writes its types (EventTypes and Writes agree); anything
// else none.
func TestEventTypes(t *testing.T) {
	t.Parallel()
	for k, want := range map[Kind][]upstream.RestoreEventType{
		Download: {upstream.EventTypeSave, upstream.EventTypeExport}, Send: {upstream.EventTypeSend},
		RestoreTo: {upstream.EventTypeRestore}, RestoreToOriginal: {upstream.EventTypeRestore}, "STOP": nil,
	} {
		if got := EventTypes(k); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", k, got, want)
		}
		for _, typ := range []upstream.RestoreEventType{upstream.EventTypeNone, upstream.EventTypeSave, upstream.EventTypeExport,
			upstream.EventTypeSend, upstream.EventTypeRestore, upstream.EventTypeView} {
			if got := Writes(k, typ); got != slices.Contains(want, typ) {
				t.Errorf("Writes(%s, %s) = %v", k, typ, got)
			}
		}
	}
}

// A Set's folded names (nameKey) match exactly when the names are equal trimmed and case
// folded (strings.EqualFold), Unicode included: the Kelvin sign is a K, the long s an s, the
// three sigmas one letter; invalid UTF-8 compares as EqualFold reads it.
func TestNameKeyIsEqualFold(t *testing.T) {
	t.Parallel()
	names := []string{"Budget", " budget ", "BUDGET", "Bud get", "Kelvin", "\u212aelvin", "kelvin", "ſtraße", "STRASSE", "Straße",
		"σοφία", "ΣΟΦΊΑ", "ςοφία", "ǅemal", "ǆemal", "Ǆemal", "\xff", "\xfe", "", "   ", "İstanbul", "istanbul", "i̇stanbul"}
	for _, a := range names {
		for _, b := range names {
			ta, tb := strings.TrimSpace(a), strings.TrimSpace(b)
			want := ta != "" && strings.EqualFold(ta, tb)
			if got := nameKey(a) != "" && nameKey(a) == nameKey(b); got != want {
				t.Errorf("%q and %q: one key %v, EqualFold %v", a, b, got, want)
			}
		}
	}
}
