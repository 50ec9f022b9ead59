package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// lostLog is an action log holding STARTs whose answer was lost (by organisation, the
// person), none pending; Claim gives a START to the first session asking for it, once, as
// the log's ClaimSession does, and refuses to guess for an organisation with two.
type lostLog struct {
	lost   map[string]string // organisation -> person of its lost START
	twice  map[string]bool   // organisations with two lost STARTs
	fail   error             // when set, every Claim fails with it
	claims []ClaimCandidate
}

func (l *lostLog) Started(context.Context, string, []string) (map[string]store.Attribution, error) {
	return nil, nil
}

func (l *lostLog) Pending(_ context.Context, _ string, orgIDs []string, _ time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	for _, orgID := range orgIDs {
		out[orgID] = orgID == "org-pending"
	}
	return out, nil
}

func (l *lostLog) Claim(_ context.Context, server string, c ClaimCandidate) (store.Attribution, bool, error) {
	l.claims = append(l.claims, c)
	if l.fail != nil {
		return store.Attribution{}, false, l.fail
	}
	if l.twice[c.OrgID] {
		return store.Attribution{}, false, fmt.Errorf("%w: two", ErrClaimAmbiguous)
	}
	person, ok := l.lost[c.OrgID]
	if !ok || server != "syd1" {
		return store.Attribution{}, false, nil
	}
	delete(l.lost, c.OrgID)
	return store.Attribution{ThroughGateway: true, Person: person, Reason: "ticket 7"}, true, nil
}

// A session of the gateway's own account (initiatedBy, compared without case) on an
// organisation with a START whose answer was lost is that START's person's, the earliest
// session first; a second such session, one with no lost START to account for it (someone
// used the gateway's credentials), anyone else's, one on an unresolved organisation and one
// archived and decided outside already stay outside; one on an organisation with a START still pending waits, unclaimed; two lost STARTs
// that could both be it are not guessed between.
func TestDecideClaimsTheSessionOfALostStart(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	wait := time.Minute
	log := &lostLog{lost: map[string]string{"org-1": "alice", "org-2": "bob", "org-empty": "carol", "org-undated": "dave"}, twice: map[string]bool{"org-amb": true}}
	p := &poller{name: "syd1", account: "gateway-svc", log: discardLogger(),
		w: &Watcher{o: Options{Attributions: log, AttributionWait: wait}}}
	gw := func(id, org string, created time.Time) attributionTarget {
		return attributionTarget{id: id, orgID: org, created: created, initiatedBy: "GATEWAY-SVC"}
	}
	got, err := p.decide(context.Background(), now, []attributionTarget{
		gw("later", "org-1", now.Add(-time.Second)), // listed first, created after "mine"
		gw("mine", "org-1", now.Add(-2*time.Second)),
		{id: "stranger", orgID: "org-2", created: now, initiatedBy: `CONTOSO\mallory`},
		gw("credentials", "org-3", now),
		gw("unresolved", "", now),
		gw("pending", "org-pending", now),
		gw("ambiguous", "org-amb", now),
		gw("old", "org-empty", now.Add(-3*wait)),
		gw("undated", "org-undated", time.Time{}), // no creation time: nothing bounds the START it may be
		{id: "decided", orgID: "org-2", created: now, initiatedBy: "gateway-svc", decided: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Attribution{
		"mine":        {ThroughGateway: true, Person: "alice", Reason: "ticket 7"},
		"later":       {},
		"stranger":    {},
		"credentials": {},
		"unresolved":  {},
		"pending":     {Pending: true},
		"ambiguous":   {},
		"old":         {},
		"decided":     {},
		"undated":     {},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %+v, want %+v", id, got[id], w)
		}
	}
	var asked []string
	for _, c := range log.claims {
		asked = append(asked, c.ID)
		if !c.SeenAt.Equal(now) || !c.Since.Equal(now.Add(-2*wait)) || c.InitiatedBy != "GATEWAY-SVC" {
			t.Errorf("claim %+v: want seen now, since twice the wait ago", c)
		}
		if c.ID == "mine" && (!c.Until.Equal(now.Add(-2*time.Second+wait)) || !c.From.Equal(now.Add(-2*time.Second-wait))) {
			t.Errorf("claim of mine from %v until %v, want its creation less and plus the wait", c.From, c.Until)
		}
	}
	// Ordered by creation time, then id: "mine" before "later"; nobody asked for anyone else's session,
	// an unresolved organisation, a pending one, an old one, one without a creation time or one
	// decided already.
	if fmt.Sprint(asked) != "[mine later ambiguous credentials]" {
		t.Errorf("claims asked for %v", asked)
	}
	if _, ok := log.lost["org-2"]; !ok {
		t.Error("bob's lost START was claimed by someone else's session")
	}

	// Without the server's account configured, nothing is claimed.
	log2 := &lostLog{lost: map[string]string{"org-1": "alice"}}
	p2 := &poller{name: "syd1", log: discardLogger(), w: &Watcher{o: Options{Attributions: log2, AttributionWait: wait}}}
	got, err = p2.decide(context.Background(), now, []attributionTarget{gw("mine", "org-1", now)})
	if err != nil || got["mine"] != (store.Attribution{}) || len(log2.claims) != 0 {
		t.Fatalf("no account: %+v %v, claims %v", got, err, log2.claims)
	}
}

// A Claim that fails (other than ambiguous) fails decide, wrapping the log's error: the batch
// is not archived with a guess.
func TestDecideClaimErrorFails(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	boom := errors.New("log unreachable")
	log := &lostLog{lost: map[string]string{"org-1": "alice"}, fail: boom}
	p := &poller{name: "syd1", account: "gateway-svc", log: discardLogger(),
		w: &Watcher{o: Options{Attributions: log, AttributionWait: time.Minute}}}
	got, err := p.decide(context.Background(), now, []attributionTarget{{id: "mine", orgID: "org-1", created: now, initiatedBy: "gateway-svc"}})
	if !errors.Is(err, boom) || got != nil || len(log.claims) != 1 {
		t.Fatalf("decide: %v, %v (claims %d), want the claim's error", got, err, len(log.claims))
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
