package match

import (
	"net/url"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Item action kinds, as the restore front door's action log records them (issue 25).
const (
	ActionDownload          = string(eventjoin.Download)
	ActionSend              = string(eventjoin.Send)
	ActionRestoreTo         = string(eventjoin.RestoreTo)
	ActionRestoreToOriginal = string(eventjoin.RestoreToOriginal)
)

// ItemAction is an item action a person took on a session through the gateway (the action
// log's DOWNLOAD, SEND, RESTORE_TO and RESTORE_TO_ORIGINAL), as rules join it to VBO's item
// events (JoinAction).
type ItemAction struct {
	// ID is the action's id in the log (RestoreAction.id).
	ID string
	// Kind is one of the Action* kinds.
	Kind string
	// Person, DisplayName and Tenant are who took it (not necessarily who started the session).
	Person, DisplayName, Tenant string
	// Items are the items the person named (a container stands for everything below it).
	Items []ActionItem
	// Destructive: the log marked it destructive (RESTORE_TO_ORIGINAL always; Teams members or
	// settings restores).
	Destructive bool
	// At is when it was begun (recorded before VBO was called); CompletedAt when its outcome
	// was recorded (nil: still running or awaiting approval).
	At          time.Time
	CompletedAt *time.Time
	// NeedsApproval: it waited for a second person's approval, given at ApprovedAt (nil: never,
	// so it never reached VBO).
	NeedsApproval bool
	ApprovedAt    *time.Time
}

// ActionItem is an item an action names.
type ActionItem struct {
	ID, Name string
}

// IsDestructive reports whether the action overwrites live data.
func (a *ItemAction) IsDestructive() bool {
	return a.Destructive || a.Kind == ActionRestoreToOriginal
}

// JoinAction finds the gateway action that wrote item event e, among actions (all of one
// session's item actions): the rule is resolvers/eventjoin's, the same as RestoreAction.events
// and the reaper's settling use (kind, an action that ran, its run widened by eventjoin.Skew,
// the action naming the item first, else the only one in the window). nil when none.
func JoinAction(e *upstream.RestoreSessionEvent, actions []ItemAction) *ItemAction {
	if len(actions) > eventjoin.MaxActions {
		return nil
	}
	// Only the actions that write e's type can join it: the others need no conversion.
	var (
		in  []eventjoin.Action
		idx []int
	)
	for i := range actions {
		if eventjoin.Writes(eventjoin.Kind(actions[i].Kind), e.Type) {
			in = append(in, joinInput(&actions[i]))
			idx = append(idx, i)
		}
	}
	if i := eventjoin.Join(e, in); i >= 0 {
		return &actions[idx[i]]
	}
	return nil
}

// itemJoin joins many events of a session to its item actions (JoinAction's rule), the actions
// converted and their items folded once (eventjoin.NewSet): what the destructive condition and
// a payload's actors use for a session's events, instead of JoinAction per event.
type itemJoin struct {
	actions []ItemAction
	set     *eventjoin.Set // nil: no actions, or too many to join
}

func newItemJoin(actions []ItemAction) *itemJoin {
	j := &itemJoin{actions: actions}
	if len(actions) == 0 || len(actions) > eventjoin.MaxActions {
		return j
	}
	in := make([]eventjoin.Action, len(actions))
	for i := range actions {
		in[i] = joinInput(&actions[i])
	}
	j.set = eventjoin.NewSet(in)
	return j
}

// action is JoinAction(e, j.actions).
func (j *itemJoin) action(e *upstream.RestoreSessionEvent) *ItemAction {
	if j.set == nil {
		return nil
	}
	if i := j.set.Join(e); i >= 0 {
		return &j.actions[i]
	}
	return nil
}

// destructive is EventDestructive(e, j.actions).
func (j *itemJoin) destructive(e *upstream.RestoreSessionEvent) bool {
	if a := j.action(e); a != nil {
		return a.IsDestructive()
	}
	return RestoresToOriginal(e)
}

// joinInput is a as the join reads it.
func joinInput(a *ItemAction) eventjoin.Action {
	j := eventjoin.Action{ID: a.ID, Kind: eventjoin.Kind(a.Kind), At: a.At, CompletedAt: a.CompletedAt,
		NeedsApproval: a.NeedsApproval, ApprovedAt: a.ApprovedAt, Items: make([]string, len(a.Items))}
	for i, it := range a.Items {
		j.Items[i] = it.Name
	}
	return j
}

// EventDestructive reports whether item event e restored an item to its original location.
// The gateway's record decides when the event joins one of its actions (JoinAction): a
// RESTORE_TO_ORIGINAL (or another action the log marked destructive) is, anything else is not.
// Otherwise (a restore outside the gateway) the event decides (RestoresToOriginal).
func EventDestructive(e *upstream.RestoreSessionEvent, actions []ItemAction) bool {
	if a := JoinAction(e, actions); a != nil {
		return a.IsDestructive()
	}
	return RestoresToOriginal(e)
}

// RestoresToOriginal reports whether VBO item event e, on its own, is a restore to the item's
// original location. VBO documents no wording for its item events; the rule reads the event's
// type, source (the item's path: container\folder\...\item) and target:
//
//   - only a Restore event can be (Save, Export, Send and View copy data out, never over it);
//   - an empty target is: VBO names a target only when the data went elsewhere;
//   - a target naming a container alone is: a mailbox or team (an e-mail address or a name), a
//     OneDrive or site (https://host/personal/x, https://host/sites/x, https://host/teams/x,
//     or the host's root site). A restore elsewhere always names a location inside its target
//     container (restoreTo's mailbox\folder, copyTo's OneDrive URL/folder, SharePoint
//     restoreTo's site URL/list);
//   - a target naming a location inside a container (the part after the first "\", or the URL
//     path after the site, URL-decoded, a leading "Lists" dropped) is when that location is on
//     the item's own path (source without its container, compared folder by folder, case
//     folded): a channel's posts restored to team\channel, a library restored to its URL.
//
// Its limits, by construction: a restore elsewhere into a folder, library or list with the
// same name as the item's own (another mailbox's "Inbox", another site's "Shared Documents")
// counts as destructive (an extra alert, not a missed one); and a restore to the original
// location VBO reported with a target in a shape not listed above (a deeper folder path than
// the item's) counts as not destructive. Sessions through the gateway do not depend on it
// (EventDestructive reads the gateway's own record first).
func RestoresToOriginal(e *upstream.RestoreSessionEvent) bool {
	if e.Type != upstream.EventTypeRestore {
		return false
	}
	target := strings.TrimRight(strings.TrimSpace(e.Target), `/\`)
	if target == "" {
		return true
	}
	inside := locationInside(target)
	if len(inside) == 0 {
		return true
	}
	path := splitPath(e.Source)
	if len(path) < 2 {
		return false
	}
	folders := path[1:] // without the container
	if len(inside) > len(folders) {
		return false
	}
	for i, seg := range inside {
		if !strings.EqualFold(seg, folders[i]) {
			return false
		}
	}
	return true
}

// locationInside is the part of a restore target below its container, as path segments (nil:
// the target names a container alone).
func locationInside(target string) []string {
	if u, err := url.Parse(target); err == nil && u.Scheme != "" && u.Host != "" {
		segs := splitPath(u.Path)
		if len(segs) >= 2 && isSiteCollection(segs[0]) {
			segs = segs[2:] // sites/x, personal/x, teams/x
		}
		if len(segs) > 0 && strings.EqualFold(segs[0], "Lists") {
			segs = segs[1:]
		}
		return segs
	}
	if _, rest, ok := strings.Cut(target, `\`); ok {
		return splitPath(rest)
	}
	return nil
}

func isSiteCollection(seg string) bool {
	switch strings.ToLower(seg) {
	case "sites", "personal", "teams":
		return true
	}
	return false
}

// splitPath splits a path on "\" and "/", dropping empty segments.
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.FieldsFunc(p, func(r rune) bool { return r == '\\' || r == '/' }) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// sessionDestructive reports whether the session holds a destructive restore: an item event
// that restored an item to its original location (EventDestructive), or a destructive action
// the gateway recorded on it, whatever its outcome (an attempt, refused or awaiting approval,
// is still one).
func sessionDestructive(events []upstream.RestoreSessionEvent, actions []ItemAction) bool {
	for i := range actions {
		if actions[i].IsDestructive() {
			return true
		}
	}
	if len(events) == 0 {
		return false
	}
	j := newItemJoin(actions)
	for i := range events {
		if j.destructive(&events[i]) {
			return true
		}
	}
	return false
}
