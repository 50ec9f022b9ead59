package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// subEvent is one message a subscriber received: data, or the errors that ended it.
type subEvent struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// subscriber is a real client of one transport, collecting what arrives.
type subscriber struct {
	mu     sync.Mutex
	events []subEvent
	done   chan struct{} // closed when the server completes or closes the stream
}

func (s *subscriber) add(e subEvent) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *subscriber) snapshot() []subEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// openSSE opens a graphql-sse (distinct connections) subscription on url as key, with more
// request headers (e.g. Last-Event-ID) when given, and fails the test unless the answer is an
// event stream. The caller reads and closes the body.
func openSSE(t *testing.T, ctx context.Context, url, key, query string, vars map[string]any, headers ...string) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("SSE subscribe: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return resp
}

// sseSubscribe opens a graphql-sse (distinct connections) subscription.
func sseSubscribe(t *testing.T, ctx context.Context, url, key, query string, vars map[string]any) *subscriber {
	t.Helper()
	resp := openSSE(t, ctx, url, key, query, vars)
	s := &subscriber{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
				if event == "complete" {
					return
				}
			case strings.HasPrefix(line, "data: ") && event == "next":
				var e subEvent
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
					t.Errorf("SSE data: %v", err)
				}
				s.add(e)
			}
		}
	}()
	return s
}

// wsSubscribe opens a graphql-transport-ws subscription; init is connection_init's payload.
func wsSubscribe(t *testing.T, ctx context.Context, url string, init map[string]any, query string, vars map[string]any) (*subscriber, *websocket.Conn) {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": init}); err != nil {
		t.Fatal(err)
	}
	s := &subscriber{done: make(chan struct{})}
	acked := make(chan bool, 1)
	go func() {
		defer close(s.done)
		for {
			var m struct {
				Type    string          `json:"type"`
				ID      string          `json:"id"`
				Payload json.RawMessage `json:"payload"`
			}
			if err := wsjson.Read(ctx, c, &m); err != nil {
				select {
				case acked <- false:
				default:
				}
				return
			}
			switch m.Type {
			case "connection_ack":
				acked <- true
			case "ping":
				_ = wsjson.Write(ctx, c, map[string]any{"type": "pong"})
			case "next":
				var e subEvent
				if err := json.Unmarshal(m.Payload, &e); err != nil {
					t.Errorf("ws payload: %v", err)
				}
				s.add(e)
			case "error":
				var errs []gqlError
				_ = json.Unmarshal(m.Payload, &errs)
				s.add(subEvent{Errors: errs})
				return
			case "complete":
				return
			}
		}
	}()
	if !<-acked {
		return s, c
	}
	if err := wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}}); err != nil {
		t.Fatal(err)
	}
	return s, c
}

const startedQuery = `subscription($since: DateTime, $filter: RestoreSessionFilter) {
  restoreSessionStarted(since: $since, filter: $filter) { upstreamId startTime organization { name server { name } } }
}`

type startedData struct {
	RestoreSessionStarted struct {
		UpstreamID   string
		StartTime    string
		Organization struct {
			Name   string
			Server struct{ Name string }
		}
	}
}

// ids lists the session ids a subscriber received (failing on errors).
func receivedIDs(t *testing.T, s *subscriber) []string {
	t.Helper()
	var out []string
	for _, e := range s.snapshot() {
		if len(e.Errors) > 0 {
			t.Fatalf("subscription error: %+v", e.Errors)
		}
		var d startedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d.RestoreSessionStarted.Organization.Server.Name+"/"+d.RestoreSessionStarted.UpstreamID)
	}
	return out
}

// TestSubscriptionsTwoTenants: SSE and websocket clients of two tenants; the simulators add
// sessions for both tenants and for organisations of nobody's, some before the subscriptions
// start (replayed with since) and some after (live). Each subscriber gets exactly its own, once,
// in order per server, and nothing else.
func TestSubscriptionsTwoTenants(t *testing.T) {
	t.Parallel()
	fleet, gw := watchGateway(t, 30, nil)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	waitFor(t, 20*time.Second, func() bool { return backfilled(gw, 3) })
	since := time.Now().UTC()

	// Organisations: tenant 1 has syd1's 0 and 1 and mel1's 0; tenant 2 syd1's 2 and 3.
	type target struct {
		server string
		org    int
		tenant int // 0: nobody's
	}
	targets := []target{{"syd1", 0, 1}, {"syd1", 2, 2}, {"syd1", 5, 0}, {"mel1", 0, 1}, {"mel1", 4, 0}, {"syd1", 3, 2}, {"syd1", 1, 1}, {"akl1", 0, 3}}
	want := map[int][]string{}
	add := func(round int) {
		for _, tg := range targets {
			sim := fleet.Sims[tg.server]
			s := sim.AddSession(upstream.RestoreSession{Organization: sim.Organizations()[tg.org].Name,
				InitiatedBy: fmt.Sprintf("round %d", round), EndTime: ptrTime(time.Now().UTC())})
			want[tg.tenant] = append(want[tg.tenant], tg.server+"/"+s.ID)
			time.Sleep(2 * time.Millisecond)
		}
	}
	add(1) // before subscribing: replayed from the archive
	vars := map[string]any{"since": since.Format(time.RFC3339Nano)}
	subs := map[string]*subscriber{}
	subs["sse-1"] = sseSubscribe(t, ctx, srv.URL, demo.TenantKeyPrefix+"1", startedQuery, vars)
	subs["sse-2"] = sseSubscribe(t, ctx, srv.URL, demo.TenantKeyPrefix+"2", startedQuery, vars)
	subs["ws-1"], _ = wsSubscribe(t, ctx, srv.URL, map[string]any{"Authorization": "Bearer " + demo.TenantKeyPrefix + "1"}, startedQuery, vars)
	subs["ws-2"], _ = wsSubscribe(t, ctx, srv.URL, map[string]any{"X-API-Key": demo.TenantKeyPrefix + "2"}, startedQuery, vars)
	time.Sleep(100 * time.Millisecond) // two polls: some of round 1 is live, some replayed
	add(2)
	add(3) // live
	for name, s := range subs {
		tenant := int(name[len(name)-1] - '0')
		waitFor(t, 20*time.Second, func() bool { return len(s.snapshot()) >= len(want[tenant]) })
	}
	time.Sleep(300 * time.Millisecond) // a few more polls: nothing else may arrive
	for name, s := range subs {
		tenant := int(name[len(name)-1] - '0')
		got := receivedIDs(t, s)
		if !sameSet(got, want[tenant]) || hasDup(got) {
			t.Fatalf("%s received %d sessions:\n%v\nwant %d:\n%v", name, len(got), got, len(want[tenant]), want[tenant])
		}
		for _, server := range []string{"syd1", "mel1", "akl1"} {
			if g, w := onServer(got, server), onServer(want[tenant], server); !slices.Equal(g, w) {
				t.Fatalf("%s: %s sessions out of order:\n%v\nwant\n%v", name, server, g, w)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func hasDup(a []string) bool {
	seen := map[string]bool{}
	for _, s := range a {
		if seen[s] {
			return true
		}
		seen[s] = true
	}
	return false
}

func onServer(ids []string, server string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, server+"/") {
			out = append(out, id)
		}
	}
	return out
}

// backfilled reports whether the gateway's watch finished the backfill of n servers.
func backfilled(gw *app.Gateway, n int) bool {
	states, err := gw.Store.States(context.Background())
	if err != nil || len(states) < n {
		return false
	}
	for _, st := range states {
		if !st.BackfillDone {
			return false
		}
	}
	return true
}

func TestWebsocketAuthAndOrigin(t *testing.T) {
	t.Parallel()
	_, gw := watchGateway(t, 10, nil)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for name, init := range map[string]map[string]any{
		"no credentials": {},
		"bad key":        {"Authorization": "Bearer not-a-key"},
		"not a string":   {"Authorization": 42},
	} {
		t.Run(name, func(t *testing.T) {
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": init}); err != nil {
				t.Fatal(err)
			}
			for {
				var m map[string]any
				err := wsjson.Read(ctx, c, &m)
				if err != nil {
					if code := websocket.CloseStatus(err); code != 4403 {
						t.Fatalf("closed with %v (%v), want 4403", code, err)
					}
					return
				}
				if m["type"] == "connection_ack" {
					t.Fatal("acknowledged without credentials")
				}
			}
		})
	}
	t.Run("foreign origin", func(t *testing.T) {
		h := http.Header{"Origin": {"https://evil.example"}}
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin upgrade: %v %v", resp, err)
		}
	})
	t.Run("SSE without credentials", func(t *testing.T) {
		body := strings.NewReader(`{"query":"subscription { restoreSessionStarted { id } }"}`)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("SSE without credentials: %s", resp.Status)
		}
	})
}

// TestEventsAndEnded follows one live session: restoreEventAdded replays its archived events,
// then the new ones, and completes when it ends; restoreSessionEnded delivers it once, with a
// filter and to its tenant only.
func TestEventsAndEnded(t *testing.T) {
	t.Parallel()
	fleet, gw := watchGateway(t, 10, nil)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	waitFor(t, 20*time.Second, func() bool { return backfilled(gw, 3) })
	sim := fleet.Sims["syd1"]
	org := sim.Organizations()[0] // tenant 1's
	live := sim.AddSession(upstream.RestoreSession{Organization: org.Name})
	for i := range 2 {
		if _, err := sim.AddEvent(live.ID, upstream.RestoreSessionEvent{ItemName: fmt.Sprint("before ", i), Type: upstream.EventTypeView}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, func() bool {
		s, err := gw.Store.Session(ctx, "syd1", live.ID)
		return err == nil && s.EventsRead == 3
	})
	sid := sessionGID("syd1", live.ID)
	const evq = `subscription($id: ID!) { restoreEventAdded(sessionId: $id) { order type itemName } }`
	events := sseSubscribe(t, ctx, srv.URL, demo.TenantKeyPrefix+"1", evq, map[string]any{"id": sid})
	const endq = `subscription($f: RestoreSessionFilter) { restoreSessionEnded(filter: $f) { upstreamId state result } }`
	ended1, _ := wsSubscribe(t, ctx, srv.URL, map[string]any{"Authorization": "Bearer " + demo.TenantKeyPrefix + "1"}, endq,
		map[string]any{"f": map[string]any{"results": []string{"WARNING"}}})
	ended2 := sseSubscribe(t, ctx, srv.URL, demo.TenantKeyPrefix+"2", endq, nil)
	// Out of scope reads as missing.
	other := sseSubscribe(t, ctx, srv.URL, demo.TenantKeyPrefix+"2", evq, map[string]any{"id": sid})
	<-other.done
	if ev := other.snapshot(); len(ev) != 1 || len(ev[0].Errors) != 1 || ev[0].Errors[0].code() != "NOT_FOUND" {
		t.Fatalf("tenant 2 following tenant 1's session: %+v", ev)
	}
	time.Sleep(100 * time.Millisecond)
	for i := range 3 {
		if _, err := sim.AddEvent(live.ID, upstream.RestoreSessionEvent{ItemName: fmt.Sprint("after ", i), Type: upstream.EventTypeExport}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if err := sim.StopSession(live.ID, upstream.SessionResultWarning); err != nil {
		t.Fatal(err)
	}
	select {
	case <-events.done:
	case <-ctx.Done():
		t.Fatal("restoreEventAdded did not complete after the session ended")
	}
	orders := eventOrders(t, events)
	if !slices.Equal(orders, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("event orders %v, want 0..6 (start marker, 2 before, 3 after, stop marker)", orders)
	}
	waitFor(t, 10*time.Second, func() bool { return len(ended1.snapshot()) >= 1 })
	time.Sleep(200 * time.Millisecond)
	if got := ended1.snapshot(); len(got) != 1 || !strings.Contains(string(got[0].Data), live.ID) || !strings.Contains(string(got[0].Data), `"WARNING"`) {
		t.Fatalf("tenant 1 ended: %+v", got)
	}
	for _, e := range ended2.snapshot() {
		if strings.Contains(string(e.Data), live.ID) {
			t.Fatal("tenant 2 saw tenant 1's session end")
		}
	}
}

// eventOrders is the order of each restoreEventAdded message a subscriber got (none may be an
// error).
func eventOrders(t *testing.T, events *subscriber) []int {
	t.Helper()
	var orders []int
	for _, e := range events.snapshot() {
		var d struct{ RestoreEventAdded struct{ Order int } }
		if len(e.Errors) > 0 || json.Unmarshal(e.Data, &d) != nil {
			t.Fatalf("event message %+v", e)
		}
		orders = append(orders, d.RestoreEventAdded.Order)
	}
	return orders
}

func sessionGID(server, id string) string {
	return gid.ID{Kind: gid.KindRestoreSession, Server: server, Upstream: id}.String()
}

// TestFiftySubscribersOnePoll: fifty subscribers cost no upstream calls of their own: each
// server is still listed once per interval.
func TestFiftySubscribersOnePoll(t *testing.T) {
	// Serial: counts polls per interval in a 2 s window, which load stretches.
	const interval = 100 * time.Millisecond
	fleet, gw := watchGateway(t, 10, func(c *config.Config) {
		c.Watch.Interval = interval
		c.Limits.Subscriptions.PerPrincipal = -1 // 25 each for two principals (default bound 16)
	})
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	waitFor(t, 20*time.Second, func() bool { return backfilled(gw, 3) })
	subs := make([]*subscriber, 50)
	for i := range subs {
		key := demo.AdminKey
		if i%2 == 1 {
			key = demo.TenantKeyPrefix + "1"
		}
		if i%3 == 0 {
			subs[i], _ = wsSubscribe(t, ctx, srv.URL, map[string]any{"Authorization": "Bearer " + key}, startedQuery, nil)
		} else {
			subs[i] = sseSubscribe(t, ctx, srv.URL, key, startedQuery, nil)
		}
	}
	waitFor(t, 10*time.Second, func() bool { return gw.Feed.Subscribers() == 50 })
	sim := fleet.Sims["syd1"]
	sim.ResetStats()
	const window = 2 * time.Second
	deadline := time.Now().Add(window)
	n := 0
	for time.Now().Before(deadline) {
		sim.AddSession(upstream.RestoreSession{Organization: sim.Organizations()[0].Name})
		n++
		time.Sleep(200 * time.Millisecond)
	}
	listings := sim.Calls("GET /" + sim.APIVersion() + "/RestoreSessions")
	polls := int(window / interval)
	t.Logf("50 subscribers, %d new sessions: %d listing calls to syd1 in %v at a %v interval", n, listings, window, interval)
	// At most one listing per interval (fewer when a poll outlasts the interval on a busy
	// machine), not one per subscriber.
	if listings > polls+2 || listings < 1 {
		t.Fatalf("%d listing calls in %v, want at most %d (one per interval)", listings, window, polls+2)
	}
	waitFor(t, 10*time.Second, func() bool {
		for _, s := range subs {
			if len(s.snapshot()) < n {
				return false
			}
		}
		return true
	})
}

// TestRestartWithSince: a subscriber that reconnects to a restarted gateway with since just
// after the last session it received gets every session started since, once.
func TestRestartWithSince(t *testing.T) {
	t.Parallel()
	fleet, err := demo.Start(demo.Options{Orgs: 6, Sessions: 10, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	path := filepath.Join(t.TempDir(), "gw.db")
	start := func() (*app.Gateway, *httptest.Server) {
		cfg := *fleet.Config
		cfg.Watch = config.Watch{Enabled: true, Interval: 50 * time.Millisecond, Backfill: 100 * 24 * time.Hour}
		cfg.Store = config.Store{Driver: "sqlite", Path: path}
		gw, err := runGateway(t, t.Context(), &cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return gw, httptest.NewServer(gw.Handler)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	sim := fleet.Sims["mel1"]
	var want []string
	add := func(n int) {
		for range n {
			s := sim.AddSession(upstream.RestoreSession{Organization: sim.Organizations()[1].Name})
			want = append(want, "mel1/"+s.ID)
			time.Sleep(3 * time.Millisecond)
		}
	}
	gw, srv := start()
	waitFor(t, 20*time.Second, func() bool { return backfilled(gw, 3) })
	since := time.Now().UTC()
	vars := map[string]any{"since": since.Format(time.RFC3339Nano), "filter": map[string]any{"servers": []string{"mel1"}}}
	sub := sseSubscribe(t, ctx, srv.URL, demo.AdminKey, startedQuery, vars)
	add(5)
	waitFor(t, 10*time.Second, func() bool { return len(sub.snapshot()) == 5 })
	first := receivedIDs(t, sub)
	var last startedData
	_ = json.Unmarshal(sub.snapshot()[4].Data, &last)
	gw.Close() // ends the subscription: its stream completes
	select {
	case <-sub.done:
	case <-ctx.Done():
		t.Fatal("the subscription did not end with the gateway")
	}
	srv.Close()
	add(5) // while the gateway is down

	gw2, srv2 := start()
	t.Cleanup(func() { srv2.Close(); gw2.Close() })
	lastStart, err := time.Parse(time.RFC3339Nano, last.RestoreSessionStarted.StartTime)
	if err != nil {
		t.Fatal(err)
	}
	vars["since"] = lastStart.Add(time.Nanosecond).Format(time.RFC3339Nano)
	sub2 := sseSubscribe(t, ctx, srv2.URL, demo.AdminKey, startedQuery, vars)
	add(5) // live again
	waitFor(t, 10*time.Second, func() bool { return len(sub2.snapshot()) >= 10 })
	time.Sleep(200 * time.Millisecond)
	got := append(first, receivedIDs(t, sub2)...)
	if !slices.Equal(got, want) {
		t.Fatalf("across the restart received %d:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
	}
}

// TestReloadClosesSubscriptions: a reload ends every subscription (RESUBSCRIBE); a key the
// reload removed can then subscribe neither over SSE nor on its old websocket connection.
func TestReloadClosesSubscriptions(t *testing.T) {
	t.Parallel()
	fleet, gw := watchGateway(t, 10, nil)
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	key := demo.TenantKeyPrefix + "1"
	sse := sseSubscribe(t, ctx, srv.URL, key, startedQuery, nil)
	ws, conn := wsSubscribe(t, ctx, srv.URL, map[string]any{"Authorization": "Bearer " + key}, startedQuery, nil)
	waitFor(t, 10*time.Second, func() bool { return gw.Feed.Subscribers() == 2 })
	cfg := *fleet.Config
	cfg.Auth.APIKeys = slices.DeleteFunc(slices.Clone(cfg.Auth.APIKeys), func(k config.APIKey) bool { return k.Name == "demo-tenant-1" })
	if err := gw.Reload(func() (*config.Config, error) { return &cfg, nil }); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*subscriber{"sse": sse, "ws": ws} {
		select {
		case <-s.done:
		case <-ctx.Done():
			t.Fatalf("%s subscription still open after the reload", name)
		}
		ev := s.snapshot()
		if len(ev) != 1 || len(ev[0].Errors) != 1 || ev[0].Errors[0].code() != "RESUBSCRIBE" {
			t.Fatalf("%s ended with %+v, want one RESUBSCRIBE error", name, ev)
		}
	}
	// SSE: the key is gone.
	body := strings.NewReader(`{"query":"subscription { restoreSessionStarted { id } }"}`)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SSE with the removed key: %s", resp.Status)
	}
	// The websocket authenticated before the reload cannot start a new subscription.
	if err := wsjson.Write(ctx, conn, map[string]any{"id": "2", "type": "subscribe", "payload": map[string]any{"query": startedQuery}}); err != nil {
		t.Fatal(err)
	}
	for {
		var m struct {
			Type    string          `json:"type"`
			ID      string          `json:"id"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return // closed: fine as well
		}
		if m.ID != "2" {
			continue
		}
		if !strings.Contains(string(m.Payload), "UNAUTHENTICATED") {
			t.Fatalf("new subscription on the old connection: %s %s", m.Type, m.Payload)
		}
		return
	}
}

// TestEventsOfSessionOlderThanTheArchive: restoreEventAdded on a session that ended before the
// watch's backfill window (the archive never holds it) streams its events from VBO, in order,
// and completes, instead of waiting for an archive entry that will never come.
func TestEventsOfSessionOlderThanTheArchive(t *testing.T) {
	t.Parallel()
	fleet, gw := watchGateway(t, 40, func(c *config.Config) { c.Watch.Backfill = 24 * time.Hour })
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	waitFor(t, 20*time.Second, func() bool { return backfilled(gw, 3) })
	sim := fleet.Sims["syd1"]
	org := sim.Organizations()[0] // tenant 1's
	var old *upstream.RestoreSession
	for _, s := range sim.Sessions() {
		if s.Organization == org.Name && s.Finished() && s.CreationTime.Before(time.Now().Add(-72*time.Hour)) && len(sim.Events(s.ID)) > 2 {
			old = &s
			break
		}
	}
	if old == nil {
		t.Fatal("no stopped session of tenant 1 older than the backfill window")
	}
	if _, err := gw.Store.Session(ctx, "syd1", old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the archive holds a session from before its backfill window (err %v)", err)
	}
	const evq = `subscription($id: ID!) { restoreEventAdded(sessionId: $id) { order itemName } }`
	events := sseSubscribe(t, ctx, srv.URL, demo.TenantKeyPrefix+"1", evq, map[string]any{"id": sessionGID("syd1", old.ID)})
	select {
	case <-events.done:
	case <-ctx.Done():
		t.Fatal("restoreEventAdded on an ended, unarchived session did not complete")
	}
	orders := eventOrders(t, events)
	var want []int
	for _, e := range sim.Events(old.ID) {
		want = append(want, e.Order)
	}
	if !slices.Equal(orders, want) {
		t.Fatalf("event orders %v, want VBO's %v", orders, want)
	}
	other := sseSubscribe(t, ctx, srv.URL, demo.TenantKeyPrefix+"2", evq, map[string]any{"id": sessionGID("syd1", old.ID)})
	<-other.done
	if ev := other.snapshot(); len(ev) != 1 || len(ev[0].Errors) != 1 || ev[0].Errors[0].code() != "NOT_FOUND" {
		t.Fatalf("tenant 2 following tenant 1's old session: %+v", ev)
	}
}

// A subscription posted as a plain request (Accept: application/json, not an event stream) whose
// stream ends before its first event, here at the request deadline, answers as gqlgen's POST
// transport does (200, null), not with a panic turned into 500 INTERNAL.
func TestPlainPostSubscriptionWithoutEvent(t *testing.T) {
	t.Parallel()
	_, gw := watchGateway(t, 5, func(c *config.Config) { c.Resilience.RequestTimeout = 300 * time.Millisecond })
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	body, _ := json.Marshal(map[string]any{"query": `subscription { restoreSessionStarted { upstreamId } }`})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+demo.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "null" {
		t.Fatalf("HTTP %d %s, want 200 null (gqlgen's POST transport)", resp.StatusCode, b)
	}
}
