package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// arrival is one session seen by a client (an SSE subscriber or a webhook receiver), and when.
type arrival struct {
	session string // server/upstreamId
	at      time.Time
}

// TestV8LatencyEndToEnd (issue 22 item 5, end to end): v8 simulators behind a gateway whose
// watch interval is ten minutes. Sessions are added one by one; each must reach an SSE subscriber
// of restoreSessionStarted and a STARTED watch rule's webhook receiver long before the
// interval could (the deadline, 30 s, is generous for a loaded machine and far below the
// interval): only the v8 change feed can bring them, so the test proves the change feed drives
// both paths. The latencies (the target is < 2 s: ~100 ms when River's insert trigger wakes
// its fetcher, else its fetch poll, 1 s) are logged, not asserted: speed belongs in
// benchmarks (vbo-bench).
func TestV8LatencyEndToEnd(t *testing.T) {
	const (
		interval = 10 * time.Minute
		n        = 10
		deadline = 30 * time.Second
	)
	fleet, err := demo.Start(demo.Options{Orgs: 3, Sessions: 5, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute),
		Sim: func(_ string, o *vbosim.Options) { o.APIVersion = upstream.APIv8 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	cfg := fleet.Config
	for _, s := range cfg.Servers {
		if s.APIVersion != upstream.APIv8 {
			t.Fatalf("server %s apiVersion %q, want v8", s.Name, s.APIVersion)
		}
	}
	cfg.Watch = config.Watch{Enabled: true, Interval: interval, Backfill: 24 * time.Hour}
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "gw.db")}
	cfg.Webhooks = config.Webhooks{AllowHTTP: true, AllowPrivateNetworks: []string{"127.0.0.0/8"},
		RetrySchedule: []time.Duration{0, 50 * time.Millisecond}}
	gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	waitBackfill(t, gw)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	hooks := make(chan arrival, 4*n)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var p struct {
			Data struct {
				UpstreamID string
				Server     struct{ Name string }
			}
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("webhook body %q: %v", b, err)
		}
		hooks <- arrival{p.Data.Server.Name + "/" + p.Data.UpstreamID, at}
	}))
	t.Cleanup(rcv.Close)
	mustPost(t, gw, demo.AdminKey, createRule, map[string]any{"in": map[string]any{
		"name": "every restore, as it starts", "url": rcv.URL + "/hook", "on": "STARTED"}}, nil)
	events := sseArrivals(t, ctx, srv.URL, demo.AdminKey, startedQuery, nil)

	// await waits for session on ch, skipping others (none expected), until deadline.
	await := func(ch <-chan arrival, session string, deadline <-chan time.Time) (time.Time, bool) {
		for {
			select {
			case a := <-ch:
				if a.session == session {
					return a.at, true
				}
				t.Logf("unexpected %s while waiting for %s", a.session, session)
			case <-deadline:
				return time.Time{}, false
			}
		}
	}
	names := slices.Sorted(maps.Keys(fleet.Sims))
	add := func(i int) string {
		name := names[i%len(names)]
		sim := fleet.Sims[name]
		s := sim.AddSession(upstream.RestoreSession{Organization: sim.Organizations()[i%3].Name,
			InitiatedBy: fmt.Sprintf("latency %d", i), CreationTime: time.Now().UTC()})
		return name + "/" + s.ID
	}
	// A first session, unmeasured: the subscription is live and the rule's path warm.
	warm := add(n)
	for what, ch := range map[string]<-chan arrival{"SSE": events, "webhook": hooks} {
		if _, ok := await(ch, warm, time.After(deadline)); !ok {
			t.Fatalf("the warm-up session %s did not reach the %s client within %v (watch interval %v: only the change feed brings it)", warm, what, deadline, interval)
		}
	}

	sse := make([]time.Duration, 0, n)
	hook := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		s := add(i)
		within := time.After(deadline)
		sseAt, ok1 := await(events, s, within)
		hookAt, ok2 := await(hooks, s, within)
		if !ok1 || !ok2 {
			t.Fatalf("session %d (%s): SSE %v, webhook %v within %v (watch interval %v: only the change feed brings it)", i, s, ok1, ok2, deadline, interval)
		}
		sse = append(sse, sseAt.Sub(start))
		hook = append(hook, hookAt.Sub(start))
	}
	summary := func(l []time.Duration) (p50, worst time.Duration) {
		s := slices.Clone(l)
		slices.Sort(s)
		return s[len(s)/2], s[len(s)-1]
	}
	sp50, smax := summary(sse)
	hp50, hmax := summary(hook)
	t.Logf("v8, watch interval %v, %d sessions one by one: new session -> SSE event p50 %v max %v; -> webhook p50 %v max %v (target < 2 s)",
		interval, n, sp50.Round(time.Millisecond), smax.Round(time.Millisecond), hp50.Round(time.Millisecond), hmax.Round(time.Millisecond))
}

// sseArrivals subscribes over SSE (graphql-sse, distinct connections) to restoreSessionStarted
// and sends each event's session with its arrival time; the subscription is live when it
// returns (the response's headers arrived).
func sseArrivals(t *testing.T, ctx context.Context, url, key, query string, vars map[string]any) <-chan arrival {
	t.Helper()
	resp := openSSE(t, ctx, url, key, query, vars)
	out := make(chan arrival, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "next":
				at := time.Now()
				var e struct {
					Data   *startedData `json:"data"`
					Errors []gqlError   `json:"errors"`
				}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil || e.Data == nil {
					t.Errorf("SSE event %q: %v %+v", line, err, e.Errors)
					continue
				}
				s := e.Data.RestoreSessionStarted
				select {
				case out <- arrival{s.Organization.Server.Name + "/" + s.UpstreamID, at}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
