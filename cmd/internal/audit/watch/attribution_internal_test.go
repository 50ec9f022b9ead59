package watch

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// startingLog is an action log with one START on (server "syd1", organisation org) waiting for
// VBO's answer, which arrives (the session's VBO id recorded with the START's outcome, in one
// commit) right after the first lookup the watcher makes, whichever it is: the race between
// the watcher's two lookups and the front door completing the START.
type startingLog struct {
	org, vboID string

	mu       sync.Mutex
	answered bool
}

func (l *startingLog) answer() {
	l.mu.Lock()
	l.answered = true
	l.mu.Unlock()
}

func (l *startingLog) Started(_ context.Context, server string, ids []string) (map[string]store.Attribution, error) {
	l.mu.Lock()
	answered := l.answered
	l.mu.Unlock()
	defer l.answer()
	out := map[string]store.Attribution{}
	for _, id := range ids {
		if answered && server == "syd1" && id == l.vboID {
			out[id] = store.Attribution{ThroughGateway: true, Person: "alice", Tenant: "t1", Reason: "ticket 42"}
		}
	}
	return out, nil
}

func (l *startingLog) Pending(_ context.Context, server string, orgIDs []string, _ time.Time) (map[string]bool, error) {
	l.mu.Lock()
	answered := l.answered
	l.mu.Unlock()
	defer l.answer()
	out := map[string]bool{}
	for _, orgID := range orgIDs { // "" is any organisation of the server
		out[orgID] = !answered && server == "syd1" && (orgID == "" || orgID == l.org)
	}
	return out, nil
}

func (l *startingLog) Claim(context.Context, string, ClaimCandidate) (store.Attribution, bool, error) {
	return store.Attribution{}, false, nil
}

// TestDecideNeverCallsTheGatewaysSessionOutside: a session the front door is starting is never
// decided "started outside the gateway" (which fires startedOutsideGateway rules at once and
// for good): not when the START is answered between the watcher's lookups, not when the
// session's organisation could not be resolved (its name is ambiguous on the server), not when
// VBO gave no creation time. It is the person's, or pending until the START is answered.
func TestDecideNeverCallsTheGatewaysSessionOutside(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		target  attributionTarget
		pending bool // want pending (else: through the gateway)
	}{
		{"answered between the lookups", attributionTarget{id: "vbo-1", orgID: "org-1", created: now}, false},
		{"organisation unresolved", attributionTarget{id: "vbo-1", orgID: "", created: now}, false},
		{"no creation time", attributionTarget{id: "vbo-1", orgID: "org-1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &startingLog{org: "org-1", vboID: "vbo-1"}
			p := &poller{name: "syd1", w: &Watcher{o: Options{Attributions: log, AttributionWait: time.Minute}}}
			got, err := p.decide(context.Background(), now, []attributionTarget{tc.target})
			if err != nil {
				t.Fatal(err)
			}
			a, ok := got["vbo-1"]
			switch {
			case !ok:
				t.Fatalf("no decision: %+v", got)
			case !a.Pending && !a.ThroughGateway:
				t.Fatalf("the gateway's own session decided outside it: %+v", a)
			}
			// Decided later (settleAttributions), it is the person's.
			if a.Pending {
				got, err = p.decide(context.Background(), now.Add(time.Second), []attributionTarget{tc.target})
				if err != nil {
					t.Fatal(err)
				}
				if a = got["vbo-1"]; !a.ThroughGateway || a.Person != "alice" {
					t.Fatalf("decided later: %+v", a)
				}
			}
		})
	}
}

// A session with no START waiting for it is decided outside at once; one older than twice the
// wait is decided without asking whether a START is pending.
func TestDecideOutside(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	log := &startingLog{org: "org-1", vboID: "vbo-1"}
	log.answer()
	p := &poller{name: "syd1", w: &Watcher{o: Options{Attributions: log, AttributionWait: time.Minute}}}
	got, err := p.decide(context.Background(), now, []attributionTarget{
		{id: "bypass", orgID: "org-1", created: now},
		{id: "old", orgID: "org-1", created: now.Add(-3 * time.Minute)},
		{id: "vbo-1", orgID: "org-1", created: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]store.Attribution{"bypass": {}, "old": {},
		"vbo-1": {ThroughGateway: true, Person: "alice", Tenant: "t1", Reason: "ticket 42"}} {
		if got[id] != want {
			t.Errorf("%s: %+v, want %+v", id, got[id], want)
		}
	}
}
