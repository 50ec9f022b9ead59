package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// sseEvent is one "next" event of an SSE subscription: its id (the resume position) and the
// session it carries (server/upstreamId).
type sseEvent struct{ id, session string }

// sseClient is an EventSource-style client of restoreSessionStarted: it records each event
// with its id, and reconnects (elsewhere) with Last-Event-ID.
type sseClient struct {
	mu     sync.Mutex
	events []sseEvent
	errs   []string
	done   chan struct{}
}

func (c *sseClient) snapshot() []sseEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// sseConnect subscribes on url with query and vars, sending Last-Event-ID when lastID is set.
func sseConnect(t *testing.T, ctx context.Context, url, key, query string, vars map[string]any, lastID string) *sseClient {
	t.Helper()
	var headers []string
	if lastID != "" {
		headers = []string{"Last-Event-ID", lastID}
	}
	resp := openSSE(t, ctx, url, key, query, vars, headers...)
	c := &sseClient{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var id, event, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "": // the end of an event
				if event == "complete" {
					return
				}
				if event == "next" {
					c.add(id, data)
				}
				id, event, data = "", "", ""
			}
		}
	}()
	return c
}

func (c *sseClient) add(id, data string) {
	var e struct {
		Data   *startedData `json:"data"`
		Errors []gqlError   `json:"errors"`
	}
	err := json.Unmarshal([]byte(data), &e)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.errs = append(c.errs, fmt.Sprintf("data %q: %v", data, err))
	case len(e.Errors) > 0 || e.Data == nil:
		c.errs = append(c.errs, data)
	case id == "":
		c.errs = append(c.errs, "an event without an id: "+data)
	default:
		s := e.Data.RestoreSessionStarted
		c.events = append(c.events, sseEvent{id: id, session: s.Organization.Server.Name + "/" + s.UpstreamID})
	}
}

func sessionsOf(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.session
	}
	return out
}

// TestSSEResumeAcrossGateways (issue 22 item 1, end to end): two gateways share one PostgreSQL
// store. An SSE client of gateway A receives round 1 and disconnects; A goes away (its leases
// with it); while the client is away the servers add round 2, one session of which started
// before the client's last event (a late commit: the old since recipe loses it); the client
// reconnects to gateway B with the Last-Event-ID it got from A and receives exactly round 2,
// then round 3 live: nothing of round 1 again, nothing of another tenant, nothing twice.
func TestSSEResumeAcrossGateways(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t) // skips, saying so, without PostgreSQL
	fleet, err := demo.Start(demo.Options{Orgs: 6, Sessions: 10, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	cfg := *fleet.Config.WithCursorSecret([]byte(testCursorSecret)) // one configuration and cursor key for both gateways
	cfg.Watch = config.Watch{Enabled: true, Interval: 50 * time.Millisecond, Backfill: 24 * time.Hour}
	cfg.Store = config.Store{Driver: "postgres", DSNEnv: "UNUSED"}.WithDSN(dsn)
	gateway := func() (*app.Gateway, string) {
		gw, err := runGateway(t, t.Context(), &cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(gw.Handler)
		t.Cleanup(srv.Close)
		return gw, srv.URL
	}
	gwA, urlA := gateway()
	_, urlB := gateway()
	waitFor(t, 20*time.Second, func() bool { return backfilled(gwA, 3) }, "the backfill")
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()

	// Tenant 1 has syd1's organisations 0 and 1 and mel1's 0; tenant 2 syd1's 2.
	type target struct {
		server string
		org    int
		mine   bool
	}
	targets := []target{{"syd1", 0, true}, {"mel1", 0, true}, {"syd1", 2, false}, {"syd1", 1, true}}
	add := func(round int, start time.Time) []string {
		var mine []string
		for _, tg := range targets {
			sim := fleet.Sims[tg.server]
			s := sim.AddSession(upstream.RestoreSession{Organization: sim.Organizations()[tg.org].Name,
				InitiatedBy: fmt.Sprintf("round %d", round), CreationTime: start, EndTime: ptrTime(time.Now().UTC())})
			if tg.mine {
				mine = append(mine, tg.server+"/"+s.ID)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return mine
	}
	key := demo.TenantKeyPrefix + "1"
	vars := map[string]any{"since": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)}

	first := sseConnect(t, ctx, urlA, key, startedQuery, vars, "")
	round1 := add(1, time.Time{})
	waitFor(t, 20*time.Second, func() bool { return len(first.snapshot()) >= len(round1) }, "round 1 on gateway A")
	got1 := first.snapshot()
	if !sameSet(sessionsOf(got1), round1) || len(first.errs) > 0 {
		t.Fatalf("gateway A: %v (errors %v), want %v", sessionsOf(got1), first.errs, round1)
	}
	lastID := got1[len(got1)-1].id
	gwA.Close() // the client's gateway goes away, and its stream with it
	select {
	case <-first.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway A closed, its SSE stream did not end")
	}

	// While the client is away: round 2, one session of which started 30 s ago (before the
	// client's last event, within the watch's overlap), archived by B once it took A's leases.
	round2 := add(2, time.Time{})
	late := fleet.Sims["mel1"].AddSession(upstream.RestoreSession{Organization: fleet.Sims["mel1"].Organizations()[0].Name,
		InitiatedBy: "late commit", CreationTime: time.Now().UTC().Add(-30 * time.Second), EndTime: ptrTime(time.Now().UTC())})
	round2 = append(round2, "mel1/"+late.ID)
	second := sseConnect(t, ctx, urlB, key, startedQuery, vars, lastID)
	round3 := add(3, time.Time{})
	want := append(slices.Clone(round2), round3...)
	waitFor(t, 20*time.Second, func() bool {
		select {
		case <-second.done:
			second.mu.Lock()
			defer second.mu.Unlock()
			t.Fatalf("the stream on gateway B ended after %v: %v", sessionsOf(second.events), second.errs)
		default:
		}
		return len(second.snapshot()) >= len(want)
	}, "rounds 2 and 3 on gateway B")
	time.Sleep(300 * time.Millisecond) // a few polls more: nothing else may arrive
	got := sessionsOf(second.snapshot())
	second.mu.Lock()
	errs := second.errs
	second.mu.Unlock()
	if !sameSet(got, want) || hasDup(got) || len(errs) > 0 {
		t.Fatalf("resumed on gateway B with A's Last-Event-ID: %d sessions %v (errors %v)\nwant %d: %v", len(got), got, errs, len(want), want)
	}
	t.Logf("gateway A delivered %d, gateway B after Last-Event-ID %d (missed while away %d incl. 1 started before the last event, live %d): lost 0, duplicated 0",
		len(got1), len(got), len(round2), len(round3))
}
