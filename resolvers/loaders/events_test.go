package loaders

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// markedSession is n events with the start/stop markers (type None) first and last.
func markedSession(id string, n int) []upstream.RestoreSessionEvent {
	evs := make([]upstream.RestoreSessionEvent, n)
	for i := range evs {
		evs[i] = upstream.RestoreSessionEvent{ID: fmt.Sprintf("%s-e%d", id, i), Order: i, Type: "Restore"}
	}
	evs[0].Type, evs[n-1].Type = "None", "None"
	return evs
}

func itemsOnly(e *upstream.RestoreSessionEvent) bool { return e.Type != "None" }

func eventIDs(evs []upstream.RestoreSessionEvent) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func TestEventsPages(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		cfg       Config
		q         EventsQuery
		calls     int
		first     string // first event kept ("" none)
		kept      int
		next      int
		end       bool
		total     int // -1: unknown
		offsetOne int // upstream offset of the first event kept
	}{
		{"a page from the start: one call", Config{}, EventsQuery{Need: 6, Limit: 8},
			1, "s-e1", 6, 8, false, -1, 1},
		{"a page that reaches the end from the start knows the total", Config{}, EventsQuery{Need: 30, Limit: 30},
			1, "s-e1", 23, 25, true, 23, 1},
		{"a page from an offset: one call, the rest of the session", Config{}, EventsQuery{After: 20, Need: 6, Limit: 8},
			1, "s-e20", 4, 25, true, -1, 20},
		{"totalCount within the counted events", Config{EventsPageSize: 10, EventsCounted: 100}, EventsQuery{Need: 3, Limit: 5, Count: true},
			3, "s-e1", 3, 25, true, 23, 1},
		{"totalCount beyond the counted events: unknown, the page from the walk", Config{EventsPageSize: 4, EventsCounted: 10}, EventsQuery{Need: 3, Limit: 5, Count: true},
			3, "s-e1", 3, 10, false, -1, 1},
		{"totalCount beyond the counted events, the page after them: one more call", Config{EventsPageSize: 4, EventsCounted: 10}, EventsQuery{After: 18, Need: 3, Limit: 5, Count: true},
			4, "s-e18", 3, 23, false, -1, 18},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(1, 1, 0)
			f.events["s"] = markedSession("s", 25)
			tc.cfg.ListingTTL = -1
			b := newBackend(t, f, tc.cfg)
			q := tc.q
			q.Server, q.SessionID, q.Match, q.FilterKey = "srv", "s", itemsOnly, "items"
			page, err := b.New().RestoreSessionEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if f.n("events") != tc.calls {
				t.Errorf("%d calls, want %d", f.n("events"), tc.calls)
			}
			if len(page.Events) != tc.kept || len(page.Offsets) != tc.kept || tc.kept > 0 && (page.Events[0].ID != tc.first || page.Offsets[0] != tc.offsetOne) {
				t.Errorf("kept %v at %v, want %d from %s at %d", eventIDs(page.Events), page.Offsets, tc.kept, tc.first, tc.offsetOne)
			}
			if page.Next != tc.next || page.End != tc.end {
				t.Errorf("next %d end %v, want %d %v", page.Next, page.End, tc.next, tc.end)
			}
			switch {
			case tc.total < 0 && page.Total != nil:
				t.Errorf("total %d, want unknown", *page.Total)
			case tc.total >= 0 && (page.Total == nil || *page.Total != tc.total):
				t.Errorf("total %v, want %d", page.Total, tc.total)
			}
		})
	}
}

// Two equal queries in one request read once.
func TestEventsMemoisedPerRequest(t *testing.T) {
	f := newFake(1, 1, 0)
	f.events["s"] = markedSession("s", 25)
	b := newBackend(t, f, Config{ListingTTL: -1})
	l := b.New()
	q := EventsQuery{Server: "srv", SessionID: "s", Need: 3, Limit: 5, Match: itemsOnly, FilterKey: "items"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := l.RestoreSessionEvents(context.Background(), q); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.n("events"); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	q.FilterKey = "other"
	if _, err := l.RestoreSessionEvents(context.Background(), q); err != nil || f.n("events") != 2 {
		t.Errorf("another filter: %v, %d calls", err, f.n("events"))
	}
}

// generated serves a session of n events made up page by page (nothing held), and records the
// live heap at each call.
type generated struct {
	*fakeUp
	n, calls int
	served   int
	peak     uint64
	base     uint64
}

func (g *generated) RestoreSessionEvents(_ context.Context, id string, o upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	g.calls++
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g.peak = max(g.peak, ms.HeapAlloc)
	page := &upstream.Page[upstream.RestoreSessionEvent]{Offset: o.Offset, Limit: o.Limit}
	for i := o.Offset; i < min(o.Offset+o.Limit, g.n); i++ {
		page.Results = append(page.Results, upstream.RestoreSessionEvent{ID: fmt.Sprintf("%s-%07d", id, i), Order: i, Type: "Restore",
			Message: "Restoring item", ItemName: fmt.Sprintf("Quarterly report %d.xlsx", i), Source: "/sites/finance/Shared Documents"})
	}
	g.served += len(page.Results)
	return page, nil, nil
}

// totalCount on a session of 1,000,000 events reads EventsCounted of them, one page at a time:
// the heap never holds more than a couple of pages, whatever the walk's length.
func TestEventsCountStreamsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 200,000 generated events")
	}
	g := &generated{fakeUp: newFake(1, 1, 0), n: 1_000_000}
	b, err := NewBackend([]VBOServer{{Name: "srv", APIVersion: "v6", Client: g}}, Config{ListingTTL: -1, EventsPageSize: 10_000, EventsCounted: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g.base = ms.HeapAlloc
	page, err := b.New().RestoreSessionEvents(context.Background(), EventsQuery{Server: "srv", SessionID: "big", Final: true, Need: 2, Limit: 4, Count: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.calls != 20 || g.served != 200_000 || page.Total != nil || page.End || len(page.Events) != 2 {
		t.Fatalf("%d calls, %d served, total %v, end %v, %d kept", g.calls, g.served, page.Total, page.End, len(page.Events))
	}
	t.Logf("live heap grew by %.1f MiB at most", float64(int64(g.peak)-int64(g.base))/(1<<20))
	// One generated page is about 2 MiB live; holding all 20 would be 40 MiB and more.
	if grew := int64(g.peak) - int64(g.base); grew > 12<<20 {
		t.Errorf("live heap grew by %d MiB during the walk, want a couple of pages at most", grew>>20)
	}
	// Nothing of a session read in several pages is cached (it would hold them all).
	if _, ok := b.cachedEvents("srv", "big"); ok {
		t.Error("a multi-page session was cached")
	}
	// Without totalCount, a page is one call whatever the session's size.
	g.calls = 0
	if _, err := b.New().RestoreSessionEvents(context.Background(), EventsQuery{Server: "srv", SessionID: "big", Need: 2, Limit: 4}); err != nil || g.calls != 1 {
		t.Errorf("page: %v, %d calls", err, g.calls)
	}
}
