package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// heldUpstream holds every organisation list until released.
type heldUpstream struct {
	stubUpstream
	entered chan struct{}
	release chan struct{}
}

func (u heldUpstream) Organizations(ctx context.Context) ([]upstream.Organization, error) {
	u.entered <- struct{}{}
	select {
	case <-u.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return u.stubUpstream.Organizations(ctx)
}

// Issue 11 item 5: one principal runs at most perPrincipal requests at once; maxQueued more wait
// (first come, first served) and the rest are refused at once with 429 RATE_LIMITED and
// Retry-After, while another principal is served straight away.
func TestPerPrincipalConcurrency(t *testing.T) {
	u := heldUpstream{entered: make(chan struct{}, 100), release: make(chan struct{})}
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: u}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, httpapi.Options{Backend: b,
		Limits: config.Limits{Concurrency: config.Concurrency{PerPrincipal: 2, MaxQueued: 1, QueueTimeout: 30 * time.Second}},
		Authenticate: func(r *http.Request) (*auth.Principal, error) {
			if k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); k != "" {
				return auth.NewAdmin(k), nil
			}
			return nil, errors.New("no key")
		}})
	send := func(key, query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"`+query+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	const held = "{ organizations { totalCount } }"
	var wg sync.WaitGroup
	heldCodes := make(chan int, 2)
	for range 2 {
		wg.Go(func() { heldCodes <- send("flood", held).Code })
	}
	<-u.entered
	<-u.entered // both running, held upstream
	// Five more: one waits in the queue, four are refused at once.
	more := make(chan *httptest.ResponseRecorder, 5)
	for range 5 {
		wg.Go(func() { more <- send("flood", "{ viewer { role } }") })
	}
	for i := range 4 {
		rec := <-more
		if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "RATE_LIMITED") || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("refusal %d: %d %s, want 429 RATE_LIMITED with Retry-After", i, rec.Code, rec.Body)
		}
	}
	if rec := send("other", "{ viewer { role } }"); rec.Code != http.StatusOK {
		t.Errorf("another principal while the first is saturated: %d %s", rec.Code, rec.Body)
	}
	close(u.release)
	wg.Wait()
	if rec := <-more; rec.Code != http.StatusOK {
		t.Errorf("queued request: %d %s, want 200 once a slot freed", rec.Code, rec.Body)
	}
	close(heldCodes)
	for c := range heldCodes {
		if c != http.StatusOK {
			t.Errorf("held request: %d, want 200", c)
		}
	}
}

// A request waits for a slot at most queueTimeout.
func TestPerPrincipalQueueTimeout(t *testing.T) {
	u := heldUpstream{entered: make(chan struct{}, 100), release: make(chan struct{})}
	b, _ := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: u}}, loaders.Config{ListingTTL: -1})
	h := newHandler(t, httpapi.Options{Backend: b,
		Limits: config.Limits{Concurrency: config.Concurrency{PerPrincipal: 1, QueueTimeout: 50 * time.Millisecond}}})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(u.release)
	wg.Go(func() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ organizations { totalCount } }"}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), req)
	})
	<-u.entered
	w, r := postJSON(t, h, `{ viewer { role } }`, nil)
	if w.Code != http.StatusTooManyRequests || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "RATE_LIMITED" {
		t.Errorf("queued past the timeout: %d %s, want 429 RATE_LIMITED", w.Code, w.Body)
	}
}
