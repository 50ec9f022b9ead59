package watch_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

func TestMain(m *testing.M) {
	if os.Getenv("WATCH_TEST_CHILD") != "" {
		childWatcher() // the kill -9 test's child: never returns
	}
	os.Exit(pgtest.Main(m))
}

type simServer struct {
	sim    *vbosim.Server
	client *upstream.Client
	url    string
}

func startSim(t *testing.T, name string, o vbosim.Options) *simServer {
	t.Helper()
	o.Name, o.Username, o.Password = name, "svc", "pw"
	if o.Seed == 0 {
		o.Seed = 7
	}
	sim := vbosim.New(o)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	c, err := upstream.NewClient(ts.URL, upstream.ClientOptions{Name: name, Username: "svc", Password: "pw", APIVersion: sim.APIVersion()})
	if err != nil {
		t.Fatal(err)
	}
	return &simServer{sim: sim, client: c, url: ts.URL}
}

// runWatcher runs a watcher until the returned stop is called (or the test ends).
func runWatcher(t *testing.T, o watch.Options) (w *watch.Watcher, stop func()) {
	t.Helper()
	w, err := watch.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return w, stop
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func backfillDone(s *store.Store, servers ...string) func() bool {
	return func() bool {
		for _, name := range servers {
			st, err := s.State(context.Background(), name)
			if err != nil || !st.BackfillDone {
				return false
			}
		}
		return true
	}
}

// checkArchive compares the archive with the simulator's own data: every session started in
// the window is archived once, with its state and its totals computed from the simulator's
// events.
func checkArchive(t *testing.T, s *store.Store, srv string, sim *vbosim.Server, since time.Time) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	orgs := map[string]string{}
	for _, o := range sim.Organizations() {
		orgs[o.Name] = o.ID
	}
	for _, want := range sim.Sessions() {
		if want.CreationTime.Before(since) {
			continue
		}
		n++
		got, err := s.Session(ctx, srv, want.ID)
		if err != nil {
			t.Fatalf("%s session %s (%v) not archived: %v", srv, want.ID, want.CreationTime, err)
		}
		events := sim.Events(want.ID)
		var totals store.Totals
		totals.Add(events)
		if got.Session.State != want.State || got.Session.Result != want.Result || got.EventsRead != len(events) ||
			got.Totals.Items != totals.Items || got.Totals.Bytes != totals.Bytes ||
			!sameCounts(got.Totals.ByEventType, totals.ByEventType) || !sameCounts(got.Totals.ByItemType, totals.ByItemType) || got.OrgID != orgs[want.Organization] {
			t.Fatalf("%s session %s archived as %+v (state %s, %d events)\nwant state %s, %d events, totals %+v, org %s",
				srv, want.ID, got, got.Session.State, got.EventsRead, want.State, len(events), totals, orgs[want.Organization])
		}
		if want.Finished() != got.Final() {
			t.Fatalf("%s session %s: final=%v, stopped upstream=%v", srv, want.ID, got.Final(), want.Finished())
		}
	}
	st, _ := s.State(ctx, srv)
	if int(st.Archived) != n {
		t.Fatalf("%s: %d sessions archived, %d in the window", srv, st.Archived, n)
	}
	return n
}

func TestBackfillThenFollow(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			srv := startSim(t, "syd1", vbosim.Options{Sessions: 300, Orgs: 5})
			w, _ := runWatcher(t, watch.Options{Store: st, Servers: []watch.Server{{Name: "syd1", Source: srv.client}},
				Interval: 50 * time.Millisecond, Backfill: 91 * 24 * time.Hour})
			waitFor(t, "backfill", 20*time.Second, backfillDone(st, "syd1"))
			n := checkArchive(t, st, "syd1", srv.sim, time.Time{})
			if n != 300 {
				t.Fatalf("window held %d sessions, want all 300", n)
			}
			if w.TakeoverBound() != 250*time.Millisecond { // lease TTL (3 intervals) + 2 intervals
				t.Fatalf("takeover bound %v", w.TakeoverBound())
			}
			if w.LeaseTTL() != 150*time.Millisecond { // 3 intervals: what the restore reaper counts a heartbeat live for
				t.Fatalf("lease TTL %v", w.LeaseTTL())
			}

			// A live session: it starts, items are restored, it stops.
			live := srv.sim.AddSession(upstream.RestoreSession{Organization: srv.sim.Organizations()[1].Name, ClientHost: "LAPTOP7 (via: 198.51.100.4)"})
			waitFor(t, "the new session", 5*time.Second, func() bool {
				_, err := st.Session(context.Background(), "syd1", live.ID)
				return err == nil
			})
			for i := range 3 {
				size := int64(1000 * (i + 1))
				if _, err := srv.sim.AddEvent(live.ID, upstream.RestoreSessionEvent{Type: upstream.EventTypeExport, ItemName: fmt.Sprint("mail ", i), ItemType: "Mail", ItemSizeBytes: &size}); err != nil {
					t.Fatal(err)
				}
			}
			if err := srv.sim.StopSession(live.ID, upstream.SessionResultWarning); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the session to end in the archive", 5*time.Second, func() bool {
				s, err := st.Session(context.Background(), "syd1", live.ID)
				return err == nil && s.Final()
			})
			got, _ := st.Session(context.Background(), "syd1", live.ID)
			if got.Totals.Items != 3 || got.Totals.Bytes != 6000 || got.Totals.ByItemType["Mail"] != 3 || got.EventsRead != 5 ||
				got.Session.Result != upstream.SessionResultWarning || got.ClientMachine != "LAPTOP7" || got.Backfill {
				t.Fatalf("live session archived as %+v", got)
			}
			checkArchive(t, st, "syd1", srv.sim, time.Time{})
		})
	}
}

// TestCheckpointRestart: a new watcher on the same store reads only from the checkpoint
// (minus the overlap), neither losing nor repeating anything.
func TestCheckpointRestart(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite(t))
	srv := startSim(t, "syd1", vbosim.Options{Sessions: 200, Orgs: 4})
	// No sweep: it lists its own window on purpose (sweep_test.go); this pins the poll's.
	opts := watch.Options{Store: st, Servers: []watch.Server{{Name: "syd1", Source: srv.client}}, Interval: 50 * time.Millisecond, Backfill: 91 * 24 * time.Hour,
		Sweep: watch.Sweep{Interval: -1}}
	_, stop := runWatcher(t, opts)
	waitFor(t, "backfill", 20*time.Second, backfillDone(st, "syd1"))
	stop()
	before, _ := st.State(context.Background(), "syd1")
	added := srv.sim.AddSession(upstream.RestoreSession{EndTime: ptr(time.Now().UTC())})
	rec := &listingRecorder{Source: srv.client}
	opts.Servers = []watch.Server{{Name: "syd1", Source: rec}}
	runWatcher(t, opts)
	waitFor(t, "the session added while stopped", 5*time.Second, func() bool {
		_, err := st.Session(context.Background(), "syd1", added.ID)
		return err == nil
	})
	checkArchive(t, st, "syd1", srv.sim, time.Time{})
	after, _ := st.State(context.Background(), "syd1")
	if after.Archived != before.Archived+1 {
		t.Fatalf("archived %d -> %d, want one more", before.Archived, after.Archived)
	}
	// The restart listed from the checkpoint (minus the overlap), not from the backfill start.
	from := before.HighWater.Add(-2 * time.Minute)
	for _, f := range rec.froms() {
		if f.Before(from) {
			t.Fatalf("a listing after the restart started at %v, before the checkpoint %v minus the overlap", f, before.HighWater)
		}
	}
	if len(rec.froms()) == 0 {
		t.Fatal("no listing after the restart")
	}
}

// listingRecorder records the startTimeFrom of every listing.
type listingRecorder struct {
	watch.Source
	mu  sync.Mutex
	fro []time.Time
}

func (l *listingRecorder) RestoreSessions(ctx context.Context, o upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	l.mu.Lock()
	if o.StartTimeFrom != nil {
		l.fro = append(l.fro, *o.StartTimeFrom)
	}
	l.mu.Unlock()
	return l.Source.RestoreSessions(ctx, o)
}

func (l *listingRecorder) froms() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.fro...)
}

func sameCounts(a, b map[string]int64) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func ptr[T any](v T) *T { return &v }
