package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

// TestChangeTokenAndDeletedInVbo: the change token and the deleted marker are written by
// Archive under the lease, in the batch's transaction; a marked session stays archived, keeps
// its first marking time, and is no longer open; a fenced-off writer changes neither.
func TestChangeTokenAndDeletedInVbo(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			if _, err := st.ChangeToken(ctx, "syd1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("token of an unknown server: %v, want ErrNotFound", err)
			}
			l := lease(t, st, "syd1", "a")
			if tok, err := st.ChangeToken(ctx, "syd1"); err != nil || tok != "" {
				t.Fatalf("first token %q, %v; want empty", tok, err)
			}
			open := session("s-open", t0, true)
			if err := st.Archive(ctx, l, []store.Change{change(open, 1, events(0, 1, t0), false)},
				store.Checkpoint{HighWater: t0, ChangeToken: "tok-1"}, nil); err != nil {
				t.Fatal(err)
			}
			if tok, _ := st.ChangeToken(ctx, "syd1"); tok != "tok-1" {
				t.Fatalf("token %q, want tok-1", tok)
			}
			// An empty token leaves the stored one; unknown ids are ignored.
			if err := st.Archive(ctx, l, nil, store.Checkpoint{DeletedInVbo: []string{"s-open", "s-unknown"}}, nil); err != nil {
				t.Fatal(err)
			}
			if tok, _ := st.ChangeToken(ctx, "syd1"); tok != "tok-1" {
				t.Fatalf("token %q after an empty one, want tok-1", tok)
			}
			got, err := st.Session(ctx, "syd1", "s-open")
			if err != nil || got.DeletedInVboAt == nil {
				t.Fatalf("deleted session: %+v, %v", got, err)
			}
			first := *got.DeletedInVboAt
			if list, _ := st.OpenSessions(ctx, "syd1"); len(list) != 0 {
				t.Fatalf("%d open sessions, want the deleted one left out", len(list))
			}
			// Marked again or re-archived: the first time stays.
			time.Sleep(2 * time.Millisecond)
			if err := st.Archive(ctx, l, []store.Change{change(open, 2, events(1, 1, t0), false)},
				store.Checkpoint{DeletedInVbo: []string{"s-open"}}, nil); err != nil {
				t.Fatal(err)
			}
			if got, _ = st.Session(ctx, "syd1", "s-open"); got.DeletedInVboAt == nil || !got.DeletedInVboAt.Equal(first) {
				t.Fatalf("deleted at %v, want %v kept", got.DeletedInVboAt, first)
			}
			// A writer whose lease was taken over writes no token.
			if err := st.ReleaseLease(ctx, l); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := st.AcquireLease(ctx, "syd1", "b", time.Minute); err != nil || !ok {
				t.Fatalf("takeover: %v %v", ok, err)
			}
			if err := st.Archive(ctx, l, nil, store.Checkpoint{ChangeToken: "tok-stale"}, nil); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("fenced archive: %v, want ErrLeaseLost", err)
			}
			if tok, _ := st.ChangeToken(ctx, "syd1"); tok != "tok-1" {
				t.Fatalf("token %q after a fenced write, want tok-1", tok)
			}
		})
	}
}

// TestDeletedInVboFeedEntry: the first marking of a session deleted in VBO writes one
// KindDeleted feed entry, after the batch's own entries, in its transaction (DeletedSeq finds
// it); marking it again, or an id the archive does not hold, writes none.
func TestDeletedInVboFeedEntry(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			l := lease(t, st, "syd1", "a")
			open := session("s-open", t0, true)
			if err := st.Archive(ctx, l, []store.Change{change(open, 1, events(0, 1, t0), false)}, store.Checkpoint{HighWater: t0}, nil); err != nil {
				t.Fatal(err)
			}
			if seq, err := st.DeletedSeq(ctx, "syd1", "s-open"); err != nil || seq != 0 {
				t.Fatalf("DeletedSeq before the deletion: %d, %v; want 0", seq, err)
			}
			before, _ := st.FeedSeqs(ctx)
			// The same batch adds an event and then learns of the deletion.
			if err := st.Archive(ctx, l, []store.Change{change(open, 2, events(1, 1, t0), false)},
				store.Checkpoint{DeletedInVbo: []string{"s-open", "s-unknown"}}, nil); err != nil {
				t.Fatal(err)
			}
			for range 2 { // marked again: nothing more
				if err := st.Archive(ctx, l, nil, store.Checkpoint{DeletedInVbo: []string{"s-open"}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			entries, err := st.FeedAfter(ctx, "syd1", before["syd1"], 100)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range entries {
				kinds = append(kinds, e.Kind)
			}
			if len(entries) != 2 || entries[0].Kind != store.KindEvents || entries[1].Kind != store.KindDeleted ||
				entries[1].SessionID != "s-open" || entries[1].Session == nil {
				t.Fatalf("feed after the deletion: %v, want [events deleted] of s-open", kinds)
			}
			if after, _ := st.FeedSeqs(ctx); after["syd1"] != entries[1].Seq {
				t.Fatalf("feed position %d, want the deleted entry's %d", after["syd1"], entries[1].Seq)
			}
			if seq, err := st.DeletedSeq(ctx, "syd1", "s-open"); err != nil || seq != entries[1].Seq {
				t.Fatalf("DeletedSeq %d, %v; want %d", seq, err, entries[1].Seq)
			}
		})
	}
}
