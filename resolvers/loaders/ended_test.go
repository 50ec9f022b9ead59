package loaders

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestEndedSessionEvents(t *testing.T) {
	ctx := context.Background()
	collect := func(b *Backend, id string, stopAfter int) ([]string, error) {
		var got []string
		for e, err := range b.EndedSessionEvents(ctx, "srv", id) {
			if err != nil {
				return got, err
			}
			got = append(got, e.ID)
			if len(got) == stopAfter {
				break
			}
		}
		return got, nil
	}
	t.Run("pages of the server, in order", func(t *testing.T) {
		f := newFake(1, 1, 0)
		f.events["s"] = markedSession("s", 25)
		b := newBackend(t, f, Config{EventsPageSize: 10, ListingTTL: -1})
		got, err := collect(b, "s", -1)
		if err != nil || !slices.Equal(got, eventIDs(f.events["s"])) {
			t.Fatalf("got %v, %v", got, err)
		}
		if f.n("events") != 3 {
			t.Errorf("%d calls for 25 events in pages of 10, want 3", f.n("events"))
		}
	})
	t.Run("a full last page ends at the empty next one", func(t *testing.T) {
		f := newFake(1, 1, 0)
		f.events["s"] = markedSession("s", 20)
		b := newBackend(t, f, Config{EventsPageSize: 10, ListingTTL: -1})
		if got, err := collect(b, "s", -1); err != nil || len(got) != 20 || f.n("events") != 3 {
			t.Fatalf("got %d events in %d calls, %v", len(got), f.n("events"), err)
		}
	})
	t.Run("read whole in one page: cached for the next reader", func(t *testing.T) {
		f := newFake(1, 1, 0)
		f.events["s"] = markedSession("s", 5)
		b := newBackend(t, f, Config{EventsPageSize: 10, ListingTTL: -1})
		for range 2 {
			if got, err := collect(b, "s", -1); err != nil || !slices.Equal(got, eventIDs(f.events["s"])) {
				t.Fatalf("got %v, %v", got, err)
			}
		}
		if f.n("events") != 1 {
			t.Errorf("%d calls for two reads of 5 events in pages of 10, want 1", f.n("events"))
		}
	})
	t.Run("read in several pages: not cached", func(t *testing.T) {
		f := newFake(1, 1, 0)
		f.events["s"] = markedSession("s", 15)
		b := newBackend(t, f, Config{EventsPageSize: 10, ListingTTL: -1})
		if _, err := collect(b, "s", -1); err != nil {
			t.Fatal(err)
		}
		if _, ok := b.cachedEvents("srv", "s"); ok {
			t.Error("a session read in two pages was cached")
		}
	})
	t.Run("from the immutable cache, no call", func(t *testing.T) {
		f := newFake(1, 1, 0)
		b := newBackend(t, f, Config{ListingTTL: -1})
		b.rememberEvents("srv", "cached", markedSession("cached", 4))
		if got, err := collect(b, "cached", -1); err != nil || !slices.Equal(got, eventIDs(markedSession("cached", 4))) || f.n("events") != 0 {
			t.Fatalf("got %v in %d calls, %v", got, f.n("events"), err)
		}
	})
	t.Run("the consumer stops early: no further call", func(t *testing.T) {
		f := newFake(1, 1, 0)
		f.events["s"] = markedSession("s", 25)
		b := newBackend(t, f, Config{EventsPageSize: 10, ListingTTL: -1})
		if got, _ := collect(b, "s", 3); len(got) != 3 || f.n("events") != 1 {
			t.Fatalf("got %d events in %d calls", len(got), f.n("events"))
		}
	})
	t.Run("an unknown server", func(t *testing.T) {
		b := newBackend(t, newFake(1, 1, 0), Config{ListingTTL: -1})
		var err error
		n := 0
		for _, err = range b.EndedSessionEvents(ctx, "nowhere", "s") {
			n++
		}
		if n != 1 || !errors.Is(err, ErrUnknownServer) {
			t.Fatalf("%d yields, last err = %v; want one ErrUnknownServer", n, err)
		}
	})
	for _, tt := range []struct {
		name       string
		distinct   bool
		pageSize   int
		wantCalls  int
		wantEvents int // yielded before the error
	}{
		{"a server that repeats a page: refused at the repeat", false, 10, 2, 10},
		{"pagination past maxEndedEvents", true, 10000, maxEndedEvents / 10000, maxEndedEvents},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := &endless{fakeUp: newFake(1, 1, 0), distinct: tt.distinct}
			b, err := NewBackend([]VBOServer{{Name: "srv", Client: up}}, Config{ListingTTL: -1, EventsPageSize: tt.pageSize})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, err = range b.EndedSessionEvents(ctx, "srv", "s") {
				if err != nil {
					break
				}
				n++
			}
			var ue *upstream.Error
			if !errors.Is(err, ErrUpstreamPaging) || !errors.As(err, &ue) || ue.Server != "srv" || ue.Unavailable() {
				t.Fatalf("err = %v, want an upstream error of srv wrapping ErrUpstreamPaging", err)
			}
			if up.calls != tt.wantCalls || n != tt.wantEvents {
				t.Errorf("%d events in %d calls before the error, want %d in %d", n, up.calls, tt.wantEvents, tt.wantCalls)
			}
		})
	}
}
