package loaders

import (
	"context"
	"errors"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// panicky is an Upstream whose every call panics, as a bug in a decoder or a mapper would.
type panicky struct{ *fakeUp }

func (panicky) Organizations(context.Context) ([]upstream.Organization, error) { panic("boom") }

func (panicky) RestoreSessions(context.Context, upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	panic("boom")
}

func (panicky) RestoreSessionEvents(context.Context, string, upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	panic("boom")
}

// A panic in a loader goroutine becomes that key's error; the process keeps running.
func TestLoaderPanicsBecomeErrors(t *testing.T) {
	b, err := NewBackend([]VBOServer{{Name: "syd1", APIVersion: "v6", Client: panicky{newFake(3, 1, 0)}}}, Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	l := b.New()
	ctx := context.Background()
	if _, err := l.Organizations(ctx, "syd1"); !errors.Is(err, ErrPanic) {
		t.Errorf("Organizations: err = %v, want ErrPanic", err)
	}
	if _, err := l.RestoreSessionEvents(ctx, EventsQuery{Server: "syd1", SessionID: "s1", Need: 1, Limit: 3}); !errors.Is(err, ErrPanic) {
		t.Errorf("RestoreSessionEvents: err = %v, want ErrPanic", err)
	}
	if _, err := l.OrgRestoreSessions(ctx, NewOrgSessionsKey("syd1", "Org", Window{}, nil, 11, nil)); !errors.Is(err, ErrPanic) {
		t.Errorf("OrgRestoreSessions: err = %v, want ErrPanic", err)
	}
	page := l.MergedRestoreSessions(ctx, []string{"syd1"}, Window{}, nil, 10, nil)
	if !errors.Is(page.Errors["syd1"], ErrPanic) {
		t.Errorf("MergedRestoreSessions: errors = %v, want ErrPanic for syd1", page.Errors)
	}
}
