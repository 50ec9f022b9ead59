// Package eventjointest holds one session's item actions and VBO item events, and which action
// each event joins (resolvers/eventjoin), for the join's callers to show they agree on it: the
// resolvers' RestoreAction.events, the watch rules' webhook actor and the reaper's settling
// from events.
package eventjointest

import (
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// T0 is the fixture's origin: every time is relative to it.
var T0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// Fixture is one session's item actions and events.
type Fixture struct {
	Actions []eventjoin.Action
	// Events are VBO's item events of the session, in order (Order, ID).
	Events []upstream.RestoreSessionEvent
	// Want is the action id each event joins (absent: none).
	Want map[string]string
}

// Action ids of the fixture.
const (
	First   = "first"   // RESTORE_TO of Budget and Minutes, T0 .. T0+1m
	Second  = "second"  // RESTORE_TO of Budget again, from T0+4m, running
	Orig    = "orig"    // RESTORE_TO_ORIGINAL of the folder Inbox, T0+30m .. T0+31m
	Mail    = "mail"    // SEND of Budget, T0 .. T0+1m
	Waiting = "waiting" // RESTORE_TO_ORIGINAL of Budget at T0+10s, waiting for approval
)

// New is the fixture (a fresh copy each call).
func New() Fixture {
	at := func(d time.Duration) *time.Time {
		t := T0.Add(d)
		return &t
	}
	f := Fixture{
		Actions: []eventjoin.Action{
			{ID: First, Kind: eventjoin.RestoreTo, Items: []string{"Budget", "Minutes"}, At: T0, CompletedAt: at(time.Minute)},
			{ID: Second, Kind: eventjoin.RestoreTo, Items: []string{"Budget"}, At: T0.Add(4 * time.Minute)},
			{ID: Orig, Kind: eventjoin.RestoreToOriginal, Items: []string{"Inbox"}, At: T0.Add(30 * time.Minute), CompletedAt: at(31 * time.Minute)},
			{ID: Mail, Kind: eventjoin.Send, Items: []string{"Budget"}, At: T0, CompletedAt: at(time.Minute)},
			{ID: Waiting, Kind: eventjoin.RestoreToOriginal, Items: []string{"Budget"}, At: T0.Add(10 * time.Second), NeedsApproval: true},
		},
		Want: map[string]string{},
	}
	add := func(id string, typ upstream.RestoreEventType, item string, st upstream.RestoreEventStatus, d time.Duration, want string) {
		f.Events = append(f.Events, upstream.RestoreSessionEvent{ID: id, Order: len(f.Events), Type: typ, ItemName: item, Status: st,
			StartTime: T0.Add(d), Message: string(typ) + " " + item})
		if want != "" {
			f.Want[id] = want
		}
	}
	add("before", upstream.EventTypeRestore, "Budget", upstream.EventStatusSuccess, -time.Hour, "")          // before any window
	add("budget-1", upstream.EventTypeRestore, "Budget", upstream.EventStatusSuccess, 10*time.Second, First) // not the waiting one: it never ran
	add("minutes-1", upstream.EventTypeRestore, "Minutes", upstream.EventStatusFailed, 20*time.Second, First)
	add("sent", upstream.EventTypeSend, "Budget", upstream.EventStatusSuccess, 15*time.Second, Mail)
	add("exported", upstream.EventTypeExport, "Budget", upstream.EventStatusSuccess, 15*time.Second, "")                      // no download
	add("budget-skew", upstream.EventTypeRestore, "Budget", upstream.EventStatusWarning, 2*time.Minute+20*time.Second, First) // in both windows: nearer the first's run
	add("budget-2", upstream.EventTypeRestore, "Budget", upstream.EventStatusSkipped, 4*time.Minute+time.Second, Second)      // the second's run
	add("inbox", upstream.EventTypeRestore, "Inbox", upstream.EventStatusSuccess, 30*time.Minute+5*time.Second, Orig)
	add("message", upstream.EventTypeRestore, "Message 7", upstream.EventStatusSuccess, 30*time.Minute+6*time.Second, "") // orig and second (running) both unnamed: no guess
	add("minutes-late", upstream.EventTypeRestore, "Minutes", upstream.EventStatusSuccess, 10*time.Minute, Second)        // only the second runs then
	return f
}

// Joined are the ids of the events that join action id, in order.
func (f Fixture) Joined(id string) []string {
	var out []string
	for _, e := range f.Events {
		if f.Want[e.ID] == id {
			out = append(out, e.ID)
		}
	}
	return out
}
