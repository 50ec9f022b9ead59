package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
)

// TestWebsocketIdleRevoked (H1): credentials revoked while a websocket is open and idle (no
// operation, nothing subscribed) close it with 4403 at the next ping: the connection's
// credentials are checked again with the configuration in force at each one.
func TestWebsocketIdleRevoked(t *testing.T) {
	t.Parallel()
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: countingUpstream{n: &atomic.Int64{}}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	var revoked atomic.Bool
	authenticate := func(r *http.Request) (*auth.Principal, error) {
		switch {
		case r.Header.Get("Authorization") != "Bearer k":
			return nil, errors.New("unknown key")
		case revoked.Load():
			return nil, errors.New("revoked")
		}
		return auth.NewTenantAuditor("apikey:k", "t1", []auth.OrgRef{{Server: "s1", OrgID: "o1"}}), nil
	}
	srv := httptest.NewServer(newHandler(t, httpapi.Options{Backend: b, Authenticate: authenticate, CurrentAuthenticate: authenticate,
		WebsocketPing: 50 * time.Millisecond}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer k"}}); err != nil {
		t.Fatal(err)
	}
	type message struct{ Type string }
	var ack message
	if err := wsjson.Read(ctx, c, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", ack, err)
	}
	// Pings come and are answered; the socket stays up while the key is valid.
	for pings := 0; pings < 2; {
		var m message
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatalf("before the revocation: %v", err)
		}
		if m.Type == "ping" {
			pings++
			_ = wsjson.Write(ctx, c, map[string]any{"type": "pong"})
		}
	}
	revoked.Store(true)
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	for {
		var m message
		err := wsjson.Read(rctx, c, &m)
		if err == nil {
			if m.Type == "ping" {
				_ = wsjson.Write(ctx, c, map[string]any{"type": "pong"})
			}
			continue
		}
		if code := websocket.CloseStatus(err); code != 4403 {
			t.Fatalf("after the revocation the socket ended with %v, want close 4403", err)
		}
		return
	}
}
