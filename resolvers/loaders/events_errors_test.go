package loaders

import (
	"context"
	"errors"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// failingEvents answers its first ok events calls as fakeUp does, then fails every one.
type failingEvents struct {
	*fakeUp
	ok, calls int
}

var errEventsDown = &upstream.Error{Server: "srv", StatusCode: 503, Message: "down"}

func (f *failingEvents) RestoreSessionEvents(ctx context.Context, id string, o upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	f.calls++
	if f.calls > f.ok {
		return nil, nil, errEventsDown
	}
	return f.fakeUp.RestoreSessionEvents(ctx, id, o)
}

// TestRestoreSessionEventsErrors: a read of events fails with the server's own error, unchanged
// (not as a paging error), at whichever call it fails: the page's one call, a call counting the
// session, or the page's call after counting; an unknown server is ErrUnknownServer.
func TestRestoreSessionEventsErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		server    string
		ok        int // events calls that succeed
		q         EventsQuery
		want      error
		wantCalls int
	}{
		{name: "unknown server", server: "nowhere", q: EventsQuery{Need: 2, Limit: 3}, want: ErrUnknownServer},
		{name: "the page's call", q: EventsQuery{Need: 2, Limit: 3}, want: errEventsDown, wantCalls: 1},
		{name: "counting, first call", q: EventsQuery{Need: 2, Limit: 3, Count: true}, want: errEventsDown, wantCalls: 1},
		{name: "counting, a later call", ok: 1, q: EventsQuery{Need: 2, Limit: 3, Count: true}, want: errEventsDown, wantCalls: 2},
		// EventsCounted (20) read in two calls, the page lies beyond it: a third call.
		{name: "the page's call after counting", ok: 2, q: EventsQuery{After: 22, Need: 2, Limit: 3, Count: true}, want: errEventsDown, wantCalls: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(1, 1, 0)
			f.events["s"] = markedSession("s", 25)
			up := &failingEvents{fakeUp: f, ok: tc.ok}
			b, err := NewBackend([]VBOServer{{Name: "srv", Client: up}}, Config{ListingTTL: -1, EventsPageSize: 10, EventsCounted: 20})
			if err != nil {
				t.Fatal(err)
			}
			q := tc.q
			q.Server, q.SessionID = "srv", "s"
			if tc.server != "" {
				q.Server = tc.server
			}
			page, err := b.New().RestoreSessionEvents(context.Background(), q)
			if page != nil || !errors.Is(err, tc.want) || errors.Is(err, ErrUpstreamPaging) {
				t.Fatalf("page %v, err %v; want no page and %v", page, err, tc.want)
			}
			if up.calls != tc.wantCalls {
				t.Errorf("%d events calls, want %d", up.calls, tc.wantCalls)
			}
		})
	}
}
