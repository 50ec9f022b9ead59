package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// The change feed client against the simulator.

func startFeed(t *testing.T, feed vbosim.ChangeFeedOptions, o upstream.ClientOptions) (*vbosim.Server, *upstream.Client) {
	t.Helper()
	sim := vbosim.New(vbosim.Options{APIVersion: "v8", Now: simNow, Seed: 3, Orgs: 3, Sessions: 30,
		Username: "svc", Password: "pw", ChangeFeed: feed})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	o.Name, o.APIVersion, o.Username, o.Password = "sim8", upstream.APIv8, "svc", "pw"
	c, err := upstream.NewClient(srv.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func latestToken(t *testing.T, c *upstream.Client) string {
	t.Helper()
	p, err := c.Changes(context.Background(), upstream.ChangesLatest, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.NextChangeToken
}

// TestChangesTypedEvents: creating, changing and deleting sessions come back as typed update
// and delete events, in order, with the eTag and organisation id of the session.
func TestChangesTypedEvents(t *testing.T) {
	t.Parallel()
	upd := func(id string, etag int64, org string) upstream.ChangeEvent {
		return upstream.ChangeEvent{Type: upstream.ChangeRestoreSessionUpdate, ID: id, ETag: etag, OrganizationID: org}
	}
	del := func(id string) upstream.ChangeEvent {
		return upstream.ChangeEvent{Type: upstream.ChangeRestoreSessionDelete, ID: id}
	}
	for _, tc := range []struct {
		name string
		act  func(t *testing.T, s *vbosim.Server, org string) []upstream.ChangeEvent
	}{
		{"nothing", func(*testing.T, *vbosim.Server, string) []upstream.ChangeEvent { return []upstream.ChangeEvent{} }},
		{"create", func(_ *testing.T, s *vbosim.Server, org string) []upstream.ChangeEvent {
			a := s.AddSession(upstream.RestoreSession{})
			return []upstream.ChangeEvent{upd(a.ID, 1, org)}
		}},
		{"create, item, stop, delete", func(t *testing.T, s *vbosim.Server, org string) []upstream.ChangeEvent {
			a := s.AddSession(upstream.RestoreSession{})
			if _, err := s.AddEvent(a.ID, upstream.RestoreSessionEvent{ItemName: "x"}); err != nil {
				t.Fatal(err)
			}
			if err := s.StopSession(a.ID, upstream.SessionResultSuccess); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteSession(a.ID); err != nil {
				t.Fatal(err)
			}
			return []upstream.ChangeEvent{upd(a.ID, 1, org), upd(a.ID, 2, org), upd(a.ID, 3, org), del(a.ID)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, c := startFeed(t, vbosim.ChangeFeedOptions{}, upstream.ClientOptions{})
			from := latestToken(t, c)
			want := tc.act(t, sim, sim.Organizations()[0].ID)
			p, err := c.Changes(context.Background(), from, 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Results, want) || p.Ignored != 0 {
				t.Fatalf("events %+v (%d ignored), want %+v", p.Results, p.Ignored, want)
			}
			if n := len(want); n > 0 && want[n-1].Type == upstream.ChangeRestoreSessionUpdate {
				ev := want[n-1] // the watcher fetches the changed session by id
				rs, _, err := c.RestoreSession(context.Background(), ev.ID)
				if err != nil || rs.ETag == nil || *rs.ETag != ev.ETag {
					t.Fatalf("the session by id: %+v, %v; want eTag %d", rs, err, ev.ETag)
				}
			}
		})
	}
}

// TestChangesPagesByLimit: limit bounds each page; following the tokens reads every change once.
func TestChangesPagesByLimit(t *testing.T) {
	t.Parallel()
	sim, c := startFeed(t, vbosim.ChangeFeedOptions{}, upstream.ClientOptions{})
	from := latestToken(t, c)
	var want, got []string
	for range 7 {
		want = append(want, sim.AddSession(upstream.RestoreSession{}).ID)
	}
	var sizes []int
	for range 10 {
		p, err := c.Changes(context.Background(), from, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(p.Results))
		for _, ev := range p.Results {
			got = append(got, ev.ID)
		}
		from = p.NextChangeToken
		if len(p.Results) == 0 {
			break
		}
	}
	if !reflect.DeepEqual(sizes, []int{3, 3, 1, 0}) || !reflect.DeepEqual(got, want) {
		t.Fatalf("pages %v holding %v, want [3 3 1 0] holding %v", sizes, got, want)
	}
}

// TestChangesLongPoll: the call answers as soon as a change comes (not at its minute-long
// timeout), and at the timeout with nothing when idle.
func TestChangesLongPoll(t *testing.T) {
	t.Parallel()
	t.Run("answers on a change", func(t *testing.T) {
		t.Parallel()
		sim, c := startFeed(t, vbosim.ChangeFeedOptions{}, upstream.ClientOptions{})
		from := latestToken(t, c)
		type answer struct {
			p   upstream.ChangePage
			err error
		}
		got := make(chan answer, 1)
		go func() {
			p, err := c.Changes(context.Background(), from, 0, time.Minute)
			got <- answer{p, err}
		}()
		added := sim.AddSession(upstream.RestoreSession{})
		select {
		case a := <-got:
			if a.err != nil || len(a.p.Results) != 1 || a.p.Results[0].ID != added.ID {
				t.Fatalf("%+v, %v; want the update of %s", a.p.Results, a.err, added.ID)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no answer on the change")
		}
	})
	t.Run("idle until the timeout", func(t *testing.T) {
		t.Parallel()
		// one timeoutSeconds lasts 30 ms on this server: 2 s asked is 60 ms of waiting
		_, c := startFeed(t, vbosim.ChangeFeedOptions{Second: 30 * time.Millisecond}, upstream.ClientOptions{})
		from := latestToken(t, c)
		start := time.Now()
		p, err := c.Changes(context.Background(), from, 0, 1500*time.Millisecond)
		if took := time.Since(start); err != nil || len(p.Results) != 0 || took < 60*time.Millisecond {
			t.Fatalf("%+v, %v after %s; want nothing after 60ms (1.5 s rounds up to 2)", p.Results, err, took)
		}
		if p.NextChangeToken == "" {
			t.Fatal("no token")
		}
	})
}

// TestChangesWaitOutlivesAttemptDeadlines: the long-poll's own wait is not cut by the client's
// per-attempt deadlines (Attempt, ResponseHeader, Idle of 50 ms here): the server answering
// later than they allow is the feed working. Other calls keep them.
func TestChangesWaitOutlivesAttemptDeadlines(t *testing.T) {
	t.Parallel()
	// one timeoutSeconds lasts 150 ms: asking 1 s waits 150 ms, three times the deadlines
	sim, c := startFeed(t, vbosim.ChangeFeedOptions{Second: 150 * time.Millisecond}, upstream.ClientOptions{
		Timeouts: upstream.Timeouts{ResponseHeader: 50 * time.Millisecond, Attempt: 50 * time.Millisecond, Idle: 50 * time.Millisecond}})
	from := latestToken(t, c)
	start := time.Now()
	p, err := c.Changes(context.Background(), from, 0, time.Second)
	if err != nil || len(p.Results) != 0 {
		t.Fatalf("idle long-poll: %+v, %v after %s", p.Results, err, time.Since(start))
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Fatalf("answered after %s: the server did not wait", took)
	}
	// the deadlines still hold for other calls
	sim.SetFaults(vbosim.Faults{Latency: 200 * time.Millisecond})
	if _, _, err := c.RestoreSessions(context.Background(), upstream.RestoreSessionListOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a slow listing: %v, want a timeout", err)
	}
}

// TestChangesTakesNoConcurrencySlot: a long-poll waiting on the feed does not hold one of the
// server's MaxConcurrency slots: with one slot, a listing runs while it waits.
func TestChangesTakesNoConcurrencySlot(t *testing.T) {
	t.Parallel()
	sent := make(chan struct{}, 1)
	sim, c := startFeed(t, vbosim.ChangeFeedOptions{}, upstream.ClientOptions{MaxConcurrency: 1,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if strings.Contains(r.URL.RawQuery, "timeoutSeconds") {
					select {
					case sent <- struct{}{}:
					default:
					}
				}
				return rt.RoundTrip(r)
			})
		}})
	from := latestToken(t, c)
	done := make(chan error, 1)
	go func() {
		_, err := c.Changes(context.Background(), from, 0, time.Minute)
		done <- err
	}()
	<-sent
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{})
	sim.AddSession(upstream.RestoreSession{}) // ends the long-poll
	if err != nil {
		t.Fatalf("listing while a long-poll waits: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestChangesErrors: an outdated or unknown token is ErrChangeTokenExpired (and still the
// server's *Error); v6/v7 clients have no feed and make no call; bad arguments make no call;
// a transient 503 is retried as any GET.
func TestChangesErrors(t *testing.T) {
	t.Parallel()
	sim, c := startFeed(t, vbosim.ChangeFeedOptions{History: 2}, upstream.ClientOptions{
		Retry: upstream.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}})
	ctx := context.Background()
	old := latestToken(t, c)
	for range 3 {
		sim.AddSession(upstream.RestoreSession{})
	}
	for _, from := range []string{old, "garbled", strings.Repeat("A", 32)} {
		_, err := c.Changes(ctx, from, 0, 0)
		var e *upstream.Error
		if !errors.Is(err, upstream.ErrChangeTokenExpired) || !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest {
			t.Errorf("from %.12q: %v, want ErrChangeTokenExpired wrapping the 400", from, err)
		}
	}

	sim.ResetStats()
	for _, tc := range []struct {
		name    string
		from    string
		limit   int
		timeout time.Duration
	}{
		{"empty token", "", 0, 0},
		{"negative limit", "latest", -1, 0},
		{"limit over 10000", "latest", 10001, 0},
		{"negative timeout", "latest", 0, -time.Second},
	} {
		if _, err := c.Changes(ctx, tc.from, tc.limit, tc.timeout); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if n := sim.Stats().Total; n != 0 {
		t.Errorf("%d calls for bad arguments", n)
	}

	sim.SetFaults(vbosim.Faults{BurstStatus: http.StatusServiceUnavailable, BurstCount: 1})
	if _, err := c.Changes(ctx, upstream.ChangesLatest, 0, 0); err != nil {
		t.Fatalf("after one 503: %v, want the retry to succeed", err)
	}
	if n := sim.Calls("GET /v8/Events"); n != 2 {
		t.Errorf("%d feed calls, want 2 (one retry)", n)
	}

	for _, ver := range []string{upstream.APIv6, upstream.APIv7} {
		old, c6 := startSim(t, vbosim.Options{APIVersion: ver, Sessions: 5, Orgs: 1})
		if _, err := c6.Changes(ctx, upstream.ChangesLatest, 0, 0); !errors.Is(err, upstream.ErrNoChangeFeed) {
			t.Errorf("%s: %v, want ErrNoChangeFeed", ver, err)
		}
		if n := old.Stats().Total; n != 0 {
			t.Errorf("%s: %d calls, want none", ver, n)
		}
	}
}

// TestChangesCancelEndsTheWait: cancelling the caller's context ends a waiting long-poll at
// once, as a cancellation (not a server failure).
func TestChangesCancelEndsTheWait(t *testing.T) {
	t.Parallel()
	sent := make(chan struct{}, 1)
	_, c := startFeed(t, vbosim.ChangeFeedOptions{}, upstream.ClientOptions{
		Breaker: &upstream.BreakerSettings{},
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if strings.Contains(r.URL.RawQuery, "timeoutSeconds") {
					sent <- struct{}{}
				}
				return rt.RoundTrip(r)
			})
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Changes(ctx, upstream.ChangesLatest, 0, time.Minute)
		done <- err
	}()
	<-sent
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, upstream.ErrChangeTokenExpired) {
			t.Fatalf("%v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled long-poll kept waiting")
	}
	if _, err := c.Changes(context.Background(), upstream.ChangesLatest, 0, 0); err != nil {
		t.Fatalf("after a cancelled long-poll: %v", err)
	}
}
