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

// A request's archive list reads, asked at once, are one read with every query, each caller
// answered its own list (the same query twice too); a failed read, or one answering a wrong
// number of lists, fails every caller; without loaders in the context each list is read alone.
func TestArchiveListBatch(t *testing.T) {
	t.Parallel()
	b, err := NewBackend(nil, Config{ListingTTL: -1, BatchWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	type query struct{ org string }
	for _, tc := range []struct {
		name      string
		loaders   bool
		answer    func(qs []query) ([]string, error)
		wantReads int
		wantErr   bool
	}{
		{"batched", true, func(qs []query) ([]string, error) {
			out := make([]string, len(qs))
			for i, q := range qs {
				out[i] = "list of " + q.org
			}
			return out, nil
		}, 1, false},
		{"failed read", true, func([]query) ([]string, error) { return nil, errors.New("archive down") }, 1, true},
		{"one list short", true, func(qs []query) ([]string, error) { return make([]string, len(qs)-1), nil }, 1, true},
		{"no loaders", false, func(qs []query) ([]string, error) { return []string{"list of " + qs[0].org}, nil }, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			reads := 0
			read := func(_ context.Context, qs []query) ([]string, error) {
				mu.Lock()
				reads++
				mu.Unlock()
				return tc.answer(qs)
			}
			ctx := context.Background()
			if tc.loaders {
				ctx = With(ctx, b.New())
			}
			orgs := []string{"a", "b", "c", "a", "d"}
			got, errs := make([]string, len(orgs)), make([]error, len(orgs))
			var wg sync.WaitGroup
			for i, org := range orgs {
				wg.Go(func() { got[i], errs[i] = ArchiveList(ctx, query{org}, read) })
			}
			wg.Wait()
			if reads != tc.wantReads {
				t.Errorf("%d reads, want %d", reads, tc.wantReads)
			}
			for i, org := range orgs {
				if tc.wantErr {
					if errs[i] == nil {
						t.Errorf("list of %s: no error", org)
					}
				} else if errs[i] != nil || got[i] != "list of "+org {
					t.Errorf("list of %s = %q, %v", org, got[i], errs[i])
				}
			}
		})
	}
}
