package resolvers

import (
	"slices"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// sessionWindow is the part of the filter VBO applies itself (startTimeFrom/startTimeTo).
func sessionWindow(f *model.RestoreSessionFilter) (loaders.Window, error) {
	if f == nil {
		return loaders.Window{}, nil
	}
	w := loaders.Window{From: utcPtr(f.StartTimeFrom), To: utcPtr(f.StartTimeTo)}
	if w.From != nil && w.To != nil && w.From.After(*w.To) {
		return w, badInputf("filter.startTimeFrom is after filter.startTimeTo")
	}
	return w, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// sessionAttrs matches what the gateway filters itself (model.RestoreSessionFilter's
// MatchesAttributes). It returns nil when the filter asks for none of it.
func sessionAttrs(f *model.RestoreSessionFilter) func(*upstream.RestoreSession) bool {
	if !f.HasAttributes() {
		return nil
	}
	return f.MatchesAttributes
}

// eventMatch matches the event filter; itemsOnly defaults to true.
func eventMatch(f *model.RestoreEventFilter) func(*upstream.RestoreSessionEvent) bool {
	itemsOnly := true
	if f != nil && f.ItemsOnly != nil {
		itemsOnly = *f.ItemsOnly
	}
	return func(e *upstream.RestoreSessionEvent) bool {
		t := model.EventTypeFromVBO(e.Type)
		if itemsOnly && t == model.RestoreEventTypeNone {
			return false
		}
		if f == nil {
			return true
		}
		if len(f.Types) > 0 && !slices.Contains(f.Types, t) {
			return false
		}
		if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, model.EventStatusFromVBO(e.Status)) {
			return false
		}
		return true
	}
}
