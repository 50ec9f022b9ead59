package report

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Coverage's from is never earlier than what the archive still holds: the backfill's start, or
// now minus watch.retention when the watcher has pruned past it. Checked against the archive
// itself: every session the watcher archived that started from coverage.from on is still there.
func TestCoverageHonoursRetention(t *testing.T) {
	now := archiveBase.Add(30 * 24 * time.Hour)
	backfillFrom := now.Add(-10 * 24 * time.Hour)
	clock := func(context.Context) (time.Time, error) { return now, nil }
	tests := []struct {
		name      string
		retention time.Duration
		wantFrom  time.Time
		prunes    bool // the retention deletes some of the backfill
	}{
		{"no retention", 0, backfillFrom, false},
		{"retention shorter than the backfill", 3 * 24 * time.Hour, now.Add(-3 * 24 * time.Hour), true},
		{"retention longer than the backfill", 30 * 24 * time.Hour, backfillFrom, false},
	}
	for _, eng := range storetest.Engines() {
		for _, tt := range tests {
			t.Run(eng.Name+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				st := storetest.Open(t, eng.Options(t))
				// syd1: backfilled and polled; mel1: backfill still running; akl1: never seen.
				archived := archiveEvery(t, st, "syd1", backfillFrom, now, 6*time.Hour)
				if _, err := st.EnsureServer(ctx, "mel1", backfillFrom); err != nil {
					t.Fatal(err)
				}
				if tt.retention > 0 { // what the watcher's retention does
					if _, err := st.Prune(ctx, now.Add(-tt.retention)); err != nil {
						t.Fatal(err)
					}
				}
				a, err := NewArchive(st, ArchiveOptions{Retention: tt.retention, Now: clock})
				if err != nil {
					t.Fatal(err)
				}
				all := func(string, string) bool { return true }
				q := resolvers.AuditQuery{From: now.Add(-20 * 24 * time.Hour), To: now, Servers: []string{"syd1", "mel1", "akl1"}, InScope: all}
				res, err := a.RestoreAudit(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Coverage) != 3 {
					t.Fatalf("coverage of %d servers, want 3", len(res.Coverage))
				}
				syd, mel, akl := res.Coverage[0], res.Coverage[1], res.Coverage[2]
				if syd.From == nil || !syd.From.Equal(tt.wantFrom) {
					t.Fatalf("syd1 from %v, want %v", syd.From, tt.wantFrom)
				}
				if syd.To == nil || !syd.To.Equal(now) || syd.Complete {
					t.Errorf("syd1 to %v complete %v, want %v and incomplete (the report starts before from)", syd.To, syd.Complete, now)
				}
				if mel.From == nil || !mel.From.Equal(tt.wantFrom) || mel.To != nil || mel.Complete {
					t.Errorf("mel1 (backfill running) %v..%v complete %v, want %v.. and incomplete", mel.From, mel.To, mel.Complete, tt.wantFrom)
				}
				if akl.From != nil || akl.To != nil || akl.Complete {
					t.Errorf("akl1 (never seen) %v..%v complete %v, want nothing", akl.From, akl.To, akl.Complete)
				}

				// The claim holds: the archive has every session started in [from, now).
				held := map[string]bool{}
				inWindow := resolvers.AuditQuery{From: *syd.From, To: now, Servers: []string{"syd1"}, InScope: all}
				if err := a.Sessions(ctx, inWindow, func(s *match.Session) error { held[s.Upstream.ID] = true; return nil }); err != nil {
					t.Fatal(err)
				}
				want := 0
				for id, start := range archived {
					if !start.Before(*syd.From) {
						want++
						if !held[id] {
							t.Errorf("coverage claims %v.. but session %s (started %v) is gone", *syd.From, id, start)
						}
					}
				}
				if len(held) != want || want == 0 {
					t.Errorf("the archive holds %d sessions from %v, want %d (and some)", len(held), *syd.From, want)
				}
				var total int
				everything := resolvers.AuditQuery{From: q.From, To: now, Servers: []string{"syd1"}, InScope: all}
				if err := a.Sessions(ctx, everything, func(*match.Session) error { total++; return nil }); err != nil {
					t.Fatal(err)
				}
				if pruned := total < len(archived); pruned != tt.prunes {
					t.Errorf("%d of %d sessions left: pruned %v, want %v (the case checks nothing otherwise)", total, len(archived), pruned, tt.prunes)
				}

				// A report from coverage.from on is complete.
				q.From = *syd.From
				if res, err = a.RestoreAudit(ctx, q); err != nil {
					t.Fatal(err)
				}
				if !res.Coverage[0].Complete || res.Coverage[1].Complete {
					t.Errorf("from coverage.from: syd1 complete %v, mel1 complete %v; want true, false", res.Coverage[0].Complete, res.Coverage[1].Complete)
				}
			})
		}
	}
}

// archiveEvery archives on server, as a finished backfill would, one session every step from
// from to to, each ended ten minutes after it started, and records a poll at to. It returns
// the sessions' start times by id.
func archiveEvery(t *testing.T, st *store.Store, server string, from, to time.Time, step time.Duration) map[string]time.Time {
	t.Helper()
	ctx := context.Background()
	if _, err := st.EnsureServer(ctx, server, from); err != nil {
		t.Fatal(err)
	}
	l, ok, err := st.AcquireLease(ctx, server, "test", time.Hour)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	out := map[string]time.Time{}
	var changes []store.Change
	for i, start := 0, from; start.Before(to); i, start = i+1, start.Add(step) {
		end := start.Add(10 * time.Minute)
		s := upstream.RestoreSession{ID: fmt.Sprintf("%s-%d", server, i), Organization: "Org 0", Type: upstream.SessionTypeExchange,
			State: upstream.SessionStateStopped, Result: upstream.SessionResultSuccess, CreationTime: start, EndTime: &end}
		changes = append(changes, store.Change{Session: store.Session{Server: server, Session: s, OrgID: "Org-0", EventsComplete: true}})
		out[s.ID] = start
	}
	if err := st.Archive(ctx, l, changes, store.Checkpoint{HighWater: to, BackfillDone: true}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPolled(ctx, l, to, ""); err != nil {
		t.Fatal(err)
	}
	return out
}

// NewArchive fails closed.
func TestNewArchiveRefuses(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite(t))
	tests := []struct {
		name string
		st   *store.Store
		o    ArchiveOptions
		ok   bool
	}{
		{"no store", nil, ArchiveOptions{}, false},
		{"a negative retention", st, ArchiveOptions{Retention: -time.Hour}, false},
		{"no retention", st, ArchiveOptions{}, true},
		{"a retention", st, ArchiveOptions{Retention: 90 * 24 * time.Hour}, true},
	}
	for _, tt := range tests {
		a, err := NewArchive(tt.st, tt.o)
		if (err == nil) != tt.ok || (a != nil) != tt.ok {
			t.Errorf("%s: %v, %v; want ok=%v", tt.name, a, err, tt.ok)
		}
	}
}

// A clock that cannot tell the time (the store's, on a failing database) fails the report
// rather than judging coverage at the zero time.
func TestCoverageClockError(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite(t))
	boom := errors.New("clock: connection refused")
	a, err := NewArchive(st, ArchiveOptions{Retention: time.Hour, Now: func(context.Context) (time.Time, error) { return time.Time{}, boom }})
	if err != nil {
		t.Fatal(err)
	}
	q := resolvers.AuditQuery{From: archiveBase, To: archiveBase.Add(time.Hour), Servers: []string{"syd1"},
		InScope: func(string, string) bool { return true }}
	if res, err := a.RestoreAudit(context.Background(), q); !errors.Is(err, boom) || res != nil {
		t.Fatalf("RestoreAudit = %v, %v; want the clock's error", res, err)
	}
}

// CoveredFrom is the one rule for where coverage starts (restoreAudit, the exports and the
// archive reads): the later of the backfill's start and now minus the retention. A state with
// no backfill start is still bounded by the retention (the report used to skip the clamp then,
// judging a window before the retention's horizon complete).
func TestCoveredFrom(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	backfill := now.Add(-10 * 24 * time.Hour)
	tests := []struct {
		name      string
		from      time.Time
		retention time.Duration
		want      time.Time
	}{
		{"no retention", backfill, 0, backfill},
		{"retention shorter than the backfill", backfill, 72 * time.Hour, now.Add(-72 * time.Hour)},
		{"retention longer than the backfill", backfill, 30 * 24 * time.Hour, backfill},
		{"retention equal to the backfill", backfill, 10 * 24 * time.Hour, backfill},
		{"no backfill start, retention", time.Time{}, 72 * time.Hour, now.Add(-72 * time.Hour)},
		{"no backfill start, no retention", time.Time{}, 0, time.Time{}},
		{"backfill start in another zone", backfill.In(time.FixedZone("AEST", 10*3600)), 0, backfill},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := CoveredFrom(store.ServerState{BackfillFrom: tt.from}, now, tt.retention)
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("CoveredFrom = %v, want %v (UTC)", got, tt.want)
			}
		})
	}
}
