package watch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

func runFeed(t *testing.T, o watch.FeedOptions) *watch.Feed {
	t.Helper()
	f, err := watch.NewFeed(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// collector drains a stream in the background.
type collector struct {
	mu  sync.Mutex
	ids []string
}

func collect(s *resolvers.Stream[resolvers.FeedSession]) *collector {
	c := &collector{}
	go func() {
		for fs := range s.C {
			c.mu.Lock()
			c.ids = append(c.ids, fs.Server+"/"+fs.Session.ID)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids)
}

func TestFeedSlowSubscriber(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite(t))
	f := runFeed(t, watch.FeedOptions{Store: st, Servers: []string{"syd1"}, Buffer: 2})
	ctx := context.Background()
	stream, err := f.FollowSessions(ctx, resolvers.FeedStarted, resolvers.FeedFrom{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureServer(ctx, "syd1", time.Now()); err != nil {
		t.Fatal(err)
	}
	l, _, _ := st.AcquireLease(ctx, "syd1", "me", time.Minute)
	var changes []store.Change
	for i := range 10 {
		s := upstream.RestoreSession{ID: fmt.Sprint("s", i), CreationTime: time.Now(), State: upstream.SessionStateWorking}
		changes = append(changes, store.Change{Session: store.Session{Server: "syd1", Session: s}})
	}
	// Nobody reads the stream while ten sessions arrive at once.
	if err := st.Archive(ctx, l, changes, store.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow subscriber to be dropped", 5*time.Second, func() bool { return f.Subscribers() == 0 })
	n := 0
	for range stream.C {
		n++
	}
	if n > 3 || !errors.Is(stream.Err(), watch.ErrSlowSubscriber) {
		t.Fatalf("received %d then %v, want at most 3 and ErrSlowSubscriber", n, stream.Err())
	}
}

// TestTwoReplicas: two gateway processes (watchers, feeds, stores) on one PostgreSQL. Each
// server is polled once per interval in all, not once per replica; when the replica polling
// syd1 loses its database (as if it died), the other takes syd1 over, and a subscriber on the
// survivor misses no session and sees none twice. (How fast the takeover is, against
// TakeoverBound, is logged, not asserted: speed belongs in benchmarks.)
func TestTwoReplicas(t *testing.T) {
	dsn := storetest.Postgres(t).DSN
	const interval = 100 * time.Millisecond
	syd := startSim(t, "syd1", vbosim.Options{Sessions: 20, Orgs: 3})
	mel := startSim(t, "mel1", vbosim.Options{Sessions: 20, Orgs: 3})
	servers := []watch.Server{{Name: "syd1", Source: syd.client}, {Name: "mel1", Source: mel.client}}
	type replica struct {
		st   *store.Store
		w    *watch.Watcher
		feed *watch.Feed
		stop func()
	}
	start := func(name string) *replica {
		st, err := store.Open(context.Background(), store.Options{Driver: store.DriverPostgres, DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		r := &replica{st: st}
		r.w, r.stop = runWatcher(t, watch.Options{Store: st, Servers: servers, Interval: interval, Holder: name, Backfill: 91 * 24 * time.Hour})
		r.feed = runFeed(t, watch.FeedOptions{Store: st, Servers: []string{"syd1", "mel1"}})
		return r
	}
	a, b := start("a"), start("b")
	t.Cleanup(func() { _ = a.st.Close(); _ = b.st.Close() })
	waitFor(t, "backfill", 20*time.Second, backfillDone(b.st, "syd1", "mel1"))

	// One listing per interval per server for the whole deployment.
	syd.sim.ResetStats()
	mel.sim.ResetStats()
	const window = 2 * time.Second
	time.Sleep(window)
	polls := float64(window / interval)
	for _, s := range []*simServer{syd, mel} {
		n := float64(s.sim.Calls("GET /v6/RestoreSessions"))
		t.Logf("%d listing calls in %v at a %v interval (two replicas)", int(n), window, interval)
		// At most one per interval (fewer when a poll outlasts it on a busy machine); two
		// pollers would make it up to twice that.
		if n < 1 || n > polls+2 {
			t.Fatalf("%.0f listing calls in %v, want at most %.0f (one poller, not two)", n, window, polls+2)
		}
	}

	// The replica polling syd1 dies (its database connection goes); sessions keep coming.
	dead, survivor := a, b
	if b.w.Leading("syd1") {
		dead, survivor = b, a
	}
	if !dead.w.Leading("syd1") {
		t.Fatal("no replica leads syd1")
	}
	since := time.Now().UTC()
	stream, err := survivor.feed.FollowSessions(context.Background(), resolvers.FeedStarted, resolvers.FeedFrom{Since: &since})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(stream)
	var want []string
	var wmu sync.Mutex
	addDone := make(chan struct{})
	go func() {
		defer close(addDone)
		for range 30 {
			s := syd.sim.AddSession(upstream.RestoreSession{EndTime: ptr(time.Now().UTC())})
			wmu.Lock()
			want = append(want, "syd1/"+s.ID)
			wmu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	died := time.Now()
	_ = dead.st.Close()
	waitFor(t, "takeover", 60*time.Second, func() bool { return survivor.w.Leading("syd1") })
	t.Logf("takeover after %v (documented bound %v)", time.Since(died), survivor.w.TakeoverBound())
	<-addDone
	// A last session after the others: once it arrives, everything before it on syd1 has
	// (the feed is in order per server), so a duplicate or a gap shows now, without a sleep.
	last := syd.sim.AddSession(upstream.RestoreSession{EndTime: ptr(time.Now().UTC())})
	want = append(want, "syd1/"+last.ID)
	waitFor(t, "every session on the survivor's subscriber", 60*time.Second, func() bool { return slices.Contains(got.get(), want[len(want)-1]) })
	if g := got.get(); !slices.Equal(g, want) {
		t.Fatalf("subscriber received %d:\n%v\nwant %d:\n%v", len(g), g, len(want), want)
	}
	dead.stop()
}

// Archived answers whether the archive holds a session; a store that cannot answer is an
// error, not "not archived" (which would send the subscription to VBO instead).
func TestFeedArchived(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite(t))
	f := runFeed(t, watch.FeedOptions{Store: st, Servers: []string{"syd1"}})
	ctx := context.Background()
	if _, err := st.EnsureServer(ctx, "syd1", time.Now()); err != nil {
		t.Fatal(err)
	}
	l, ok, err := st.AcquireLease(ctx, "syd1", "me", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	s := upstream.RestoreSession{ID: "s1", CreationTime: time.Now(), State: upstream.SessionStateWorking}
	if err := st.Archive(ctx, l, []store.Change{{Session: store.Session{Server: "syd1", Session: s}}}, store.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		server, id string
		want       bool
	}{
		{"syd1", "s1", true},
		{"syd1", "s2", false},
		{"mel1", "s1", false},
	}
	for _, tt := range tests {
		if got, err := f.Archived(ctx, tt.server, tt.id); got != tt.want || err != nil {
			t.Errorf("Archived(%s, %s) = %v, %v; want %v", tt.server, tt.id, got, err, tt.want)
		}
	}
	_ = st.Close()
	if got, err := f.Archived(ctx, "syd1", "s1"); got || err == nil {
		t.Errorf("Archived on a closed store = %v, %v; want an error", got, err)
	}
}

// TestFeedLiveStartsAtTheStoresHead: a subscription without since or after is live only, so a
// session another replica archived before it subscribed is history even while this replica's
// feed has not caught up with it yet; the next one is delivered.
func TestFeedLiveStartsAtTheStoresHead(t *testing.T) {
	t.Parallel()
	opts := storetest.SQLite(t)
	mine, theirs := storetest.Open(t, opts), storetest.Open(t, opts)
	ctx := context.Background()
	if _, err := theirs.EnsureServer(ctx, "syd1", time.Now()); err != nil {
		t.Fatal(err)
	}
	f := runFeed(t, watch.FeedOptions{Store: mine, Servers: []string{"syd1"}})
	l, _, err := theirs.AcquireLease(ctx, "syd1", "them", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	archive := func(id string) {
		t.Helper()
		s := upstream.RestoreSession{ID: id, CreationTime: time.Now(), State: upstream.SessionStateWorking}
		if err := theirs.Archive(ctx, l, []store.Change{{Session: store.Session{Server: "syd1", Session: s}}}, store.Checkpoint{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	archive("before")
	stream, err := f.FollowSessions(ctx, resolvers.FeedStarted, resolvers.FeedFrom{})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(stream)
	archive("after")
	waitFor(t, "the session archived after subscribing", 10*time.Second, func() bool { return slices.Contains(got.get(), "syd1/after") })
	if ids := got.get(); !slices.Equal(ids, []string{"syd1/after"}) {
		t.Fatalf("live subscription got %v, want only the session archived after it subscribed", ids)
	}
}
