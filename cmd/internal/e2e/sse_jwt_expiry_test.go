package e2e_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// TestSSEJWTExpiry: an SSE subscription authenticated with a JWT ends when the token expires,
// as a websocket closes 4403 then (TestWebsocketJWTExpiry): its last event is RESUBSCRIBE
// ("the token expired") and the stream ends; subscribing again with the expired token is
// refused 401. Before, the stream went on for as long as the client held it.
func TestSSEJWTExpiry(t *testing.T) {
	t.Parallel()
	kid := "sse-rsa"
	jwks, sign := isoJWKS(t, kid)
	_, gw := watchGateway(t, 10, func(c *config.Config) {
		c.Auth.JWT = &config.JWT{JWKSURL: jwks, Issuer: "https://idp.iso.test/", Audience: "vbo-gateway",
			TenantClaim: "tenant", RoleClaim: "role"}
	})
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	url := srv.URL
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	now := time.Now()
	token := sign(map[string]any{"iss": "https://idp.iso.test/", "aud": "vbo-gateway", "sub": "auditor@t2",
		"iat": now.Unix(), "exp": now.Add(2 * time.Second).Unix(), "tenant": "tenant-2"}, "RS256", kid)
	subscribe := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql",
			strings.NewReader(`{"query":"subscription { restoreSessionStarted { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	resp := subscribe()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe before the expiry: %s", resp.Status)
	}
	var last string
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") && line != "data: " {
			last = line
		}
	}
	if ctx.Err() != nil {
		t.Fatal("the subscription was still streaming 20 s on: it did not end at the token's expiry")
	}
	if !strings.Contains(last, `"RESUBSCRIBE"`) || !strings.Contains(last, "the token expired") {
		t.Fatalf("last event %q, want RESUBSCRIBE (the token expired)", last)
	}
	if again := subscribe(); again.StatusCode != http.StatusUnauthorized {
		t.Fatalf("subscribing again with the expired token: %s, want 401", again.Status)
	}
}
