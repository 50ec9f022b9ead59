package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestMain(m *testing.M) {
	if os.Getenv("STORE_TEST_WRITER") != "" {
		writerProcess() // the kill -9 test's child: never returns
	}
	os.Exit(pgtest.Main(m))
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func session(id string, start time.Time, working bool) upstream.RestoreSession {
	s := upstream.RestoreSession{ID: id, Name: "Veeam Explorer for Microsoft Exchange", Organization: "Contoso",
		Type: upstream.SessionTypeExchange, CreationTime: start, State: upstream.SessionStateWorking,
		Result: upstream.SessionResultSuccess, InitiatedBy: "CONTOSO\\admin", ClientHost: "WKS01 (via: 203.0.113.7)"}
	if !working {
		end := start.Add(10 * time.Minute)
		s.State, s.EndTime = upstream.SessionStateStopped, &end
	}
	return s
}

func events(from, n int, start time.Time) []upstream.RestoreSessionEvent {
	out := make([]upstream.RestoreSessionEvent, n)
	for i := range out {
		ord := from + i
		size := int64(100 * (ord + 1))
		typ, itemType := upstream.EventTypeRestore, "Item"
		if ord%3 == 1 {
			typ, itemType = upstream.EventTypeExport, "Mailbox"
		}
		e := upstream.RestoreSessionEvent{ID: fmt.Sprintf("ev-%d", ord), Type: typ, Status: upstream.EventStatusSuccess,
			StartTime: start.Add(time.Duration(ord) * time.Second), Message: "m", Order: ord, ItemName: fmt.Sprint("item", ord),
			ItemType: itemType, ItemSizeBytes: &size}
		if ord == 0 {
			e.Type, e.ItemSizeBytes, e.ItemType = upstream.EventTypeNone, nil, ""
		}
		out[i] = e
	}
	return out
}

func change(s upstream.RestoreSession, read int, evs []upstream.RestoreSessionEvent, complete bool) store.Change {
	return store.Change{Session: store.Session{Server: "syd1", Session: s, OrgID: "org-1", EventsRead: read,
		EventsComplete: complete}, NewEvents: evs}
}

func lease(t *testing.T, s *store.Store, server, holder string) store.Lease {
	t.Helper()
	ctx := context.Background()
	if _, err := s.EnsureServer(ctx, server, t0.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.AcquireLease(ctx, server, holder, time.Minute)
	if err != nil || !ok {
		t.Fatalf("acquire: ok=%v err=%v", ok, err)
	}
	return l
}

func kinds(entries []store.FeedEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Kind+":"+e.SessionID)
	}
	return out
}

func TestArchiveLifecycle(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, eng.Options(t))
			l := lease(t, s, "syd1", "a")
			var hooked []store.Archived
			hook := func(ctx context.Context, tx store.Tx, c store.Archived) error {
				// The hook writes in the same transaction.
				var n int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM archive_session WHERE server = ? AND id = ?`, c.Session.Server, c.Session.Session.ID).Scan(&n); err != nil || n != 1 {
					return fmt.Errorf("hook does not see the session in its transaction: n=%d err=%v", n, err)
				}
				hooked = append(hooked, c)
				return nil
			}
			run := session("s1", t0, true)
			// 1. A new running session with its first 3 events.
			if err := s.Archive(ctx, l, []store.Change{change(run, 3, events(0, 3, t0), false)}, store.Checkpoint{HighWater: t0}, hook); err != nil {
				t.Fatal(err)
			}
			// 2. The same again (a poll that found nothing new): no write, no hook.
			if err := s.Archive(ctx, l, []store.Change{change(run, 3, events(0, 3, t0), false)}, store.Checkpoint{HighWater: t0}, hook); err != nil {
				t.Fatal(err)
			}
			// 3. Overlapping events (orders 1..5): only 3..5 are new.
			if err := s.Archive(ctx, l, []store.Change{change(run, 6, events(1, 5, t0), false)}, store.Checkpoint{}, hook); err != nil {
				t.Fatal(err)
			}
			// 4. Stopped, last event read: ended.
			stopped := session("s1", t0, false)
			if err := s.Archive(ctx, l, []store.Change{change(stopped, 7, events(6, 1, t0), true)}, store.Checkpoint{}, hook); err != nil {
				t.Fatal(err)
			}
			got, err := s.Session(ctx, "syd1", "s1")
			if err != nil {
				t.Fatal(err)
			}
			// Items: orders 1..6 (0 is the start marker); bytes 200+...+700; exports at 1 and 4.
			want := store.Totals{Items: 6, Bytes: 200 + 300 + 400 + 500 + 600 + 700}
			if got.Totals.Items != want.Items || got.Totals.Bytes != want.Bytes || got.Totals.ByEventType["Export"] != 2 ||
				got.Totals.ByEventType["Restore"] != 4 || got.Totals.ByItemType["Mailbox"] != 2 || got.EventsRead != 7 || !got.Final() {
				t.Fatalf("archived %+v, want totals %+v, 7 events, final", got, want)
			}
			if !got.Totals.FirstItem.Equal(t0.Add(time.Second)) || !got.Totals.LastItem.Equal(t0.Add(6*time.Second)) {
				t.Fatalf("first/last item %v %v", got.Totals.FirstItem, got.Totals.LastItem)
			}
			if got.ClientMachine != "WKS01" || got.ViaAddress != "203.0.113.7" || got.OrgID != "org-1" {
				t.Fatalf("client host / org: %+v", got)
			}
			evs, err := s.Events(ctx, "syd1", "s1", 0, 1<<30, 1<<62, 100)
			if err != nil || len(evs) != 7 {
				t.Fatalf("events: %d %v", len(evs), err)
			}
			for i, e := range evs {
				if e.Order != i || e.ID != fmt.Sprintf("ev-%d", i) {
					t.Fatalf("event %d: %+v", i, e)
				}
			}
			feed, err := s.FeedAfter(ctx, "syd1", 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			wantFeed := []string{"started:s1", "events:s1", "events:s1", "events:s1", "ended:s1"}
			if fmt.Sprint(kinds(feed)) != fmt.Sprint(wantFeed) {
				t.Fatalf("feed %v, want %v", kinds(feed), wantFeed)
			}
			for i, e := range feed {
				if e.Seq != int64(i+1) {
					t.Fatalf("feed seq %d at %d", e.Seq, i)
				}
			}
			if feed[2].FirstOrd != 3 || feed[2].LastOrd != 5 {
				t.Fatalf("events entry orders %d..%d, want 3..5", feed[2].FirstOrd, feed[2].LastOrd)
			}
			if len(hooked) != 3 || !hooked[0].New || hooked[0].Ended || len(hooked[1].NewEvents) != 3 || !hooked[2].Ended {
				t.Fatalf("hook calls: %+v", hooked)
			}
			st, err := s.State(ctx, "syd1")
			if err != nil || st.Archived != 1 || st.FeedSeq != 5 || !st.HighWater.Equal(t0) {
				t.Fatalf("state %+v %v", st, err)
			}
		})
	}
}

func TestLeaseFencing(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, eng.Options(t))
			a := lease(t, s, "syd1", "a")
			if _, ok, err := s.AcquireLease(ctx, "syd1", "b", time.Minute); ok || err != nil {
				t.Fatalf("b took a held lease: ok=%v err=%v", ok, err)
			}
			// a's lease ends (short ttl); b takes over with a new epoch.
			if _, err := s.RenewLease(ctx, a, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			b, ok, err := s.AcquireLease(ctx, "syd1", "b", time.Minute)
			if !ok || err != nil || b.Epoch == a.Epoch {
				t.Fatalf("b after expiry: %+v ok=%v err=%v", b, ok, err)
			}
			// a's writes are fenced off.
			err = s.Archive(ctx, a, []store.Change{change(session("s1", t0, true), 1, events(0, 1, t0), false)}, store.Checkpoint{HighWater: t0}, nil)
			if !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("archive with a lost lease: %v", err)
			}
			if _, err := s.RenewLease(ctx, a, time.Minute); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("renew a lost lease: %v", err)
			}
			if _, err := s.Session(ctx, "syd1", "s1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a fenced write landed: %v", err)
			}
			// A release lets the next holder in at once.
			if err := s.ReleaseLease(ctx, b); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := s.AcquireLease(ctx, "syd1", "a", time.Minute); !ok || err != nil {
				t.Fatalf("a after release: ok=%v err=%v", ok, err)
			}
		})
	}
}

func TestHookErrorRollsBack(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, eng.Options(t))
			l := lease(t, s, "syd1", "a")
			boom := errors.New("boom")
			hook := func(ctx context.Context, tx store.Tx, c store.Archived) error {
				if _, err := tx.Exec(ctx, `UPDATE watch_server SET last_error = 'hook wrote' WHERE server = ?`, c.Session.Server); err != nil {
					return err
				}
				return boom
			}
			err := s.Archive(ctx, l, []store.Change{change(session("s1", t0, false), 2, events(0, 2, t0), true)}, store.Checkpoint{HighWater: t0}, hook)
			if !errors.Is(err, boom) {
				t.Fatalf("archive: %v", err)
			}
			st, _ := s.State(ctx, "syd1")
			if st.FeedSeq != 0 || st.Archived != 0 || !st.HighWater.IsZero() || st.LastError != "" {
				t.Fatalf("state after a failed hook: %+v", st)
			}
			if _, err := s.Session(ctx, "syd1", "s1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("session after a failed hook: %v", err)
			}
		})
	}
}

func TestReplayAndPrune(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, eng.Options(t))
			l := lease(t, s, "syd1", "a")
			var changes []store.Change
			for i := range 5 {
				changes = append(changes, change(session(fmt.Sprint("s", i), t0.Add(time.Duration(i)*time.Hour), false), 1, events(0, 1, t0), true))
			}
			if err := s.Archive(ctx, l, changes, store.Checkpoint{HighWater: t0.Add(4 * time.Hour), BackfillDone: true}, nil); err != nil {
				t.Fatal(err)
			}
			// Each session: started, events, ended -> 15 entries.
			got, err := s.Replay(ctx, "syd1", store.KindStarted, t0.Add(2*time.Hour), 0, 15, 100)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(kinds(got)) != "[started:s2 started:s3 started:s4]" {
				t.Fatalf("replay since +2h: %v", kinds(got))
			}
			// upto bounds the replay (the seam with the live feed).
			got, _ = s.Replay(ctx, "syd1", store.KindStarted, t0, 0, got[1].Seq-1, 100)
			if fmt.Sprint(kinds(got)) != "[started:s0 started:s1 started:s2]" {
				t.Fatalf("replay up to s3's entry: %v", kinds(got))
			}
			if got[0].Session == nil || got[0].Session.Session.ID != "s0" {
				t.Fatalf("replayed entry without its session: %+v", got[0])
			}
			n, err := s.Prune(ctx, t0.Add(2*time.Hour)) // s0 and s1 ended at +10m and +1h10m
			if err != nil || n != 2 {
				t.Fatalf("prune: %d %v", n, err)
			}
			st, _ := s.State(ctx, "syd1")
			if st.Archived != 3 || !st.BackfillDone {
				t.Fatalf("state after prune: %+v", st)
			}
			all, _ := s.FeedAfter(ctx, "syd1", 0, 100)
			if len(all) != 9 {
				t.Fatalf("feed after prune: %v", kinds(all))
			}
		})
	}
}

// TestKillMidWrite kills (SIGKILL) a process that is writing the archive in large batches,
// then reopens the store: every committed batch is whole, nothing half-written is visible,
// and the checkpoint never passes an unarchived session.
func TestKillMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			o := eng.Options(t)
			s := storetest.Open(t, o)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "STORE_TEST_WRITER=1", "STORE_TEST_DRIVER="+o.Driver, "STORE_TEST_PATH="+o.Path, "STORE_TEST_DSN="+o.DSN)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			deadline := time.Now().Add(60 * time.Second)
			for {
				st, err := s.State(ctx, "syd1")
				if err == nil && st.FeedSeq >= 3*3*20 { // three batches of 20 sessions committed
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("writer made no progress: %+v %v", st, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			_ = s.Close()
			s = storetest.Open(t, o) // reopen: SQLite recovers from its WAL, PostgreSQL aborted the transaction
			st, err := s.State(ctx, "syd1")
			if err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, s, st)
			t.Logf("%s: killed after %d sessions archived (feed position %d)", eng.Name, st.Archived, st.FeedSeq)
		})
	}
}

const writerBatch, writerEvents = 20, 200

// writerProcess archives batches of stopped sessions until it is killed.
func writerProcess() {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Driver: os.Getenv("STORE_TEST_DRIVER"), Path: os.Getenv("STORE_TEST_PATH"), DSN: os.Getenv("STORE_TEST_DSN")})
	if err != nil {
		panic(err)
	}
	if _, err := s.EnsureServer(ctx, "syd1", t0); err != nil {
		panic(err)
	}
	l, ok, err := s.AcquireLease(ctx, "syd1", "writer", time.Hour)
	if !ok || err != nil {
		panic(fmt.Sprint("lease ", ok, err))
	}
	for b := 0; ; b++ {
		var changes []store.Change
		var hw time.Time
		for i := range writerBatch {
			n := b*writerBatch + i
			start := t0.Add(time.Duration(n) * time.Minute)
			hw = start
			changes = append(changes, change(session("s"+strconv.Itoa(n), start, false), writerEvents, events(0, writerEvents, start), true))
		}
		if err := s.Archive(ctx, l, changes, store.Checkpoint{HighWater: hw}, nil); err != nil {
			panic(err)
		}
	}
}

func checkConsistent(t *testing.T, s *store.Store, st store.ServerState) {
	t.Helper()
	ctx := context.Background()
	if st.Archived == 0 || st.Archived%writerBatch != 0 {
		t.Fatalf("archived %d sessions: not whole batches of %d", st.Archived, writerBatch)
	}
	if st.FeedSeq != st.Archived*3 {
		t.Fatalf("feed position %d for %d sessions (want 3 entries each)", st.FeedSeq, st.Archived)
	}
	wantHW := t0.Add(time.Duration(st.Archived-1) * time.Minute)
	if !st.HighWater.Equal(wantHW) {
		t.Fatalf("checkpoint %v, newest archived session started %v", st.HighWater, wantHW)
	}
	feed, err := s.FeedAfter(ctx, "syd1", 0, int(st.FeedSeq)+10)
	if err != nil || int64(len(feed)) != st.FeedSeq {
		t.Fatalf("feed: %d entries (%v), position %d", len(feed), err, st.FeedSeq)
	}
	for i, e := range feed {
		if e.Seq != int64(i+1) {
			t.Fatalf("feed gap at %d: seq %d", i, e.Seq)
		}
	}
	for n := range int(st.Archived) {
		id := "s" + strconv.Itoa(n)
		x, err := s.Session(ctx, "syd1", id)
		if err != nil {
			t.Fatalf("session %s: %v", id, err)
		}
		evs, err := s.Events(ctx, "syd1", id, 0, 1<<30, 1<<62, 1000)
		if err != nil || len(evs) != writerEvents || x.EventsRead != writerEvents || x.Totals.Items != writerEvents-1 || !x.Final() {
			t.Fatalf("session %s: %d events (%v), %+v", id, len(evs), err, x)
		}
	}
	if _, err := s.Session(ctx, "syd1", "s"+strconv.Itoa(int(st.Archived))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a session of the interrupted batch is visible: %v", err)
	}
}
