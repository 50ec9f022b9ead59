package upstream_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// The client against the simulator: the same wire format the gateway meets in production.

var simNow = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func startSim(t *testing.T, o vbosim.Options) (*vbosim.Server, *upstream.Client) {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = simNow
	}
	o.Username, o.Password = "svc", "pw"
	sim := vbosim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := upstream.NewClient(srv.URL, upstream.ClientOptions{Name: "sim", APIVersion: sim.APIVersion(), Username: "svc", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func TestClientWalksSimulatorSessions(t *testing.T) {
	for _, version := range []string{"v6", "v7", "v8"} {
		t.Run(version, func(t *testing.T) {
			sim, c := startSim(t, vbosim.Options{APIVersion: version, Seed: 7, Orgs: 40, Sessions: 2345})
			ctx := context.Background()

			orgs, err := c.Organizations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(orgs) != 40 {
				t.Fatalf("%d organisations, want 40 (v8 pages with a default limit of 30)", len(orgs))
			}
			want := sim.Sessions()
			var got []upstream.RestoreSession
			for s, err := range c.RestoreSessionsIter(ctx, upstream.RestoreSessionListOptions{}) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			if len(got) != len(want) {
				t.Fatalf("walked %d sessions, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].ID != want[i].ID || !got[i].CreationTime.Equal(want[i].CreationTime) || got[i].Organization != want[i].Organization {
					t.Fatalf("session %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			if n := sim.Calls("GET /" + version + "/RestoreSessions"); n != 3 {
				t.Errorf("listing calls = %d, want 3 (ceil(2345/1000))", n)
			}
			if n := sim.Calls("POST /" + version + "/token"); n != 1 {
				t.Errorf("token calls = %d, want 1", n)
			}

			s := want[len(want)/2]
			var events []upstream.RestoreSessionEvent
			for ev, err := range c.RestoreSessionEventsIter(ctx, s.ID, upstream.ListOptions{Limit: 7}) {
				if err != nil {
					t.Fatal(err)
				}
				events = append(events, ev)
			}
			wantEvents := sim.Events(s.ID)
			if len(events) != len(wantEvents) || len(events) == 0 {
				t.Fatalf("%d events, want %d", len(events), len(wantEvents))
			}
			for i := range events {
				if events[i].ID != wantEvents[i].ID || events[i].Order != i {
					t.Fatalf("event %d = %+v", i, events[i])
				}
			}
			one, _, err := c.RestoreSessionEvent(ctx, s.ID, wantEvents[1].ID)
			if err != nil || one.ID != wantEvents[1].ID {
				t.Fatalf("RestoreSessionEvent = %+v, %v", one, err)
			}
			got1, _, err := c.RestoreSession(ctx, s.ID)
			if err != nil || got1.ID != s.ID {
				t.Fatalf("RestoreSession = %+v, %v", got1, err)
			}
			org, _, err := c.Organization(ctx, orgs[3].ID)
			if err != nil || org.Name != orgs[3].Name {
				t.Fatalf("Organization = %+v, %v", org, err)
			}
		})
	}
}

func TestClientTimeWindowAgainstSimulator(t *testing.T) {
	sim, c := startSim(t, vbosim.Options{Seed: 3, Orgs: 5, Sessions: 600})
	from, to := simNow.Add(-20*24*time.Hour), simNow.Add(-10*24*time.Hour)
	var got int
	for s, err := range c.RestoreSessionsIter(context.Background(), upstream.RestoreSessionListOptions{StartTimeFrom: &from, StartTimeTo: &to}) {
		if err != nil {
			t.Fatal(err)
		}
		if s.CreationTime.Before(from) || !s.CreationTime.Before(to) {
			t.Fatalf("session at %s outside [%s, %s)", s.CreationTime, from, to)
		}
		got++
	}
	want := 0
	for _, s := range sim.Sessions() {
		if !s.CreationTime.Before(from) && s.CreationTime.Before(to) {
			want++
		}
	}
	if got != want || want == 0 {
		t.Errorf("window gave %d sessions, want %d (>0)", got, want)
	}
}

func TestClientErrorsFromSimulator(t *testing.T) {
	_, c := startSim(t, vbosim.Options{Seed: 1, Orgs: 2, Sessions: 10})
	ctx := context.Background()
	_, _, err := c.RestoreSession(ctx, "00000000-0000-4000-8000-000000000000")
	var e *upstream.Error
	if !errors.Is(err, upstream.ErrNotFound) || !errors.As(err, &e) || e.Message == "" || e.Server != "sim" {
		t.Errorf("unknown session: err = %v", err)
	}
	_, _, err = c.RestoreSession(ctx, "not-a-uuid")
	if !errors.Is(err, upstream.ErrBadRequest) && !errors.Is(err, upstream.ErrNotFound) {
		t.Errorf("malformed id: err = %v, want 400 or 404", err)
	}
	bad, _ := upstream.NewClient(c.BaseURL(), upstream.ClientOptions{Name: "sim", Username: "svc", Password: "nope"})
	if _, err := bad.Organizations(ctx); !errors.Is(err, upstream.ErrUnauthorized) {
		t.Errorf("wrong password: err = %v, want ErrUnauthorized", err)
	}
}

func TestClientSharesOneTokenAfterExpiry(t *testing.T) {
	var mu sync.Mutex
	now := simNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sim, c := startSim(t, vbosim.Options{Seed: 2, Orgs: 3, Sessions: 20, TokenLifetime: 2 * time.Minute, Clock: clock})
	ctx := context.Background()
	if _, err := c.Organizations(ctx); err != nil {
		t.Fatal(err)
	}
	// The simulator's clock passes the token's expiry; the client's own clock does not know, so
	// all 50 callers meet a 401 and must share one re-authentication.
	mu.Lock()
	now = now.Add(3 * time.Minute)
	mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := c.Organizations(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.Calls("POST /v6/token"); n != 2 {
		t.Errorf("token calls = %d, want 2 (initial + one shared re-authentication)", n)
	}
}
