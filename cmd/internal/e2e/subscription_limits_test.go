package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// wsMessage is one graphql-transport-ws message for an operation.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// wsOps is one graphql-transport-ws connection carrying several operations.
type wsOps struct {
	c      *websocket.Conn
	mu     sync.Mutex
	byID   map[string][]wsMessage
	closed chan struct{} // the connection ended
}

// wsOpen connects and authenticates with key (connection_init), failing unless acknowledged.
func wsOpen(t *testing.T, ctx context.Context, url, key string) *wsOps {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + key}}); err != nil {
		t.Fatal(err)
	}
	var ack wsMessage
	if err := wsjson.Read(ctx, c, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v, %v", ack, err)
	}
	w := &wsOps{c: c, byID: map[string][]wsMessage{}, closed: make(chan struct{})}
	go func() {
		defer close(w.closed)
		for {
			var m wsMessage
			if err := wsjson.Read(ctx, c, &m); err != nil {
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

func (w *wsOps) subscribe(t *testing.T, ctx context.Context, id, query string) {
	t.Helper()
	if err := wsjson.Write(ctx, w.c, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}}); err != nil {
		t.Fatal(err)
	}
}

// messages is what operation id received so far.
func (w *wsOps) messages(id string) []wsMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]wsMessage(nil), w.byID[id]...)
}

// openSubscriptions reads the vbo_gateway_subscriptions_open gauge.
func openSubscriptions(t *testing.T, gw *app.Gateway) int {
	t.Helper()
	rec := httptest.NewRecorder()
	gw.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "vbo_gateway_subscriptions_open "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatal("no vbo_gateway_subscriptions_open in /metrics")
	return 0
}

// rateLimited fails unless errs is exactly one RATE_LIMITED refusal by bound saying open.
func rateLimited(t *testing.T, what string, errs []gqlError, bound, open string) {
	t.Helper()
	if len(errs) != 1 || errs[0].code() != "RATE_LIMITED" || errs[0].Extensions["limit"] != bound ||
		!strings.Contains(errs[0].Message, open) || !strings.Contains(errs[0].Message, "limits."+bound) {
		t.Fatalf("%s: %+v, want one RATE_LIMITED error naming limits.%s and %q", what, errs, bound, open)
	}
}

// TestSubscriptionLimits: with limits.subscriptions {perPrincipal: 2, total: 4}, a tenant's third
// subscription is refused RATE_LIMITED over SSE (the stream's only answer) and over a websocket
// (an error for that operation; the connection and its other operation stay up), while another
// tenant subscribes; a slot comes back when a stream ends (client gone, websocket closed with
// two operations open, a reload), and the total bound refuses across principals.
func TestSubscriptionLimits(t *testing.T) {
	t.Parallel()
	fleet, gw := watchGateway(t, 5, func(c *config.Config) {
		c.Limits.Subscriptions = config.Subscriptions{PerPrincipal: 2, Total: 4}
	})
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tenant1, tenant2, tenant3 := demo.TenantKeyPrefix+"1", demo.TenantKeyPrefix+"2", demo.TenantKeyPrefix+"3"
	waitOpen := func(n int) {
		t.Helper()
		waitFor(t, 10*time.Second, func() bool { return openSubscriptions(t, gw) == n })
	}
	ended := func(what string, s *subscriber) []subEvent {
		t.Helper()
		select {
		case <-s.done:
			return s.snapshot()
		case <-ctx.Done():
			t.Fatalf("%s: the stream is still open", what)
			return nil
		}
	}

	// Tenant 1 takes its two slots: one SSE stream, one websocket operation.
	sseCtx, endSSE := context.WithCancel(ctx)
	defer endSSE()
	sseSubscribe(t, sseCtx, srv.URL, tenant1, startedQuery, nil)
	ws := wsOpen(t, ctx, srv.URL, tenant1)
	ws.subscribe(t, ctx, "1", startedQuery)
	waitOpen(2)

	// Its third, over SSE: the error is the stream's one answer, then it completes.
	ev := ended("third over SSE", sseSubscribe(t, ctx, srv.URL, tenant1, startedQuery, nil))
	if len(ev) != 1 {
		t.Fatalf("third over SSE: %+v, want one message", ev)
	}
	rateLimited(t, "third over SSE", ev[0].Errors, "subscriptions.perPrincipal", "2 open")
	// Over the websocket: an error message for that operation alone.
	ws.subscribe(t, ctx, "2", startedQuery)
	waitFor(t, 10*time.Second, func() bool { return len(ws.messages("2")) > 0 })
	if m := ws.messages("2"); len(m) != 1 || m[0].Type != "error" {
		t.Fatalf("third over the websocket: %+v, want one error message", m)
	} else {
		var errs []gqlError
		if err := json.Unmarshal(m[0].Payload, &errs); err != nil {
			t.Fatal(err)
		}
		rateLimited(t, "third over the websocket", errs, "subscriptions.perPrincipal", "2 open")
	}
	// Another tenant is not affected.
	sseSubscribe(t, ctx, srv.URL, tenant2, startedQuery, nil)
	waitOpen(3)
	// The connection and its first operation are still up: a new session of tenant 1 reaches it.
	waitFor(t, 20*time.Second, func() bool { return backfilled(gw, 3) })
	sim := fleet.Sims["syd1"]
	sim.AddSession(upstream.RestoreSession{Organization: sim.Organizations()[0].Name}) // tenant 1's
	waitFor(t, 10*time.Second, func() bool { return len(ws.messages("1")) > 0 })
	if m := ws.messages("1"); m[0].Type != "next" || strings.Contains(string(m[0].Payload), `"errors"`) {
		t.Fatalf("operation 1 after the refusal: %+v, want data", m)
	}

	// The client leaves its SSE stream: the slot comes back, tenant 1 subscribes again.
	endSSE()
	waitOpen(2)
	ws.subscribe(t, ctx, "3", startedQuery)
	waitOpen(3)
	if m := ws.messages("3"); len(m) != 0 {
		t.Fatalf("operation 3: %+v, want it running", m)
	}

	// The total bound (4) refuses across principals: the admin takes the fourth slot, tenant 3
	// (no subscription of its own) is refused.
	sseSubscribe(t, ctx, srv.URL, demo.AdminKey, startedQuery, nil)
	waitOpen(4)
	ev = ended("tenant 3 at the total bound", sseSubscribe(t, ctx, srv.URL, tenant3, startedQuery, nil))
	if len(ev) != 1 {
		t.Fatalf("tenant 3 at the total bound: %+v, want one message", ev)
	}
	rateLimited(t, "tenant 3 at the total bound", ev[0].Errors, "subscriptions.total", "4 open")

	// Closing the websocket with two operations open gives both slots back.
	_ = ws.c.CloseNow()
	waitOpen(2)
	sseSubscribe(t, ctx, srv.URL, tenant3, startedQuery, nil)
	ws2 := wsOpen(t, ctx, srv.URL, tenant1)
	ws2.subscribe(t, ctx, "1", startedQuery)
	waitOpen(4)
	if m := ws2.messages("1"); len(m) != 0 {
		t.Fatalf("tenant 1 after its websocket closed: %+v, want it running", m)
	}

	// A reload ends every subscription (RESUBSCRIBE): every slot comes back. The bounds hold
	// per process, not per handler: an operation started on a websocket of the old handler and
	// a stream on the new one count together.
	cfg := *fleet.Config
	if err := gw.Reload(func() (*config.Config, error) { return &cfg, nil }); err != nil {
		t.Fatal(err)
	}
	waitOpen(0)
	ws2.subscribe(t, ctx, "2", startedQuery)
	sseSubscribe(t, ctx, srv.URL, tenant1, startedQuery, nil)
	waitOpen(2)
	ev = ended("third across handlers", sseSubscribe(t, ctx, srv.URL, tenant1, startedQuery, nil))
	if len(ev) != 1 {
		t.Fatalf("third across handlers: %+v, want one message", ev)
	}
	rateLimited(t, "third across handlers", ev[0].Errors, "subscriptions.perPrincipal", "2 open")
}
