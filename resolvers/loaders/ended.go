package loaders

import (
	"context"
	"fmt"
	"iter"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// maxEndedEvents bounds EndedSessionEvents: a server still sending pages past it has pagination
// that does not end.
const maxEndedEvents = 1_000_000

// EndedSessionEvents yields every event of a session that has ended, in order: from the
// immutable cache when it holds them, else page by page from the session's server (one page in
// memory at a time), refusing a server that repeats a page or pages past maxEndedEvents. A
// session whose events fit one page is cached, so the next subscriber to it calls no server.
// The caller has checked the session's scope.
func (b *Backend) EndedSessionEvents(ctx context.Context, server, sessionID string) iter.Seq2[upstream.RestoreSessionEvent, error] {
	return func(yield func(upstream.RestoreSessionEvent, error) bool) {
		if all, ok := b.cachedEvents(server, sessionID); ok {
			for _, e := range all {
				if !yield(e, nil) {
					return
				}
			}
			return
		}
		s, ok := b.Server(server)
		if !ok {
			yield(upstream.RestoreSessionEvent{}, fmt.Errorf("server %q: %w", server, ErrUnknownServer))
			return
		}
		limit, guard := b.cfg.EventsPageSize, repeatGuard{}
		for offset := 0; ; {
			if offset >= maxEndedEvents {
				yield(upstream.RestoreSessionEvent{}, eventsPagingError(server, fmt.Sprintf("pagination does not end (over %d events)", maxEndedEvents), ErrUpstreamPaging))
				return
			}
			p, _, err := s.Client.RestoreSessionEvents(ctx, sessionID, upstream.ListOptions{Limit: limit, Offset: offset})
			if err == nil {
				if err = guard.check(sessionID, offset, p.Results); err != nil {
					err = eventsPagingError(server, "pagination does not end", err)
				}
			}
			if err != nil {
				yield(upstream.RestoreSessionEvent{}, err)
				return
			}
			last := p.Last(limit)
			if last && offset == 0 {
				b.rememberEvents(server, sessionID, p.Results) // read whole: as readEvents does
			}
			for _, e := range p.Results {
				if !yield(e, nil) {
					return
				}
			}
			if last {
				return
			}
			offset += len(p.Results)
		}
	}
}
