package watch_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// The poll interval of the change feed tests: far longer than any of them waits, so only the
// change feed can archive what they add after the first poll.
const feedTestInterval = time.Minute

// startV8 starts a v8 simulator and a watcher polling it every minute, and waits until the
// watcher follows the change feed (a token is stored).
func startV8(t *testing.T, st *store.Store, sim vbosim.Options, wrap func(*simServer) watch.Source) *simServer {
	t.Helper()
	sim.APIVersion = "v8"
	if sim.Sessions == 0 {
		sim.Sessions = 30
	}
	srv := startSim(t, "syd1", sim)
	var src watch.Source = srv.client
	if wrap != nil {
		src = wrap(srv)
	}
	runWatcher(t, watch.Options{Store: st, Servers: []watch.Server{{Name: "syd1", Source: src}}, Interval: feedTestInterval})
	waitFor(t, "the change feed to be followed", 10*time.Second, func() bool {
		tok, err := st.ChangeToken(context.Background(), "syd1")
		return err == nil && tok != ""
	})
	return srv
}

func archived(st *store.Store, id string) func() bool {
	return func() bool {
		_, err := st.Session(context.Background(), "syd1", id)
		return err == nil
	}
}

// TestChangeFeedLatency: with a one-minute poll interval, each new session on a v8 server
// reaches a live follower of the archive's feed (store.OnChange then FeedAfter: what
// watch.Feed's subscribers are served from) in well under two seconds: the change feed, not
// the interval, bounds the latency. p50 and p99 are logged.
func TestChangeFeedLatency(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			srv := startV8(t, st, vbosim.Options{}, nil)
			ctx := context.Background()
			moved := make(chan struct{}, 1)
			defer st.OnChange(func(string) {
				select {
				case moved <- struct{}{}:
				default:
				}
			})()
			seqs, err := st.FeedSeqs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pos := seqs["syd1"]
			const n = 20
			lat := make([]time.Duration, 0, n)
			for range n {
				start := time.Now()
				added := srv.sim.AddSession(upstream.RestoreSession{})
				timeout := time.After(3 * time.Second)
			recv:
				for {
					entries, err := st.FeedAfter(ctx, "syd1", pos, 100)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range entries {
						pos = e.Seq
						if e.Kind == store.KindStarted && e.SessionID == added.ID {
							break recv
						}
					}
					select {
					case <-moved:
					case <-timeout:
						t.Fatalf("session %s not in the feed within 3 s (poll interval %v)", added.ID, feedTestInterval)
					}
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			p50, p99 := lat[n/2], lat[n*99/100]
			t.Logf("%s: new session -> archive feed over the v8 change feed, %d sessions: p50 %v, p99 %v, max %v (poll interval %v)",
				eng.Name, n, p50, p99, lat[n-1], feedTestInterval)
			// The feed, not the poll, bounds the latency: every session arrives in a fraction of
			// the interval (typically ms). The bound leaves room for a loaded CI machine; the
			// 2 s target end to end is TestV8LatencyEndToEnd's.
			if lat[n-1] >= feedTestInterval/6 {
				t.Fatalf("slowest delivery %v, want < %v (a sixth of the poll interval)", lat[n-1], feedTestInterval/6)
			}
		})
	}
}

// TestChangeFeedDeletedInVbo: a session VBO deletes is kept in the archive, marked with when
// the watcher learnt it, and no longer followed.
func TestChangeFeedDeletedInVbo(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			srv := startV8(t, st, vbosim.Options{}, nil)
			ctx := context.Background()
			open := srv.sim.AddSession(upstream.RestoreSession{})
			waitFor(t, "the new session", 3*time.Second, archived(st, open.ID))
			before := time.Now()
			if err := srv.sim.DeleteSession(open.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the deletion to be archived", 3*time.Second, func() bool {
				s, err := st.Session(ctx, "syd1", open.ID)
				return err == nil && s.DeletedInVboAt != nil
			})
			got, _ := st.Session(ctx, "syd1", open.ID)
			if got.DeletedInVboAt.Before(before.Add(-time.Second)) || got.Session.ID != open.ID {
				t.Fatalf("deleted session archived as %+v (deleted at %v)", got, got.DeletedInVboAt)
			}
			list, err := st.OpenSessions(ctx, "syd1")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				if s.Session.ID == open.ID {
					t.Fatal("a session deleted in VBO is still followed as open")
				}
			}
		})
	}
}

// gatedSource holds the change feed reads while closed, and runs afterList once after the
// first listing that follows an expired token (the catch-up listing).
type gatedSource struct {
	*upstream.Client
	mu        sync.Mutex
	gate      chan struct{} // nil: open
	atGate    chan struct{} // told when a read waits at the closed gate
	afterList func()
	expired   int // ErrChangeTokenExpired answers seen
}

func (g *gatedSource) Changes(ctx context.Context, from string, limit int, timeout time.Duration) (upstream.ChangePage, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case g.atGate <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return upstream.ChangePage{}, ctx.Err()
		}
	}
	page, err := g.Client.Changes(ctx, from, limit, timeout)
	g.mu.Lock()
	if errors.Is(err, upstream.ErrChangeTokenExpired) {
		g.expired++
	}
	g.mu.Unlock()
	return page, err
}

func (g *gatedSource) RestoreSessions(ctx context.Context, o upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	page, resp, err := g.Client.RestoreSessions(ctx, o)
	g.mu.Lock()
	var fn func()
	if g.expired > 0 && g.afterList != nil {
		fn, g.afterList = g.afterList, nil
	}
	g.mu.Unlock()
	if fn != nil {
		fn()
	}
	return page, resp, err
}

// TestChangeFeedTokenExpired: the watcher's token falls out of the server's history while it
// is not reading; it catches up from a listing and a fresh token, losing nothing: not the
// sessions added while it was behind, nor one added between the fresh token and the listing.
func TestChangeFeedTokenExpired(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			var g *gatedSource
			srv := startV8(t, st, vbosim.Options{ChangeFeed: vbosim.ChangeFeedOptions{History: 4}}, func(s *simServer) watch.Source {
				g = &gatedSource{Client: s.client}
				return g
			})
			ctx := context.Background()
			old, _ := st.ChangeToken(ctx, "syd1")
			g.mu.Lock()
			g.gate, g.atGate = make(chan struct{}), make(chan struct{}, 1)
			var between upstream.RestoreSession
			betweenAdded := make(chan struct{})
			g.afterList = func() {
				between = srv.sim.AddSession(upstream.RestoreSession{})
				close(betweenAdded)
			}
			g.mu.Unlock()
			// The read in flight returns this one; the next waits at the gate.
			first := srv.sim.AddSession(upstream.RestoreSession{})
			waitFor(t, "the first session", 3*time.Second, archived(st, first.ID))
			select {
			case <-g.atGate:
			case <-time.After(3 * time.Second):
				t.Fatal("the change feed is not read again")
			}
			var behind []string
			for range 10 { // more than the history of 4
				behind = append(behind, srv.sim.AddSession(upstream.RestoreSession{}).ID)
			}
			g.mu.Lock()
			close(g.gate)
			g.gate = nil
			g.mu.Unlock()
			for _, id := range behind {
				waitFor(t, "a session added while the feed was behind", 3*time.Second, archived(st, id))
			}
			select {
			case <-betweenAdded:
			case <-time.After(3 * time.Second):
				t.Fatal("no catch-up listing after the token expired")
			}
			waitFor(t, "the session added between the fresh token and the listing", 3*time.Second, archived(st, between.ID))
			g.mu.Lock()
			expired := g.expired
			g.mu.Unlock()
			if expired == 0 {
				t.Fatal("the token never expired: the test did not test the fallback")
			}
			if tok, _ := st.ChangeToken(ctx, "syd1"); tok == old || tok == "" {
				t.Fatalf("change token %q after the fallback, was %q", tok, old)
			}
		})
	}
}

// TestChangeFeedOrganizationID: the event's organizationId joins the session to its
// organisation exactly, even when another organisation's name is a case variant of its own
// (the name join cannot tell them apart and leaves the session unjoined). A server that
// omits organizationId still works, with the name join.
func TestChangeFeedOrganizationID(t *testing.T) {
	for _, eng := range storetest.Engines() {
		for _, omit := range []bool{false, true} {
			name := eng.Name + "/with-organizationId"
			if omit {
				name = eng.Name + "/without-organizationId"
			}
			t.Run(name, func(t *testing.T) {
				st := storetest.Open(t, eng.Options(t))
				var orgs []upstream.Organization
				srv := startV8(t, st, vbosim.Options{Orgs: 3, ChangeFeed: vbosim.ChangeFeedOptions{OmitOrganizationID: omit}},
					func(s *simServer) watch.Source {
						orgs = s.sim.Organizations()
						if err := s.sim.RenameOrganization(orgs[1].ID, "ACME Ltd"); err != nil {
							t.Fatal(err)
						}
						if err := s.sim.RenameOrganization(orgs[2].ID, "acme ltd"); err != nil {
							t.Fatal(err)
						}
						return s.client
					})
				ctx := context.Background()
				variant := srv.sim.AddSession(upstream.RestoreSession{Organization: "acme ltd"})
				plain := srv.sim.AddSession(upstream.RestoreSession{Organization: orgs[0].Name})
				waitFor(t, "the new sessions", 3*time.Second, func() bool { return archived(st, variant.ID)() && archived(st, plain.ID)() })
				got, _ := st.Session(ctx, "syd1", variant.ID)
				want := orgs[2].ID
				if omit {
					want = "" // ambiguous by name: joined to no organisation rather than the wrong one
				}
				if got.OrgID != want {
					t.Fatalf("session of %q joined to %q, want %q", "acme ltd", got.OrgID, want)
				}
				if p, _ := st.Session(ctx, "syd1", plain.ID); p.OrgID != orgs[0].ID {
					t.Fatalf("session of %q joined to %q, want %q", orgs[0].Name, p.OrgID, orgs[0].ID)
				}
			})
		}
	}
}
