package watch_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Issue 22 item 1: resuming by feed position, not by time. The old recipe (resubscribe with
// since = the last startTime seen + 1 ns) loses a session the archive records after the
// client's last event but that started before it; a position does not.

// archiver writes sessions into the store as a server's poller would.
type archiver struct {
	t  *testing.T
	st *store.Store
	l  store.Lease
}

func newArchiver(t *testing.T, st *store.Store, server, holder string) *archiver {
	t.Helper()
	ctx := context.Background()
	if _, err := st.EnsureServer(ctx, server, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, ok, err := st.AcquireLease(ctx, server, holder, time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease %s for %s: %v %v", server, holder, ok, err)
	}
	return &archiver{t: t, st: st, l: l}
}

// add archives one new running session of the server, started at start.
func (a *archiver) add(id string, start time.Time) {
	a.t.Helper()
	s := upstream.RestoreSession{ID: id, CreationTime: start.UTC(), State: upstream.SessionStateWorking, Organization: "Org"}
	if err := a.st.Archive(context.Background(), a.l, []store.Change{{Session: store.Session{Server: a.l.Server, Session: s}}}, store.Checkpoint{}, nil); err != nil {
		a.t.Fatal(err)
	}
}

func (a *archiver) release() {
	a.t.Helper()
	if err := a.st.ReleaseLease(context.Background(), a.l); err != nil {
		a.t.Fatal(err)
	}
}

// take reads n sessions from s (failing after a bound), then checks nothing more comes soon.
func take(t *testing.T, s *resolvers.Stream[resolvers.FeedSession], n int) []resolvers.FeedSession {
	t.Helper()
	var out []resolvers.FeedSession
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case fs, ok := <-s.C:
			if !ok {
				t.Fatalf("stream ended after %d of %d: %v", len(out), n, s.Err())
			}
			out = append(out, fs)
		case <-deadline:
			t.Fatalf("received %d of %d: %v", len(out), n, ids(out))
		}
	}
	select {
	case fs := <-s.C:
		t.Fatalf("after %v, one more: %s/%s", ids(out), fs.Server, fs.Session.ID)
	case <-time.After(150 * time.Millisecond):
	}
	return out
}

func ids(fs []resolvers.FeedSession) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Server+"/"+f.Session.ID)
	}
	return out
}

// follow starts a stream under a context that ends with the test (or with stop).
func follow(t *testing.T, f *watch.Feed, from resolvers.FeedFrom) (*resolvers.Stream[resolvers.FeedSession], context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := f.FollowSessions(ctx, resolvers.FeedStarted, from)
	if err != nil {
		t.Fatal(err)
	}
	return s, cancel
}

// resumeCase is one of the two reproductions: before runs while the client is
// subscribed (it receives want0), during while it is away; after resuming it must receive
// want1 exactly (in this order), which the since recipe does not.
type resumeCase struct {
	name         string
	live         bool // the first subscription has no since
	before       func(t0 time.Time, a map[string]*archiver)
	during       func(t0 time.Time, a map[string]*archiver)
	want0, want1 []string
	sinceLoses   []string // what the old recipe misses
}

var resumeCases = []resumeCase{{
	// A lagging server: syd1 was down while mel1 kept producing; its session arrives after
	// the client's last event, with an earlier start time.
	name: "lagging server",
	before: func(t0 time.Time, a map[string]*archiver) {
		a["mel1"].add("m1", t0.Add(10*time.Second))
		a["mel1"].add("m2", t0.Add(20*time.Second))
	},
	during: func(t0 time.Time, a map[string]*archiver) {
		a["syd1"].add("s1", t0.Add(5*time.Second)) // started before m2, archived after it
		a["mel1"].add("m3", t0.Add(30*time.Second))
	},
	want0:      []string{"mel1/m1", "mel1/m2"},
	want1:      []string{"syd1/s1", "mel1/m3"},
	sinceLoses: []string{"syd1/s1"},
}, {
	// A late commit inside the overlap: VBO commits x0 after x1 though x0 started first.
	name: "late commit",
	live: true,
	before: func(t0 time.Time, a map[string]*archiver) {
		a["syd1"].add("x1", t0.Add(20*time.Second))
	},
	during: func(t0 time.Time, a map[string]*archiver) {
		a["syd1"].add("x0", t0.Add(10*time.Second))
		a["syd1"].add("x2", t0.Add(30*time.Second))
	},
	want0:      []string{"syd1/x1"},
	want1:      []string{"syd1/x0", "syd1/x2"},
	sinceLoses: []string{"syd1/x0"},
}}

// runResume plays c: the client subscribes on feed first, receives want0 and leaves; the
// sessions of during are archived (by writer); the client resumes on feed second, by position
// and by the old since recipe.
func runResume(t *testing.T, c resumeCase, first, second *watch.Feed, before, during map[string]*archiver) {
	t0 := time.Now().UTC().Truncate(time.Second)
	from := resolvers.FeedFrom{}
	if !c.live {
		from.Since = &t0
	}
	s, stop := follow(t, first, from)
	c.before(t0, before)
	got := take(t, s, len(c.want0))
	stop()
	if g := ids(got); !slices.Equal(g, c.want0) {
		t.Fatalf("first subscription: %v, want %v", g, c.want0)
	}
	c.during(t0, during)
	last := got[len(got)-1]

	pos := last.Position
	pos.Minted = time.Now()
	byPos, _ := follow(t, second, resolvers.FeedFrom{After: &pos})
	if g := ids(take(t, byPos, len(c.want1))); !slices.Equal(g, c.want1) {
		t.Fatalf("resumed by position: %v, want %v", g, c.want1)
	}

	// The old recipe, for the record: it misses what the position delivers.
	since := last.Session.CreationTime.Add(time.Nanosecond)
	bySince, _ := follow(t, second, resolvers.FeedFrom{Since: &since})
	want := slices.DeleteFunc(slices.Clone(c.want1), func(id string) bool { return slices.Contains(c.sinceLoses, id) })
	if g := ids(take(t, bySince, len(want))); !slices.Equal(g, want) {
		t.Fatalf("resumed by since: %v, want %v (the reproduction no longer reproduces)", g, want)
	}
}

// TestResumeByPosition: both reproductions of issue 22 on each engine, on one replica.
func TestResumeByPosition(t *testing.T) {
	for _, eng := range storetest.Engines() {
		for _, c := range resumeCases {
			t.Run(eng.Name+"/"+c.name, func(t *testing.T) {
				st := storetest.Open(t, eng.Options(t))
				a := map[string]*archiver{"syd1": newArchiver(t, st, "syd1", "a"), "mel1": newArchiver(t, st, "mel1", "a")}
				f := runFeed(t, watch.FeedOptions{Store: st, Servers: []string{"syd1", "mel1"}})
				runResume(t, c, f, f, a, a)
			})
		}
	}
}

// TestResumeByPositionAcrossReplicas: two gateways on one PostgreSQL store. The client
// subscribes on replica a, whose poller archives; a dies (its leases go), replica b takes the
// servers over and archives the rest; the client resumes on b with a's position.
func TestResumeByPositionAcrossReplicas(t *testing.T) {
	open := func(t *testing.T, dsn string) *store.Store {
		st, err := store.Open(context.Background(), store.Options{Driver: store.DriverPostgres, DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	for _, c := range resumeCases {
		t.Run(c.name, func(t *testing.T) {
			dsn := storetest.Postgres(t).DSN // a fresh database per case
			stA, stB := open(t, dsn), open(t, dsn)
			fa := runFeed(t, watch.FeedOptions{Store: stA, Servers: []string{"syd1", "mel1"}})
			fb := runFeed(t, watch.FeedOptions{Store: stB, Servers: []string{"syd1", "mel1"}})
			a := map[string]*archiver{"syd1": newArchiver(t, stA, "syd1", "a"), "mel1": newArchiver(t, stA, "mel1", "a")}
			takeover := func(t0 time.Time, _ map[string]*archiver) {
				for _, x := range a {
					x.release()
				}
				b := map[string]*archiver{"syd1": newArchiver(t, stB, "syd1", "b"), "mel1": newArchiver(t, stB, "mel1", "b")}
				c.during(t0, b)
			}
			cc := c
			cc.during = takeover
			runResume(t, cc, fa, fb, a, nil)
		})
	}
}

// TestResumePositionRefused: a position from beyond the archive (another deployment's, or
// before the archive was recreated) and one older than the retention are refused, typed.
func TestResumePositionRefused(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite(t))
	newArchiver(t, st, "syd1", "a").add("x", time.Now())
	f := runFeed(t, watch.FeedOptions{Store: st, Servers: []string{"syd1"}, Retention: time.Hour})
	for _, tc := range []struct {
		name string
		pos  resolvers.FeedPosition
		want error
	}{
		{"ahead", resolvers.FeedPosition{Seqs: map[string]int64{"syd1": 99}, Minted: time.Now()}, resolvers.ErrPositionAhead},
		{"older than retention", resolvers.FeedPosition{Seqs: map[string]int64{"syd1": 1}, Minted: time.Now().Add(-2 * time.Hour)}, resolvers.ErrPositionExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.FollowSessions(context.Background(), resolvers.FeedStarted, resolvers.FeedFrom{After: &tc.pos})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
