package loaders

import (
	"context"
	"fmt"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// ArchiveEventsKey names the events at positions [Offset, Offset+Limit) of one archived
// session, read without the fields Omit names.
type ArchiveEventsKey struct {
	Server, SessionID string
	Offset, Limit     int
	Omit              EventOmit
}

// EventOmit names the fields of upstream.RestoreSessionEvent a read may leave zero (the
// response does not show them); the zero value omits none. Order, Type and Status are always
// read.
type EventOmit uint16

// Fields an archive events read may leave out.
const (
	OmitEventID       EventOmit = 1 << iota // ID
	OmitEventTimes                          // StartTime, EndTime
	OmitEventDuration                       // Duration
	OmitEventTitle                          // Title
	OmitEventMessage                        // Message
	OmitEventItemName                       // ItemName
	OmitEventItemType                       // ItemType
	OmitEventItemSize                       // ItemSizeBytes
	OmitEventSource                         // Source
	OmitEventTarget                         // Target
)

// ArchiveEventsReader reads the events at positions [offset, offset+limit) of several sessions
// of one server at once, by session id (a session without events may be absent), without the
// fields omit names.
type ArchiveEventsReader func(ctx context.Context, server string, ids []string, offset, limit int, omit EventOmit) (map[string][]upstream.RestoreSessionEvent, error)

// archiveEventsBatch bounds the sessions one read asks for.
const archiveEventsBatch = 1000

// archiveEventsKey is the request's ArchiveEvents loader in Loaders.extra.
type archiveEventsKey struct{}

// ArchiveEvents reads k's events from the archive through the request's batch: every key
// asked within BatchWait (a response's sessions resolve their events at once) is read in one
// call of read per server and range, instead of one per session. The request's first call
// sets read; every caller passes the same reader.
func (l *Loaders) ArchiveEvents(ctx context.Context, k ArchiveEventsKey, read ArchiveEventsReader) ([]upstream.RestoreSessionEvent, error) {
	ld := perRequest(l, archiveEventsKey{}, func() *dataloader.Loader[ArchiveEventsKey, []upstream.RestoreSessionEvent] {
		return dataloader.NewBatchedLoader(batchArchiveEvents(read),
			dataloader.WithWait[ArchiveEventsKey, []upstream.RestoreSessionEvent](l.b.cfg.BatchWait),
			dataloader.WithBatchCapacity[ArchiveEventsKey, []upstream.RestoreSessionEvent](archiveEventsBatch))
	})
	return ld.Load(ctx, k)()
}

// batchArchiveEvents answers keys with one read per (server, offset, limit, omit), in key order.
func batchArchiveEvents(read ArchiveEventsReader) dataloader.BatchFunc[ArchiveEventsKey, []upstream.RestoreSessionEvent] {
	type group struct {
		server        string
		offset, limit int
		omit          EventOmit
	}
	return func(ctx context.Context, keys []ArchiveEventsKey) []*dataloader.Result[[]upstream.RestoreSessionEvent] {
		results := make([]*dataloader.Result[[]upstream.RestoreSessionEvent], len(keys))
		groups := map[group][]int{}
		var order []group
		for i, k := range keys {
			g := group{k.Server, k.Offset, k.Limit, k.Omit}
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], i)
		}
		for _, g := range order {
			idx := groups[g]
			ids := make([]string, 0, len(idx))
			seen := make(map[string]bool, len(idx))
			for _, i := range idx {
				if id := keys[i].SessionID; !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			got, err := read(ctx, g.server, ids, g.offset, g.limit, g.omit) // a panic: dataloader answers every key with it
			for _, i := range idx {
				if err != nil {
					results[i] = &dataloader.Result[[]upstream.RestoreSessionEvent]{Error: err}
				} else {
					results[i] = &dataloader.Result[[]upstream.RestoreSessionEvent]{Data: got[keys[i].SessionID]}
				}
			}
		}
		return results
	}
}

// archiveListsBatch bounds the lists one read asks for.
const archiveListsBatch = 1000

// archiveListsKey is the request's loader of ArchiveList[Q, V] in Loaders.extra.
type archiveListsKey[Q, V any] struct{}

// ArchiveList reads q's list from the archive through the request's batch: every list asked
// within BatchWait (a response's organisations resolve their sessions at once) is read in one
// call of read (read answers one V per query, in order) instead of one call each. The
// request's first call sets read; every caller passes the same reader. Without loaders in ctx
// q is read alone.
func ArchiveList[Q, V any](ctx context.Context, q Q, read func(context.Context, []Q) ([]V, error)) (V, error) {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		return readOne(ctx, q, read)
	}
	ld := perRequest(l, archiveListsKey[Q, V]{}, func() *dataloader.Loader[*Q, V] {
		// Keys are the callers' own copies: never equal, so nothing to cache.
		return dataloader.NewBatchedLoader(batchArchiveLists(read),
			dataloader.WithWait[*Q, V](l.b.cfg.BatchWait),
			dataloader.WithBatchCapacity[*Q, V](archiveListsBatch),
			dataloader.WithCache[*Q, V](&dataloader.NoCache[*Q, V]{}))
	})
	return ld.Load(ctx, &q)()
}

func readOne[Q, V any](ctx context.Context, q Q, read func(context.Context, []Q) ([]V, error)) (V, error) {
	var zero V
	got, err := read(ctx, []Q{q})
	if err != nil {
		return zero, err
	}
	if len(got) != 1 {
		return zero, fmt.Errorf("loaders: archive lists: %d answers for 1 query", len(got))
	}
	return got[0], nil
}

// batchArchiveLists answers keys with one read, in key order.
func batchArchiveLists[Q, V any](read func(context.Context, []Q) ([]V, error)) dataloader.BatchFunc[*Q, V] {
	return func(ctx context.Context, keys []*Q) []*dataloader.Result[V] {
		qs := make([]Q, len(keys))
		for i, k := range keys {
			qs[i] = *k
		}
		results := make([]*dataloader.Result[V], len(keys))
		got, err := read(ctx, qs) // a panic: dataloader answers every key with it
		if err == nil && len(got) != len(keys) {
			err = fmt.Errorf("loaders: archive lists: %d answers for %d queries", len(got), len(keys))
		}
		for i := range keys {
			if err != nil {
				results[i] = &dataloader.Result[V]{Error: err}
			} else {
				results[i] = &dataloader.Result[V]{Data: got[i]}
			}
		}
		return results
	}
}
