package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// limitsGateway is the demo fleet (tenants with their keys) behind a gateway with the default
// limits, tuned, every simulator answering after latency.
func limitsGateway(t *testing.T, latency time.Duration, tune func(*config.Config)) (*demo.Fleet, *app.Gateway) {
	t.Helper()
	fleet, err := demo.Start(demo.Options{Orgs: 6, Sessions: 150, Now: isoNow, Sim: func(_ string, o *vbosim.Options) {
		o.Faults.Latency = latency
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	fleet.Config = fleet.Config.WithCursorSecret([]byte(testCursorSecret))
	if tune != nil {
		tune(fleet.Config)
	}
	gw, err := runGateway(t, t.Context(), fleet.Config, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	return fleet, gw
}

// upstreamCalls counts the calls every simulator answered on route.
func upstreamCalls(fleet *demo.Fleet, route string) int {
	n := 0
	for _, s := range fleet.Sims {
		method, path, _ := strings.Cut(route, " ")
		n += s.Calls(method + " /" + s.APIVersion() + path)
	}
	return n
}

// TestWebsocketCostLimit (H2): a tenant's query that HTTP refuses before execution for its
// cost is refused over a websocket the same way (QUERY_TOO_COMPLEX, the same limit and
// estimate), without one events call. Before, a websocket operation had no meter and skipped
// the estimate: it ran.
func TestWebsocketCostLimit(t *testing.T) {
	fleet, gw := limitsGateway(t, 0, nil)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const expensive = `{ restoreSessions(first: 500) { edges { node { events(first: 500) { edges { node { id } } } } } } }`
	key := demo.TenantKey(1)
	httpRes := post(t, gw, key, expensive, nil)
	if httpRes.code() != "QUERY_TOO_COMPLEX" {
		t.Fatalf("over HTTP: %+v, want QUERY_TOO_COMPLEX", httpRes.Errors)
	}
	for _, s := range fleet.Sims {
		s.ResetStats()
	}
	ws := wsConnect(t, ctx, srv.URL, bearerInit(key))
	wsRes := ws.result(t, ctx, "1", expensive, nil)
	if wsRes.code() != "QUERY_TOO_COMPLEX" {
		t.Fatalf("over the websocket: %+v, %d bytes of data, want QUERY_TOO_COMPLEX", wsRes.Errors, len(wsRes.Data))
	}
	for _, k := range []string{"limit", "value", "max"} {
		if h, w := fmt.Sprint(httpRes.Errors[0].Extensions[k]), fmt.Sprint(wsRes.Errors[0].Extensions[k]); h != w {
			t.Errorf("extensions.%s: %s over HTTP, %s over the websocket", k, h, w)
		}
	}
	if n := upstreamCalls(fleet, routeEvents); n != 0 {
		t.Errorf("the refused websocket query made %d events calls, want 0", n)
	}
}

// TestWebsocketPerPrincipalLimits (H2): 60 operations sent at once on one tenant's websocket
// meet the per-principal concurrency limit or rate limit HTTP requests meet (the same
// limiters): most are refused RATE_LIMITED with the fields HTTP's 429 carries, the admitted
// ones alone call VBO, and another tenant's query meanwhile runs. Before, none was refused.
func TestWebsocketPerPrincipalLimits(t *testing.T) {
	const ops = 60
	const query = `{ restoreSessions(first: 3) { edges { node { id } } } }`
	cases := []struct {
		name    string
		latency time.Duration
		tune    func(*config.Config)
		limit   string // extensions.limit of the refusals ("": none)
		message string
	}{
		{"concurrency", 200 * time.Millisecond, func(c *config.Config) {
			c.Limits.Concurrency = config.Concurrency{PerPrincipal: 2, MaxQueued: 1, QueueTimeout: 50 * time.Millisecond}
		}, "concurrency.perPrincipal", "too many concurrent requests from this caller"},
		{"rate", 0, func(c *config.Config) {
			c.Limits.RateLimit = config.RateLimit{PerSecond: 1, Burst: 5}
		}, "", "rate limit exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fleet, gw := limitsGateway(t, c.latency, func(cfg *config.Config) {
				cfg.Cache.ListingTTL = -time.Second // every admitted operation lists its sessions
				c.tune(cfg)
			})
			srv := httptest.NewServer(gw.Handler)
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// One operation alone, of each tenant: the calls one costs.
			perOp := map[string]int{}
			for _, key := range []string{demo.TenantKey(1), demo.TenantKey(2)} {
				for _, s := range fleet.Sims {
					s.ResetStats()
				}
				if r := post(t, gw, key, query, nil); len(r.Errors) != 0 {
					t.Fatalf("probe: %+v", r.Errors)
				}
				if perOp[key] = upstreamCalls(fleet, routeSessions); perOp[key] == 0 {
					t.Fatal("the probe made no listing call")
				}
			}
			for _, s := range fleet.Sims {
				s.ResetStats()
			}

			ws := wsConnect(t, ctx, srv.URL, bearerInit(demo.TenantKey(1)))
			for i := range ops {
				ws.send(t, ctx, fmt.Sprint(i), query, nil)
			}
			// Another tenant meanwhile.
			var wg sync.WaitGroup
			var other gqlResult
			wg.Go(func() { other = post(t, gw, demo.TenantKey(2), query, nil) })
			waitFor(t, 20*time.Second, func() bool {
				for i := range ops {
					if !ws.ended(fmt.Sprint(i)) {
						return false
					}
				}
				return true
			})
			wg.Wait()
			if len(other.Errors) != 0 {
				t.Errorf("another tenant during the flood: %+v", other.Errors)
			}
			refused, ran := 0, 0
			for i := range ops {
				var r gqlResult
				for _, m := range ws.messages(fmt.Sprint(i)) {
					if m.Type == "next" {
						if err := json.Unmarshal(m.Payload, &r); err != nil {
							t.Fatal(err)
						}
					}
				}
				switch {
				case len(r.Errors) == 0:
					ran++
				case r.code() == "RATE_LIMITED":
					refused++
					e := r.Errors[0]
					if !strings.Contains(e.Message, c.message) || e.Extensions["retryAfterSeconds"] == nil ||
						c.limit != "" && e.Extensions["limit"] != c.limit {
						t.Fatalf("operation %d: %+v, want %q with retryAfterSeconds and limit %q", i, e, c.message, c.limit)
					}
				default:
					t.Fatalf("operation %d: %+v", i, r.Errors)
				}
			}
			t.Logf("%d operations at once: %d refused RATE_LIMITED, %d ran", ops, refused, ran)
			if refused < ops/2 {
				t.Errorf("%d of %d refused RATE_LIMITED (%d ran), want most", refused, ops, ran)
			}
			// The refused ones never reached VBO: at most the admitted ones' calls, plus the
			// other tenant's query.
			if n, most := upstreamCalls(fleet, routeSessions), ran*perOp[demo.TenantKey(1)]+perOp[demo.TenantKey(2)]; n > most {
				t.Errorf("%d listing calls for %d admitted operations (and another tenant's query), want at most %d", n, ran, most)
			}
		})
	}
}

// TestWebsocketDuplicateID (L3): a subscribe that reuses the id of an operation still running
// closes the socket with 4409 "Subscriber for <id> already exists" (graphql-transport-ws), and
// no subscription outlives it in limits.subscriptions; an id whose operation completed may be
// used again. Before, gqlgen started the second and lost the first, which kept its slot.
func TestWebsocketDuplicateID(t *testing.T) {
	_, gw := watchGateway(t, 5, nil)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws := wsConnect(t, ctx, srv.URL, bearerInit(demo.TenantKey(1)))

	// A completed operation's id is free again.
	if r := ws.result(t, ctx, "q", `{ viewer { tenant } }`, nil); len(r.Errors) != 0 {
		t.Fatalf("query: %+v", r.Errors)
	}
	if r := ws.result(t, ctx, "q", `{ viewer { tenant } }`, nil); len(r.Errors) != 0 {
		t.Fatalf("the same id again after it completed: %+v", r.Errors)
	}

	ws.send(t, ctx, "a", startedQuery, nil)
	ws.send(t, ctx, "b", startedQuery, nil)
	waitFor(t, 10*time.Second, func() bool { return openSubscriptions(t, gw) == 2 })
	ws.send(t, ctx, "a", startedQuery, nil)
	ce := ws.waitClose(t, 5*time.Second)
	if ce.Code != 4409 || ce.Reason != "Subscriber for a already exists" {
		t.Fatalf("closed with %d %q, want 4409 %q", ce.Code, ce.Reason, "Subscriber for a already exists")
	}
	waitFor(t, 10*time.Second, func() bool { return openSubscriptions(t, gw) == 0 })
}

// TestWebsocketDuplicateIDLegacy (L3): the legacy graphql-ws protocol's start messages are held
// to the same rule.
func TestWebsocketDuplicateIDLegacy(t *testing.T) {
	_, gw := watchGateway(t, 5, nil)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	start := map[string]any{"id": "a", "type": "start", "payload": map[string]any{"query": startedQuery}}
	for _, m := range []map[string]any{{"type": "connection_init", "payload": bearerInit(demo.TenantKey(1))}, start} {
		if err := wsjson.Write(ctx, c, m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, func() bool { return openSubscriptions(t, gw) == 1 })
	if err := wsjson.Write(ctx, c, start); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	for {
		var m wsMessage
		err := wsjson.Read(rctx, c, &m)
		if err == nil {
			continue // ack, keep-alives
		}
		if code := websocket.CloseStatus(err); code != 4409 {
			t.Fatalf("the socket ended with %v, want close 4409", err)
		}
		break
	}
	waitFor(t, 10*time.Second, func() bool { return openSubscriptions(t, gw) == 0 })
}
