package loaders

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// endless answers every events page with the same full page, as a server ignoring offset would;
// with distinct set, with a full page of new events at every offset (pagination that follows
// offset but never ends).
type endless struct {
	*fakeUp
	distinct bool
	calls    int
}

func (e *endless) RestoreSessionEvents(_ context.Context, _ string, o upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	e.calls++
	first := 0
	if e.distinct {
		first = o.Offset
	}
	page := &upstream.Page[upstream.RestoreSessionEvent]{Limit: o.Limit}
	for i := range o.Limit {
		page.Results = append(page.Results, upstream.RestoreSessionEvent{ID: fmt.Sprintf("e%d", first+i)})
	}
	return page, nil, nil
}

// A server whose pagination never ends is refused after the repeated page, not walked for ever.
func TestEventsWalkStopsOnRepeatedPage(t *testing.T) {
	up := &endless{fakeUp: newFake(1, 1, 0)}
	b, err := NewBackend([]VBOServer{{Name: "srv", Client: up}}, Config{ListingTTL: -1, EventsPageSize: 50, EventsCounted: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.New().RestoreSessionEvents(context.Background(), EventsQuery{Server: "srv", SessionID: "s0", Final: true, Need: 1, Limit: 3, Count: true})
	var ue *upstream.Error
	if !errors.Is(err, ErrUpstreamPaging) || !errors.As(err, &ue) || ue.Server != "srv" || ue.Unavailable() {
		t.Fatalf("err = %v, want an upstream error of srv wrapping ErrUpstreamPaging", err)
	}
	if up.calls != 2 {
		t.Errorf("%d events calls, want 2 (the repeat is seen on the second page)", up.calls)
	}
}
