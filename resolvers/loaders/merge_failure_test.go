package loaders

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// flaky fails its session listings while down is set.
type flaky struct {
	*fakeUp
	down bool
}

func (f *flaky) RestoreSessions(ctx context.Context, o upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	if f.down {
		return nil, nil, &upstream.Error{Server: "c", StatusCode: 503}
	}
	return f.fakeUp.RestoreSessions(ctx, o)
}

// A server that fails on one page, or is left out of it, keeps its place in the cursor: the
// next page neither repeats nor skips its sessions.
func TestMergeKeepsPlaceOfFailedOrSkippedServer(t *testing.T) {
	ctx := context.Background()
	a, c := &fakeUp{}, &flaky{fakeUp: &fakeUp{}}
	for i := range 20 {
		a.sessions = append(a.sessions, upstream.RestoreSession{ID: fmt.Sprintf("a%d", i), CreationTime: t0.Add(-time.Duration(2*i) * time.Minute)})
		c.sessions = append(c.sessions, upstream.RestoreSession{ID: fmt.Sprintf("c%d", i), CreationTime: t0.Add(-time.Duration(2*i+1) * time.Minute)})
	}
	b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	page := func(servers []string, cur gid.StreamCursor) *MergedPage {
		dec, err := gid.DecodeStream(gid.EncodeStream(cur))
		if err != nil {
			t.Fatal(err)
		}
		return b.New().MergedRestoreSessions(ctx, servers, Window{}, dec, 6, nil)
	}
	p1 := page([]string{"a", "c"}, nil) // a0 c0 a1 c1 a2 c2
	c.down = true
	p2 := page([]string{"a", "c"}, p1.End) // c fails: a3..a8
	if !errors.Is(p2.Errors["c"], upstream.ErrUnavailable) {
		t.Fatalf("page 2 errors = %v, want c unavailable", p2.Errors)
	}
	p3 := page([]string{"a"}, p2.End) // c left out (e.g. its organisations could not be read)
	c.down = false
	p4 := page([]string{"a", "c"}, p3.End)
	var cs []string
	for _, p := range []*MergedPage{p1, p2, p3, p4} {
		for _, s := range p.Sessions {
			if s.Server == "c" {
				cs = append(cs, s.Session.ID)
			}
		}
	}
	if want := "[c0 c1 c2 c3 c4 c5 c6 c7 c8]"; fmt.Sprint(cs) != want {
		t.Errorf("c's sessions over four pages = %v, want %s (no repeats, no gaps)", cs, want)
	}
}
