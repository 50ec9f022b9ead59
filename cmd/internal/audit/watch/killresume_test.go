package watch_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// The kill -9 test of issue 22 ("How it is verified"): three watcher replicas, each a child
// process (this test binary re-executed, TestMain -> childWatcher), share one PostgreSQL
// store and watch six simulated VBO servers. One server lags (it is down for a while, then its
// sessions arrive after later-started ones of the others), one surfaces sessions late
// (creationTime five minutes back: the sweep finds them). Sessions are added throughout; random
// replicas are killed with SIGKILL and restarted; a consumer follows the feed on two gateways'
// Feeds and, after every kill and at random times, resumes by position on the other one. Every
// session must be archived exactly once and reach the consumer exactly once.
//
// SQLite is not run: its file cannot be shared by processes on different hosts, which is what
// replicas are, and the watcher's lease spreading is pinned on SQLite in TestLeasesSpread.

const (
	killInterval = 200 * time.Millisecond // the replicas' poll interval (lease TTL 600 ms)
	killServers  = 6
	killSessions = 100
	killKills    = 5
	killTick     = 70 * time.Millisecond // one session added per tick
)

// Child process environment.
const (
	envChild    = "WATCH_TEST_CHILD"
	envDSN      = "WATCH_TEST_DSN"
	envServers  = "WATCH_TEST_SERVERS" // name=url,name=url
	envHolder   = "WATCH_TEST_HOLDER"
	envInterval = "WATCH_TEST_INTERVAL"
)

// childWatcher runs one watcher replica until it is killed (TestMain calls it in the child).
func childWatcher() {
	interval, err := time.ParseDuration(os.Getenv(envInterval))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: store.DriverPostgres, DSN: os.Getenv(envDSN)})
	if err != nil {
		panic(err)
	}
	var servers []watch.Server
	for _, kv := range strings.Split(os.Getenv(envServers), ",") {
		name, url, _ := strings.Cut(kv, "=")
		c, err := upstream.NewClient(url, upstream.ClientOptions{Name: name, Username: "svc", Password: "pw"})
		if err != nil {
			panic(err)
		}
		servers = append(servers, watch.Server{Name: name, Source: c})
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := watch.New(watch.Options{Store: st, Servers: servers, Interval: interval, Backfill: time.Hour,
		Sweep: watch.Sweep{Interval: 5 * interval, Window: time.Hour}, Holder: os.Getenv(envHolder), Logger: log})
	if err != nil {
		panic(err)
	}
	w.Run(ctx)
	select {} // never returns: the test kills it
}

// replica is one child watcher process.
type replica struct {
	slot, gen int
	holder    string
	cmd       *exec.Cmd
	logPath   string
}

type replicaSet struct {
	t       *testing.T
	env     []string
	dir     string
	mu      sync.Mutex
	live    []*replica // by slot
	dead    map[string]bool
	started int
}

func (rs *replicaSet) start(slot int) {
	rs.t.Helper()
	gen := rs.started
	rs.started++
	r := &replica{slot: slot, gen: gen, holder: fmt.Sprintf("r%d-g%d", slot, gen), logPath: filepath.Join(rs.dir, fmt.Sprintf("r%d-g%d.log", slot, gen))}
	f, err := os.Create(r.logPath)
	if err != nil {
		rs.t.Fatal(err)
	}
	defer f.Close()
	r.cmd = exec.Command(os.Args[0], "-test.run=^$")
	r.cmd.Env = append(os.Environ(), append(rs.env, envHolder+"="+r.holder)...)
	r.cmd.Stdout, r.cmd.Stderr = f, f
	if err := r.cmd.Start(); err != nil {
		rs.t.Fatal(err)
	}
	rs.mu.Lock()
	rs.live[slot] = r
	rs.mu.Unlock()
}

// kill sends SIGKILL to the replica in slot and reaps it.
func (rs *replicaSet) kill(slot int) string {
	rs.t.Helper()
	rs.mu.Lock()
	r := rs.live[slot]
	rs.live[slot] = nil
	rs.dead[r.holder] = true
	rs.mu.Unlock()
	if err := r.cmd.Process.Kill(); err != nil { // SIGKILL: no lease released, no heartbeat left
		rs.t.Fatal(err)
	}
	_ = r.cmd.Wait()
	return r.holder
}

func (rs *replicaSet) isDead(holder string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.dead[holder]
}

func (rs *replicaSet) holders() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []string
	for _, r := range rs.live {
		if r != nil {
			out = append(out, r.holder)
		}
	}
	return out
}

func (rs *replicaSet) stopAll() {
	for slot, r := range rs.live {
		if r != nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
			rs.live[slot] = nil
		}
	}
}

// logs returns the tail of every replica's log (for a failure).
func (rs *replicaSet) logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(rs.dir, "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		if len(bytes.TrimSpace(data)) > 0 {
			fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), data)
		}
	}
	return b.String()
}

// leaseMoves counts the servers' lease moves seen by polling the store: a takeover when the
// previous holder had been killed, a hand-over otherwise (a rebalance).
type leaseMoves struct {
	mu                  sync.Mutex
	holder              map[string]string
	takeovers, handover int
}

func (m *leaseMoves) watch(ctx context.Context, st *store.Store, rs *replicaSet) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
		states, err := st.States(ctx)
		if err != nil {
			continue
		}
		m.mu.Lock()
		for _, s := range states {
			prev := m.holder[s.Server]
			if s.LeaseHolder == "" || s.LeaseHolder == prev {
				continue
			}
			if prev != "" {
				if rs.isDead(prev) {
					m.takeovers++
				} else {
					m.handover++
				}
			}
			m.holder[s.Server] = s.LeaseHolder
		}
		m.mu.Unlock()
	}
}

func (m *leaseMoves) counts() (takeovers, handovers int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.takeovers, m.handover
}

// consumer follows the started feed, resuming by position on the other gateway's Feed when
// told to (or when its stream ends).
type consumer struct {
	feeds  [2]*watch.Feed
	resume chan struct{}

	mu       sync.Mutex
	got      map[string]int // server/id -> deliveries
	last     *resolvers.FeedPosition
	resumes  int
	streamEr []error
	err      error
}

func (c *consumer) run(ctx context.Context, since time.Time) {
	from := resolvers.FeedFrom{Since: &since}
	for k := 0; ; k++ {
		sctx, cancel := context.WithCancel(ctx)
		s, err := c.feeds[k%2].FollowSessions(sctx, resolvers.FeedStarted, from)
		if err != nil {
			cancel()
			c.mu.Lock()
			c.err = fmt.Errorf("resume %d: %w", k, err)
			c.mu.Unlock()
			return
		}
	stream:
		for {
			select {
			case fs, ok := <-s.C:
				if !ok {
					if ctx.Err() != nil {
						cancel()
						return
					}
					c.mu.Lock()
					c.streamEr = append(c.streamEr, s.Err())
					c.mu.Unlock()
					break stream
				}
				c.mu.Lock()
				c.got[fs.Server+"/"+fs.Session.ID]++
				pos := fs.Position
				c.last = &pos
				c.mu.Unlock()
			case <-c.resume:
				break stream
			case <-ctx.Done():
				cancel()
				return
			}
		}
		cancel() // the old stream is not read again: its position is where the new one starts
		c.mu.Lock()
		if c.last != nil {
			pos := *c.last
			pos.Minted = time.Now()
			from = resolvers.FeedFrom{After: &pos}
		}
		c.resumes++
		c.mu.Unlock()
	}
}

func (c *consumer) delivered(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[key]
}

// killRun is one run of TestKillResume.
type killRun struct {
	t     *testing.T
	st    *store.Store
	rng   *rand.Rand
	sims  []*simServer
	names []string
	rs    *replicaSet
	c     *consumer
	moves *leaseMoves
	// resume tells the consumer to resume by position (a no-op once it stopped).
	resume func()

	added                        map[string][]string // server -> session ids
	kills, randomResumes         int
	nLagged, nLate               int
	lagging, late                int // srv0 goes down for a while; srv1 surfaces sessions late
	perReplica                   map[string]int
	rowsBy, startedBy, delivered map[string]int
	foundLate                    int
}

// TestKillResume: see the top of this file. Bounded: about 8 s of sessions, kills and
// resumes, then at most 20 s for the archive and the consumer to catch up.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("short: spawns three watcher processes")
	}
	opts := storetest.Postgres(t) // skips, saying so, without PostgreSQL
	st := storetest.Open(t, opts) // migrates before the replicas start
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WATCH_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (WATCH_TEST_SEED to replay)", seed)
	r := &killRun{t: t, st: st, rng: rand.New(rand.NewPCG(seed, seed)), added: map[string][]string{}, lagging: 0, late: 1}

	t0 := time.Now().UTC()
	var pairs []string
	for i := range killServers {
		name := fmt.Sprintf("srv%d", i)
		// No history in the backfill window: the sessions counted are the ones added below.
		r.sims = append(r.sims, startSim(t, name, vbosim.Options{Sessions: -1, Orgs: 2, Now: t0.Add(-48 * time.Hour)}))
		r.names, pairs = append(r.names, name), append(pairs, name+"="+r.sims[i].url)
	}
	r.rs = &replicaSet{t: t, dir: t.TempDir(), live: make([]*replica, 3), dead: map[string]bool{},
		env: []string{envChild + "=1", envDSN + "=" + opts.DSN, envServers + "=" + strings.Join(pairs, ","), envInterval + "=" + killInterval.String()}}
	t.Cleanup(r.rs.stopAll)
	for slot := range 3 {
		r.rs.start(slot)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.moves = &leaseMoves{holder: map[string]string{}}
	go r.moves.watch(ctx, st, r.rs)

	// Two gateways' feeds, each on its own connection pool (and NOTIFY listener).
	r.c = &consumer{resume: make(chan struct{}), got: map[string]int{}}
	for i := range r.c.feeds {
		r.c.feeds[i] = runFeed(t, watch.FeedOptions{Store: storetest.Open(t, opts), Servers: r.names})
	}
	cdone := make(chan struct{})
	go func() { defer close(cdone); r.c.run(ctx, t0.Add(-30*time.Minute)) }()
	defer func() { cancel(); <-cdone }()
	r.resume = func() {
		select {
		case r.c.resume <- struct{}{}:
		case <-cdone:
		}
	}

	waitFor(t, "the replicas to take every server", 20*time.Second, func() bool {
		states, err := st.States(ctx)
		return err == nil && len(states) == killServers && !slices.ContainsFunc(states, func(s store.ServerState) bool { return !s.BackfillDone })
	})
	r.play()
	caughtUp := r.catchUp(ctx, 20*time.Second)
	r.tally(ctx)
	r.report(caughtUp)
}

// play adds the sessions, one per tick, while killing and restarting replicas and making the
// consumer resume. The schedule: kills at random ticks (never two within 12), each replica
// restarted 1-10 ticks later (a takeover, or the restarted one back first); the lagging server
// down for ticks 20-50; random resumes besides those after each kill.
func (r *killRun) play() {
	killAt := map[int]bool{}
	for len(killAt) < killKills {
		k := 5 + r.rng.IntN(killSessions-15)
		near := false
		for x := range killAt {
			near = near || (x > k-12 && x < k+12)
		}
		if !near {
			killAt[k] = true
		}
	}
	restartAt := map[int][]int{} // tick -> slots
	for i := 0; i < killSessions || len(restartAt) > 0; i++ {
		if i < killSessions {
			r.add(i)
		}
		switch i {
		case 20:
			r.sims[r.lagging].sim.SetFaults(vbosim.Faults{Down: true})
		case 50:
			r.sims[r.lagging].sim.SetFaults(vbosim.Faults{})
		}
		for _, slot := range restartAt[i] {
			r.rs.start(slot)
		}
		delete(restartAt, i)
		if killAt[i] {
			slot := r.rng.IntN(3)
			for r.rs.live[slot] == nil { // one already down waits for its restart
				slot = (slot + 1) % 3
			}
			r.rs.kill(slot)
			r.kills++
			at := i + 1 + r.rng.IntN(10)
			restartAt[at] = append(restartAt[at], slot)
			r.resume()
		} else if r.rng.IntN(15) == 0 {
			r.randomResumes++
			r.resume()
		}
		time.Sleep(killTick)
	}
	r.sims[r.lagging].sim.SetFaults(vbosim.Faults{})
}

// add adds the i-th session, to the servers in turn.
func (r *killRun) add(i int) {
	srv := i % killServers
	s := upstream.RestoreSession{Organization: r.sims[srv].sim.Organizations()[r.rng.IntN(2)].Name}
	if srv == r.late && i > 2*killServers && r.rng.IntN(2) == 0 { // once its high-water mark is recent
		s.CreationTime = time.Now().Add(-5 * time.Minute) // behind the overlap: only the sweep finds it
		r.nLate++
	}
	if r.rng.IntN(2) == 0 {
		s.EndTime = ptr(time.Now().UTC())
	}
	if srv == r.lagging && i >= 20 && i < 50 {
		r.nLagged++
	}
	got := r.sims[srv].sim.AddSession(s)
	r.added[r.names[srv]] = append(r.added[r.names[srv]], got.ID)
}

// catchUp waits (at most bound) until every session added is archived and delivered, and
// then a little longer for a duplicate to show.
func (r *killRun) catchUp(ctx context.Context, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		archived, delivered, total := 0, 0, 0
		for srv, ids := range r.added {
			total += len(ids)
			if got, err := r.st.Sessions(ctx, srv, ids); err == nil {
				archived += len(got)
			}
			for _, id := range ids {
				if r.c.delivered(srv+"/"+id) > 0 {
					delivered++
				}
			}
		}
		r.c.mu.Lock()
		cerr := r.c.err
		r.c.mu.Unlock()
		switch {
		case cerr != nil:
			r.failed("consumer: %v", cerr)
		case archived == total && delivered == total:
			time.Sleep(3 * killInterval) // room for a duplicate to show
			return true
		case time.Now().After(deadline):
			r.t.Logf("after %v: %d of %d archived, %d delivered to the consumer", bound, archived, total, delivered)
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tally counts, from the store, the archive rows and "started" feed entries per session and
// the sessions found late; from the consumer, the deliveries; and the leases per live replica
// once every server is held by one.
func (r *killRun) tally(ctx context.Context) {
	count := func(q string, args ...any) map[string]int {
		rows, err := r.st.Query(ctx, q, args...)
		if err != nil {
			r.t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var srv, id string
			var n int
			if err := rows.Scan(&srv, &id, &n); err != nil {
				r.t.Fatal(err)
			}
			out[srv+"/"+id] = n
		}
		if err := rows.Err(); err != nil {
			r.t.Fatal(err)
		}
		return out
	}
	r.rowsBy = count(`SELECT server, id, count(*) FROM archive_session GROUP BY server, id`)
	r.startedBy = count(`SELECT server, session_id, count(*) FROM watch_feed WHERE kind = ? GROUP BY server, session_id`, store.KindStarted)
	if err := r.st.QueryRow(ctx, `SELECT count(*) FROM archive_session WHERE found_late`).Scan(&r.foundLate); err != nil {
		r.t.Fatal(err)
	}
	r.c.mu.Lock()
	r.delivered = maps.Clone(r.c.got)
	r.c.mu.Unlock()

	waitFor(r.t, "every lease held by a live replica", 10*time.Second, func() bool {
		states, err := r.st.States(ctx)
		now, err2 := r.st.Now(ctx)
		if err != nil || err2 != nil {
			return false
		}
		r.perReplica = map[string]int{}
		for _, h := range r.rs.holders() {
			r.perReplica[h] = 0
		}
		held := 0
		for _, s := range states {
			if _, ok := r.perReplica[s.LeaseHolder]; ok && s.LeaseUntil.After(now) {
				r.perReplica[s.LeaseHolder]++
				held++
			}
		}
		return held == killServers
	})
}

// report logs the figures (quoted in issue 22's closing note) and fails on any session lost
// or duplicated, in the archive or at the consumer.
func (r *killRun) report(caughtUp bool) {
	var lost, dupRows, dupStarted, lostDelivered, dupDelivered, extra []string
	want := map[string]bool{}
	total := 0
	for srv, ids := range r.added {
		for _, id := range ids {
			key := srv + "/" + id
			want[key] = true
			total++
			switch n := r.rowsBy[key]; {
			case n == 0:
				lost = append(lost, key)
			case n > 1:
				dupRows = append(dupRows, key)
			}
			if r.startedBy[key] > 1 {
				dupStarted = append(dupStarted, key)
			}
			switch n := r.delivered[key]; {
			case n == 0:
				lostDelivered = append(lostDelivered, key)
			case n > 1:
				dupDelivered = append(dupDelivered, key)
			}
		}
	}
	rows, deliveries := 0, 0
	for key, n := range r.rowsBy {
		rows += n
		if !want[key] {
			extra = append(extra, "archived "+key)
		}
	}
	for key, n := range r.delivered {
		deliveries += n
		if !want[key] {
			extra = append(extra, "delivered "+key)
		}
	}
	r.c.mu.Lock()
	resumes, ended := r.c.resumes, len(r.c.streamEr)
	r.c.mu.Unlock()
	takeovers, handovers := r.moves.counts()
	r.t.Logf("sessions added %d (lagging server %s: %d added while it was down; %s: %d surfaced 5 min late, %d archived found_late)",
		total, r.names[r.lagging], r.nLagged, r.names[r.late], r.nLate, r.foundLate)
	r.t.Logf("archived %d rows, delivered to the consumer %d; archive lost %d, duplicated %d rows, %d started feed entries; consumer lost %d, duplicated %d",
		rows, deliveries, len(lost), len(dupRows), len(dupStarted), len(lostDelivered), len(dupDelivered))
	r.t.Logf("kills %d (SIGKILL, each replica restarted), takeovers %d, hand-overs %d, consumer resumes by position %d (%d after a kill, %d random, %d ended streams), leases per replica at the end %v",
		r.kills, takeovers, handovers, resumes, r.kills, r.randomResumes, ended, r.perReplica)
	if !caughtUp || len(lost)+len(dupRows)+len(dupStarted)+len(lostDelivered)+len(dupDelivered)+len(extra) > 0 {
		r.failed("archive lost %v, duplicated rows %v, duplicated started entries %v; consumer lost %v, duplicated %v; unexpected %v",
			lost, dupRows, dupStarted, lostDelivered, dupDelivered, extra)
	}
	if r.kills != killKills || takeovers == 0 {
		r.failed("kills %d (want %d), takeovers %d (want some)", r.kills, killKills, takeovers)
	}
	if r.nLate > 0 && r.foundLate == 0 {
		r.failed("%d sessions surfaced late, none archived found_late: the sweep was not exercised", r.nLate)
	}
}

func (r *killRun) failed(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf(format+"\nreplica logs:\n%s", append(args, r.rs.logs())...)
}
