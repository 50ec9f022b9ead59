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

// legacySocket opens a websocket with the legacy (Apollo) graphql-ws subprotocol on a gateway
// whose keep-alive period is ping and whose key "k" is refused once revoked is set, and sends
// connection_init with that key; it returns after connection_ack.
func legacySocket(t *testing.T, ctx context.Context, ping time.Duration, revoked *atomic.Bool) *websocket.Conn {
	t.Helper()
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: countingUpstream{n: &atomic.Int64{}}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
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
		WebsocketPing: ping}))
	t.Cleanup(srv.Close)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	if c.Subprotocol() != "graphql-ws" {
		t.Fatalf("subprotocol %q, want graphql-ws", c.Subprotocol())
	}
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer k"}}); err != nil {
		t.Fatal(err)
	}
	var ack struct{ Type string }
	if err := wsjson.Read(ctx, c, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", ack, err)
	}
	return c
}

// TestWebsocketLegacyKeepAlive: a legacy graphql-ws socket, idle after connection_ack, gets the
// protocol's keep-alive ("ka") every period, as a graphql-transport-ws socket gets pings:
// proxies and clients that cut a silent connection keep it. (gqlgen sends one "ka" right
// after the ack whatever the configuration; the test waits for three.)
func TestWebsocketLegacyKeepAlive(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := legacySocket(t, ctx, 50*time.Millisecond, &atomic.Bool{})
	for kas := 0; kas < 3; {
		var m struct{ Type string }
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatalf("after %d keep-alives: %v (want a \"ka\" every 50 ms on an idle legacy socket)", kas, err)
		}
		if m.Type != "ka" {
			t.Fatalf("idle legacy socket sent %q, want only \"ka\"", m.Type)
		}
		kas++
	}
}

// TestWebsocketLegacyIdleRevoked: credentials revoked while a legacy graphql-ws socket is open
// and idle close it with 4403 within a keep-alive period: they are checked again at each "ka",
// as at each graphql-transport-ws ping (TestWebsocketIdleRevoked).
func TestWebsocketLegacyIdleRevoked(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var revoked atomic.Bool
	c := legacySocket(t, ctx, 50*time.Millisecond, &revoked)
	// Keep-alives come; the socket stays up while the key is valid.
	for kas := 0; kas < 2; kas++ {
		var m struct{ Type string }
		if err := wsjson.Read(ctx, c, &m); err != nil || m.Type != "ka" {
			t.Fatalf("before the revocation: %+v %v", m, err)
		}
	}
	revoked.Store(true)
	for {
		var m struct{ Type string }
		err := wsjson.Read(ctx, c, &m)
		if err == nil {
			continue // keep-alives already on their way
		}
		if code := websocket.CloseStatus(err); code != 4403 {
			t.Fatalf("after the revocation the idle legacy socket ended with %v, want close 4403", err)
		}
		return
	}
}
