package actionlog

import (
	"errors"
	"testing"
	"time"
)

// TestStopClosesAtBegin: once a STOP (or REAP) is recorded, no other step may begin on its
// session while VBO is being asked (a browse racing the stop, a second stop, a reap): they get
// ErrSessionClosed, so the log never shows a step after the stop; the session's Closed time is
// the stop's outcome's.
func TestStopClosesAtBegin(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice, bob := actor("t1", "alice"), actor("t1", "bob")
		for _, k := range []Kind{KindStop, KindReap} {
			s := e.start(t, alice, "syd1", "org-1", "vbo-"+string(k))
			stop, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: k, GatewaySessionID: s.ID})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.log.Session(ctx, s.ID)
			if err != nil || got.Open || got.Closed != nil {
				t.Fatalf("%s begun: session %+v, %v; want closed, its time not yet known", k, got, err)
			}
			for _, next := range []Kind{KindBrowse, KindSearch, KindStop, KindReap} {
				if _, err := e.log.Begin(ctx, Entry{Actor: bob, Kind: next, GatewaySessionID: s.ID}); !errors.Is(err, ErrSessionClosed) {
					t.Fatalf("%s while a %s awaits VBO: %v, want ErrSessionClosed", next, k, err)
				}
			}
			e.clk.Set(e.clk.Now().Add(time.Second))
			done, err := e.log.Complete(ctx, stop.ID, Outcome{Status: StatusFailed, Error: "outcome unknown"})
			if err != nil {
				t.Fatal(err)
			}
			got, _ = e.log.Session(ctx, s.ID)
			if got.Open || got.Closed == nil || !got.Closed.Equal(*done.CompletedAt) {
				t.Fatalf("%s completed: session %+v, want closed at %v", k, got, done.CompletedAt)
			}
			if n, err := e.log.OpenSessions(ctx, "t1", "alice"); err != nil || n != 0 {
				t.Fatalf("open sessions after the %s: %d, %v", k, n, err)
			}
		}
		if v := e.verify(t, "t1"); !v.OK {
			t.Fatalf("chain: %+v", v)
		}
	})
}
