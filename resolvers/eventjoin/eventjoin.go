// Package eventjoin joins VBO's per-item restore events to the item actions the gateway
// recorded on the same session (DOWNLOAD, SEND, RESTORE_TO, RESTORE_TO_ORIGINAL). It is the one
// rule behind RestoreAction.events (resolvers), a webhook payload's actor and destructive flag
// (cmd/internal/audit/match) and the reaper's settling of a pending action from archived events
// (cmd/internal/restore/frontdoor): given the same event and the same session's actions, all
// three attribute it to the same action, or to none.
//
// VBO writes one event per item an action touched, in the session the action ran in; it names
// the item, not the request. An event joins at most one action, chosen by Join:
//
//  1. kind: Save or Export events join DOWNLOADs, Send events SENDs, Restore events RESTORE_TOs
//     and RESTORE_TO_ORIGINALs; any other event joins nothing;
//  2. the action ran: one that needed approval and has none (waiting, or expired unapproved)
//     never called VBO and joins nothing;
//  3. window: the event started within the action's run, widened by Skew on both sides. The run
//     begins when the action was recorded (when it was approved, for an approved one) and ends
//     when its outcome was recorded; it is open while the action has no outcome (a v8 restore
//     VBO had not finished, an action the reaper has yet to settle);
//  4. named first: among the actions whose window holds the event, those naming the event's item
//     (item names as browsed, trimmed, case folded) win. Among several: the one whose run is
//     nearest the event's start (0 inside it), then the latest begun (a retry names the same
//     items again), then the smallest id: the answer does not depend on the actions' order;
//  5. otherwise the only one: when none names the item, the one action writing the event's type
//     whose window holds the event (an action on a folder, mailbox, site or channel names the container, not
//     the items VBO writes events for); with several, none: the join is never guessed.
//
// Callers pass every item action of the session (at most MaxActions); with more, Join joins
// nothing, since not every caller could read them all. A caller joining many events (a
// session's archive: RestoreAction.events, the reaper) prepares the actions once (NewSet), so
// that an event costs one lookup per action, not one comparison per item of every action.
package eventjoin

import (
	"strings"
	"time"
	"unicode"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Kind is an item action's kind, as the restore front door's action log records it.
type Kind string

// The item action kinds.
const (
	Download          Kind = "DOWNLOAD"
	Send              Kind = "SEND"
	RestoreTo         Kind = "RESTORE_TO"
	RestoreToOriginal Kind = "RESTORE_TO_ORIGINAL"
)

// Skew is the margin around an action's run within which its events may start: VBO's clock and
// the gateway's may differ.
const Skew = 2 * time.Minute

// MaxActions bounds the item actions of one session Join considers (see the package comment).
// Callers read at most MaxActions+1 to tell a session with more.
const MaxActions = 400

// Action is an item action as the join sees it.
type Action struct {
	// ID is the action's id in the log (RestoreAction.id): the last tie-break.
	ID   string
	Kind Kind
	// Items are the names of the items the action named, as browsed ("" names none).
	Items []string
	// At is when it was recorded (before VBO was called).
	At time.Time
	// NeedsApproval: it waited for a second person's approval; ApprovedAt is when it was given
	// (nil: never, so VBO was never called).
	NeedsApproval bool
	ApprovedAt    *time.Time
	// CompletedAt is when its outcome was recorded (nil: none yet).
	CompletedAt *time.Time
}

// EventTypes are the VBO event types an action of kind k writes (nil: not an item action).
func EventTypes(k Kind) []upstream.RestoreEventType {
	switch k {
	case Download:
		return []upstream.RestoreEventType{upstream.EventTypeSave, upstream.EventTypeExport}
	case Send:
		return []upstream.RestoreEventType{upstream.EventTypeSend}
	case RestoreTo, RestoreToOriginal:
		return []upstream.RestoreEventType{upstream.EventTypeRestore}
	}
	return nil
}

// Writes reports whether an action of kind k writes events of type t (one of EventTypes(k)).
func Writes(k Kind, t upstream.RestoreEventType) bool {
	switch t {
	case upstream.EventTypeSave, upstream.EventTypeExport:
		return k == Download
	case upstream.EventTypeSend:
		return k == Send
	case upstream.EventTypeRestore:
		return k == RestoreTo || k == RestoreToOriginal
	}
	return false
}

// begun is when the action called VBO; ok false when it never did.
func (a *Action) begun() (time.Time, bool) {
	switch {
	case a.ApprovedAt != nil:
		return *a.ApprovedAt, true
	case a.NeedsApproval:
		return time.Time{}, false
	}
	return a.At, true
}

// distance is how far t lies outside a's run (0 inside it); ok false when t is outside its
// window (the run widened by Skew) or a never ran.
func (a *Action) distance(t time.Time) (time.Duration, bool) {
	from, ran := a.begun()
	if !ran {
		return 0, false
	}
	var d time.Duration
	switch {
	case t.Before(from):
		d = from.Sub(t)
	case a.CompletedAt != nil && t.After(*a.CompletedAt):
		d = t.Sub(*a.CompletedAt)
	}
	return d, d <= Skew
}

// Set is one session's item actions prepared for joining many events (Join): each action's
// item names are folded once, so joining an event costs one lookup per action whose window
// holds it, whatever the number of items the actions name. A Set is read only; its Join is
// safe for concurrent use.
type Set struct {
	actions []Action
	names   []map[string]struct{} // by action: its item names, folded (nameKey)
}

// NewSet prepares actions (one session's item actions; the slice is kept, not copied). With
// more than MaxActions, its Join joins nothing.
func NewSet(actions []Action) *Set {
	s := &Set{actions: actions}
	if len(actions) > MaxActions {
		return s
	}
	s.names = make([]map[string]struct{}, len(actions))
	for i := range actions {
		m := make(map[string]struct{}, len(actions[i].Items))
		for _, n := range actions[i].Items {
			if k := nameKey(n); k != "" {
				m[k] = struct{}{}
			}
		}
		s.names[i] = m
	}
	return s
}

// nameKey folds an item name as the join compares names: trimmed, and each rune replaced by
// the smallest of its case-folding orbit, so that two names have one key exactly when
// strings.EqualFold holds between them trimmed. "" for a name that is blank.
func nameKey(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// Join is the index in actions (one session's item actions) of the action that wrote item
// event e, or -1 (see the package comment for the rule). It compares e's item with the items of
// the actions whose window holds e only; to join many events against the same actions, prepare
// them once (NewSet).
func Join(e *upstream.RestoreSessionEvent, actions []Action) int {
	if e == nil || len(actions) > MaxActions {
		return -1
	}
	item := strings.TrimSpace(e.ItemName)
	return join(e, actions, func(i int) bool { return actions[i].names(item) })
}

// Join is the index in the set's actions of the action that wrote item event e, or -1.
func (s *Set) Join(e *upstream.RestoreSessionEvent) int {
	if e == nil || s.names == nil {
		return -1
	}
	item := nameKey(e.ItemName)
	return join(e, s.actions, func(i int) bool {
		_, ok := s.names[i][item]
		return ok && item != ""
	})
}

// join is the rule, names(i) telling whether actions[i] names e's item.
func join(e *upstream.RestoreSessionEvent, actions []Action, names func(i int) bool) int {
	named, only, inWindow := -1, -1, 0
	var namedDist time.Duration
	for i := range actions {
		a := &actions[i]
		if !Writes(a.Kind, e.Type) {
			continue
		}
		d, ok := a.distance(e.StartTime)
		if !ok {
			continue
		}
		if names(i) {
			if named < 0 || nearer(a, d, &actions[named], namedDist) {
				named, namedDist = i, d
			}
			continue
		}
		only = i
		inWindow++
	}
	switch {
	case named >= 0:
		return named
	case inWindow == 1:
		return only
	}
	return -1
}

// names reports whether a names item (trimmed; "" names nothing) as EqualFold compares them.
func (a *Action) names(item string) bool {
	if item == "" {
		return false
	}
	for _, n := range a.Items {
		if strings.EqualFold(strings.TrimSpace(n), item) {
			return true
		}
	}
	return false
}

// nearer reports whether a (its run d from the event) is a better match than b (db from it).
func nearer(a *Action, d time.Duration, b *Action, db time.Duration) bool {
	if d != db {
		return d < db
	}
	ab, _ := a.begun()
	bb, _ := b.begun()
	if !ab.Equal(bb) {
		return ab.After(bb)
	}
	return a.ID < b.ID
}
