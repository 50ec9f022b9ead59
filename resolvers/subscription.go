package resolvers

import (
	"context"
	"time"
)

// WatchState is one server's restore-watch state, as the store records it.
type WatchState struct {
	// LastPoll is the end of the last successful poll (zero before the first).
	LastPoll         time.Time
	ArchivedSessions int64
	BackfillDone     bool
	// LastError is the last poll's error ("" when it succeeded).
	LastError string
}

// WatchStatus reads the restore watch's state; the watcher implements it.
type WatchStatus interface {
	WatchState(ctx context.Context, server string) (WatchState, error)
}
