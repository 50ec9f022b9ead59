package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// wsClient is a graphql-transport-ws client that keeps every message by operation id and how
// the socket closed.
type wsClient struct {
	c      *websocket.Conn
	mu     sync.Mutex
	byID   map[string][]wsMessage
	err    error         // what ended the read loop (the close frame)
	closed chan struct{} // the read loop ended
}

// wsConnect connects with init as connection_init's payload, failing unless acknowledged.
func wsConnect(t *testing.T, ctx context.Context, url string, init map[string]any) *wsClient {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": init}); err != nil {
		t.Fatal(err)
	}
	var ack wsMessage
	if err := wsjson.Read(ctx, c, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v, %v", ack, err)
	}
	w := &wsClient{c: c, byID: map[string][]wsMessage{}, closed: make(chan struct{})}
	go func() {
		defer close(w.closed)
		for {
			var m wsMessage
			if err := wsjson.Read(ctx, c, &m); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			if m.Type == "ping" {
				_ = wsjson.Write(ctx, c, map[string]any{"type": "pong"})
				continue
			}
			w.mu.Lock()
			w.byID[m.ID] = append(w.byID[m.ID], m)
			w.mu.Unlock()
		}
	}()
	return w
}

func bearerInit(cred string) map[string]any { return map[string]any{"Authorization": "Bearer " + cred} }

// send starts operation id.
func (w *wsClient) send(t *testing.T, ctx context.Context, id, query string, vars map[string]any) {
	t.Helper()
	w.mu.Lock()
	delete(w.byID, id) // an id used again: only the new operation's messages
	w.mu.Unlock()
	if err := wsjson.Write(ctx, w.c, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}}); err != nil {
		t.Fatal(err)
	}
}

func (w *wsClient) messages(id string) []wsMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.byID[id])
}

// ended reports whether operation id got its last message (complete or error).
func (w *wsClient) ended(id string) bool {
	m := w.messages(id)
	return len(m) > 0 && (m[len(m)-1].Type == "complete" || m[len(m)-1].Type == "error")
}

// result runs a query or mutation and returns its one response, failing if the socket closes
// first or nothing comes within 10 s.
func (w *wsClient) result(t *testing.T, ctx context.Context, id, query string, vars map[string]any) gqlResult {
	t.Helper()
	w.send(t, ctx, id, query, vars)
	waitFor(t, 10*time.Second, func() bool { return w.ended(id) || w.isClosed() })
	if !w.ended(id) {
		t.Fatalf("operation %s: the socket closed (%v) before its answer", id, w.closeErr())
	}
	var out gqlResult
	for _, m := range w.messages(id) {
		switch m.Type {
		case "next":
			if err := json.Unmarshal(m.Payload, &out); err != nil {
				t.Fatal(err)
			}
		case "error":
			if err := json.Unmarshal(m.Payload, &out.Errors); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func (w *wsClient) isClosed() bool {
	select {
	case <-w.closed:
		return true
	default:
		return false
	}
}

func (w *wsClient) closeErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// waitClose waits at most d for the server to close the socket and returns the close frame.
func (w *wsClient) waitClose(t *testing.T, d time.Duration) websocket.CloseError {
	t.Helper()
	select {
	case <-w.closed:
	case <-time.After(d):
		t.Fatalf("the socket is still open after %s", d)
	}
	var ce websocket.CloseError
	if !errors.As(w.closeErr(), &ce) {
		t.Fatalf("the socket ended with %v, want a close frame", w.closeErr())
	}
	return ce
}

// TestWebsocketRevokedKey (H1): a reload that removes a TENANT_ADMIN's key ends its open
// websocket: the next operation (a createWatchRule, which would return a new signing secret)
// does not run and the socket closes with 4403 Forbidden. Before, the identity fixed at
// connection_init kept working for as long as the socket stayed open.
func TestWebsocketRevokedKey(t *testing.T) {
	fleet, gw := rulesGateway(t, 10)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws := wsConnect(t, ctx, srv.URL, bearerInit(t1AdminKey))
	if r := ws.result(t, ctx, "q1", `{ viewer { role tenant } }`, nil); len(r.Errors) != 0 || !strings.Contains(string(r.Data), "TENANT_ADMIN") {
		t.Fatalf("before the reload: %+v %s", r.Errors, r.Data)
	}

	cfg := *fleet.Config
	cfg.Auth.APIKeys = slices.DeleteFunc(slices.Clone(cfg.Auth.APIKeys), func(k config.APIKey) bool { return k.Name == "t1-admin" })
	if err := gw.Reload(func() (*config.Config, error) { return &cfg, nil }); err != nil {
		t.Fatal(err)
	}
	rcv := newHookReceiver(t)
	ws.send(t, ctx, "m1", createRule, map[string]any{"in": map[string]any{"name": "after revocation", "url": rcv.URL, "on": "STARTED"}})
	if ce := ws.waitClose(t, 10*time.Second); ce.Code != 4403 {
		t.Fatalf("closed with %d %q, want 4403", ce.Code, ce.Reason)
	}
	for _, m := range ws.messages("m1") {
		if strings.Contains(string(m.Payload), "secret") {
			t.Fatalf("createWatchRule ran on the revoked key: %s", m.Payload)
		}
	}
	var rules struct{ WatchRules []struct{ Name string } }
	mustPost(t, gw, demo.AdminKey, `{ watchRules { name } }`, nil, &rules)
	if len(rules.WatchRules) != 0 {
		t.Fatalf("rules after the revoked key's attempt: %+v", rules.WatchRules)
	}
}

// TestWebsocketJWTExpiry (H1): a socket authenticated with a JWT closes with 4403 when the
// token expires, though it carries no operation then (a subscription would otherwise keep
// streaming on an expired token), and an operation on it no longer runs.
func TestWebsocketJWTExpiry(t *testing.T) {
	kid := "ws-rsa"
	jwks, sign := isoJWKS(t, kid)
	e := isoStart(t, &config.JWT{JWKSURL: jwks, Issuer: "https://idp.iso.test/", Audience: "vbo-gateway",
		TenantClaim: "tenant", RoleClaim: "role"}, nil)
	srv := httptest.NewServer(e.gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	now := time.Now()
	token := sign(map[string]any{"iss": "https://idp.iso.test/", "aud": "vbo-gateway", "sub": "auditor@t2",
		"iat": now.Unix(), "exp": now.Add(2 * time.Second).Unix(), "tenant": "tenant-2"}, "RS256", kid)
	ws := wsConnect(t, ctx, srv.URL, bearerInit(token))
	if r := ws.result(t, ctx, "q1", `{ viewer { subject tenant } }`, nil); len(r.Errors) != 0 || !strings.Contains(string(r.Data), "tenant-2") {
		t.Fatalf("before the expiry: %+v %s", r.Errors, r.Data)
	}
	if ce := ws.waitClose(t, 5*time.Second); ce.Code != 4403 {
		t.Fatalf("closed with %d %q, want 4403", ce.Code, ce.Reason)
	}
}
