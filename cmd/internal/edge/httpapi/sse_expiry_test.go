package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// sseSubscribe opens an SSE subscription to replayQuery with the given Authorization header.
func sseSubscribe(t *testing.T, ctx context.Context, srv *httptest.Server, authz string) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": replayQuery})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", authz)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %s", resp.Status)
	}
	return resp
}

// An SSE subscription authenticated with a JWT ends when the token expires, as a websocket
// authenticated with one closes then (4403): its last event is the RESUBSCRIBE error a reload
// that revoked the credentials sends, and the stream ends, so the client authenticates again.
// A subscription on an API key (no expiry), opened alongside, stays open.
func TestSSESubscriptionEndsAtJWTExpiry(t *testing.T) {
	t.Parallel()
	// exp has a second's precision: the token expires 1 to 2 s from now.
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "auditor", ExpiresAt: jwt.NewNumericDate(time.Now().Add(2 * time.Second))}).SignedString([]byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	// The authenticator (a stub: the gateway's verifies the signature and exp) accepts the key
	// and the token.
	authenticate := func(r *http.Request) (*auth.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer k", "Bearer " + token:
			return auth.NewAdmin("test"), nil
		}
		return nil, nil
	}
	opts := httpapi.Options{Feed: replayFeed{n: 3}, Authenticate: authenticate, CurrentAuthenticate: authenticate,
		Subscriptions: httpapi.NewSubscriptionSlots()}
	srv := httptest.NewServer(stubHandler(t, opts))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	keyed := bufio.NewScanner(sseSubscribe(t, ctx, srv, "Bearer k").Body)
	for n := 0; n < 3; {
		if !keyed.Scan() {
			t.Fatalf("API key subscription ended before its replay: %v", keyed.Err())
		}
		if strings.Contains(keyed.Text(), "upstreamId") {
			n++
		}
	}

	var sessions int
	var last string
	sc := bufio.NewScanner(sseSubscribe(t, ctx, srv, "Bearer "+token).Body)
	for sc.Scan() { // to the end of the stream (or the test's deadline)
		line := sc.Text()
		switch {
		case !strings.HasPrefix(line, "data: "):
		case strings.Contains(line, "upstreamId"):
			sessions++
		default:
			last = line
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the JWT subscription was still streaming 10 s on (%d sessions): it did not end at the token's expiry", sessions)
	}
	if sessions != 3 || !strings.Contains(last, `"RESUBSCRIBE"`) || !strings.Contains(last, "expired") {
		t.Fatalf("JWT subscription: %d sessions, last data %q; want the 3 replayed, then RESUBSCRIBE (the token expired)", sessions, last)
	}
	if n := opts.Subscriptions.Open(); n != 1 {
		t.Fatalf("%d subscriptions open after the JWT's expiry, want 1 (the API key's)", n)
	}
}
