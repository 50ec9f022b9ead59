package loaders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// A request's archive event reads of many sessions, asked at once, are one read per server
// and range, each session answered its own events; a failed read fails its keys only.
func TestArchiveEventsBatch(t *testing.T) {
	t.Parallel()
	b, err := NewBackend(nil, Config{ListingTTL: -1, BatchWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls []string
	read := func(_ context.Context, server string, ids []string, offset, limit int, _ EventOmit) (map[string][]upstream.RestoreSessionEvent, error) {
		mu.Lock()
		calls = append(calls, fmt.Sprintf("%s %d+%d %d ids", server, offset, limit, len(ids)))
		mu.Unlock()
		if server == "bad" {
			return nil, errors.New("archive down")
		}
		out := map[string][]upstream.RestoreSessionEvent{}
		for _, id := range ids {
			if id != "empty" {
				out[id] = []upstream.RestoreSessionEvent{{ID: server + "/" + id + fmt.Sprint("@", offset)}}
			}
		}
		return out, nil
	}
	l := b.New()
	ctx := context.Background()
	keys := []ArchiveEventsKey{{"syd1", "a", 0, 2000, 0}, {"syd1", "b", 0, 2000, 0}, {"syd1", "empty", 0, 2000, 0}, {"syd1", "a", 0, 2000, 0},
		{"mel1", "a", 0, 2000, 0}, {"syd1", "c", 5, 2000, 0}, {"bad", "a", 0, 2000, 0}, {"syd1", "d", 0, 2000, OmitEventTitle}}
	type res struct {
		ev  []upstream.RestoreSessionEvent
		err error
	}
	got := make([]res, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			ev, err := l.ArchiveEvents(ctx, k, read)
			got[i] = res{ev, err}
		})
	}
	wg.Wait()
	for i, k := range keys {
		switch {
		case k.Server == "bad":
			if got[i].err == nil {
				t.Errorf("%v: no error from a failed read", k)
			}
		case k.SessionID == "empty":
			if got[i].err != nil || len(got[i].ev) != 0 {
				t.Errorf("%v = %v, %v; want no events", k, got[i].ev, got[i].err)
			}
		default:
			want := fmt.Sprintf("%s/%s@%d", k.Server, k.SessionID, k.Offset)
			if got[i].err != nil || len(got[i].ev) != 1 || got[i].ev[0].ID != want {
				t.Errorf("%v = %v, %v; want %s", k, got[i].ev, got[i].err, want)
			}
		}
	}
	slices.Sort(calls)
	want := []string{"bad 0+2000 1 ids", "mel1 0+2000 1 ids", "syd1 0+2000 1 ids", "syd1 0+2000 3 ids", "syd1 5+2000 1 ids"} // d: other fields, its own read
	if !slices.Equal(calls, want) {
		t.Errorf("reads = %q, want %q", calls, want)
	}
}
