package model

import (
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// TestEdgeCursors: an edge seals its cursor on first use, to the position it was made with,
// and answers the same string ever after, also to concurrent readers (pageInfo's start and end
// cursors are read through their edges).
func TestEdgeCursors(t *testing.T) {
	sealer := gid.NewRandomCursors()
	pos := gid.Position{Time: time.Date(2026, 3, 2, 10, 0, 0, 5, time.UTC), Skip: 2}
	stream := gid.StreamCursor{"syd1": pos, "mel1": {Done: true}}
	for _, tc := range []struct {
		name   string
		edge   interface{ Cursor() string }
		offset int              // want an offset cursor (stream nil)
		stream gid.StreamCursor // want a stream cursor
	}{
		{"organization", NewOrganizationEdge(&Organization{}, sealer, 7), 7, nil},
		{"event", NewRestoreEventEdge(&RestoreEvent{}, sealer, 501), 501, nil},
		{"merged session", NewRestoreSessionEdge(&RestoreSession{}, sealer, stream), 0, stream},
		{"one server's session", NewServerSessionEdge(&RestoreSession{}, sealer, "akl1", pos), 0, gid.StreamCursor{"akl1": pos}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]string, 8)
			var wg sync.WaitGroup
			for i := range got {
				wg.Go(func() { got[i] = tc.edge.Cursor() })
			}
			wg.Wait()
			for _, c := range got[1:] {
				if c != got[0] || c == "" {
					t.Fatalf("cursor read as %q and %q: sealed more than once", got[0], c)
				}
			}
			if tc.stream == nil {
				if n, err := sealer.DecodeOffset(got[0]); err != nil || n != tc.offset {
					t.Errorf("offset %d, %v; want %d", n, err, tc.offset)
				}
				return
			}
			sc, err := sealer.DecodeStream(got[0])
			if err != nil || len(sc) != len(tc.stream) {
				t.Fatalf("stream %v, %v; want %v", sc, err, tc.stream)
			}
			for k, v := range tc.stream {
				if g := sc[k]; g.Done != v.Done || g.Skip != v.Skip || !g.Time.Equal(v.Time) {
					t.Errorf("%s: %+v, want %+v", k, g, v)
				}
			}
		})
	}
}
