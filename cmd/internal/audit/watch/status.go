package watch

import (
	"context"
	"errors"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

var _ resolvers.WatchStatus = (*Watcher)(nil)

// WatchState reads a server's state from the store, so every replica answers alike whichever
// polls.
func (w *Watcher) WatchState(ctx context.Context, server string) (resolvers.WatchState, error) {
	st, err := w.o.Store.State(ctx, server)
	if errors.Is(err, store.ErrNotFound) {
		return resolvers.WatchState{}, nil
	}
	if err != nil {
		return resolvers.WatchState{}, err
	}
	return resolvers.WatchState{LastPoll: st.LastPoll, ArchivedSessions: st.Archived, BackfillDone: st.BackfillDone,
		BackfillFrom: st.BackfillFrom, BackfillProgress: st.BackfillProgress(), LastError: st.LastError}, nil
}
