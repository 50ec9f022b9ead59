package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// reloadingFeed is replayFeed with a reload landing while a subscription is being set up: after
// the edge authenticated the request with the snapshot it arrived on, before the subscription
// registered with the feed (the reload's Feed.CloseAll then had nothing of it to close). A
// client can hold that window open for the server's read timeout by trickling its body.
type reloadingFeed struct {
	replayFeed
	reload func()
}

func (f reloadingFeed) FollowSessions(ctx context.Context, k resolvers.FeedKind, from resolvers.FeedFrom) (*resolvers.Stream[resolvers.FeedSession], error) {
	f.reload()
	return f.replayFeed.FollowSessions(ctx, k, from)
}

// An SSE subscription whose credentials the configuration in force no longer accepts when it
// registers (a reload removed the key after the snapshot's gate let the request in) is ended
// as the reload ends the others (RESUBSCRIBE, and subscribing again is refused), not streamed
// until the next reload: the subscription is authenticated again with the configuration in
// force once it is registered. Without a reload it streams.
func TestSSESubscriptionRevokedDuringSetup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		revokes bool
	}{
		{"a reload removes the key meanwhile", true},
		{"no reload", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer k" }
			// The snapshot the request arrived on knows the key for good; the configuration in
			// force stops knowing it once the reload lands.
			var reloaded atomic.Bool
			snapshot := func(r *http.Request) (*auth.Principal, error) {
				if !key(r) {
					return nil, errors.New("unknown key")
				}
				return auth.NewAdmin("apikey:k"), nil
			}
			current := func(r *http.Request) (*auth.Principal, error) {
				if !key(r) || reloaded.Load() {
					return nil, errors.New("unknown key")
				}
				return auth.NewAdmin("apikey:k"), nil
			}
			feed := reloadingFeed{replayFeed: replayFeed{n: 3}, reload: func() {
				if tc.revokes {
					reloaded.Store(true)
				}
			}}
			opts := httpapi.Options{Feed: feed, Authenticate: snapshot, CurrentAuthenticate: current, Subscriptions: httpapi.NewSubscriptionSlots()}
			srv := httptest.NewServer(stubHandler(t, opts))
			t.Cleanup(srv.Close)

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			body, _ := json.Marshal(map[string]string{"query": replayQuery})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Authorization", "Bearer k")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var sessions, refusals int
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() && sessions == 0 {
				line := sc.Text()
				switch {
				case !strings.HasPrefix(line, "data: "):
				case strings.Contains(line, "upstreamId"):
					sessions++
				case strings.Contains(line, "RESUBSCRIBE"):
					refusals++
				}
			}
			switch {
			case tc.revokes && (sessions != 0 || refusals != 1):
				t.Fatalf("revoked key: %d sessions streamed, %d RESUBSCRIBE; want none streamed, ended once", sessions, refusals)
			case !tc.revokes && sessions == 0:
				t.Fatalf("valid key: nothing streamed (%d refusals, %v)", refusals, sc.Err())
			}
			cancel()
			waitSlots(t, opts.Subscriptions)
		})
	}
}

// waitSlots waits (bounded) until no subscription holds a slot.
func waitSlots(t *testing.T, slots *httpapi.SubscriptionSlots) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); slots.Open() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions still open", slots.Open())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
