package frontdoor

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// stoppingVBO is fakeVBO whose Browse first runs during (the session's stop, as another
// request), then answers what VBO answers for a stopped session: 404.
type stoppingVBO struct {
	*fakeVBO
	during func()
}

func (v *stoppingVBO) Browse(ctx context.Context, id string, ref upstream.BrowseRef, o upstream.ListOptions) (*upstream.Page[upstream.BrowseItem], *upstream.Response, error) {
	v.record("browse " + id)
	v.during()
	return nil, resp(404), &upstream.Error{Server: "syd1", Method: "GET", Path: "/v8/RestoreSessions/" + id + "/Organization/Mailboxes",
		StatusCode: 404, Message: "session not found"}
}

// TestBrowseRacingStop: a page whose session is stopped while VBO is asked for it (VBO then
// answers 404) answers NOT_FOUND, like a browse of a stopped session, not VBO's failure; the
// log shows the BROWSE (failed, begun first) then the STOP, and nothing after the STOP; a stop
// racing that stop answers the session as it is without asking VBO again.
func TestBrowseRacingStop(t *testing.T) {
	t.Parallel()
	var vbo *stoppingVBO
	e := newEnv(t, func(o *Options) {
		o.Server = func(name string) (Upstream, bool) { return vbo, name == "syd1" }
	})
	vbo = &stoppingVBO{fakeVBO: e.vbo}
	_, gs, err := e.svc.Start(ctx, operator("ada"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	vbo.during = func() {
		if err := e.svc.Stop(ctx, operator("bob"), gs); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := e.svc.Stop(ctx, operator("cy"), gs); err != nil {
			t.Errorf("a second stop: %v", err)
		}
	}
	_, err = e.svc.Browse(ctx, operator("ada"), gs, upstream.BrowseRef{Kind: upstream.BrowseMailboxes}, "", 0, 11)
	if !errors.Is(err, resolvers.ErrNotFound) {
		t.Fatalf("a page of a session stopped meanwhile: %v, want ErrNotFound", err)
	}
	var kinds []string
	for _, a := range e.actions(t, gs.ID) {
		kinds = append(kinds, string(a.Kind)+":"+string(a.Status))
	}
	if got := strings.Join(kinds, ","); got != "START:SUCCEEDED,BROWSE:FAILED,STOP:SUCCEEDED" {
		t.Fatalf("actions %s", got)
	}
	stops := 0
	for _, c := range vbo.Calls() {
		if strings.HasPrefix(c, "stop ") {
			stops++
		}
	}
	if stops != 1 {
		t.Fatalf("VBO calls %q: want one stop", vbo.Calls())
	}
}
