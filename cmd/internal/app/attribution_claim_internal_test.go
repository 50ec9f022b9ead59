package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
)

// The watcher's Claim over the log: a session of the gateway's account is the lost START's
// person's (and Started finds it from then on); with no lost START it is not claimed; with two
// the answer wraps watch.ErrClaimAmbiguous.
func TestClaimJoinsTheLostStart(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.Options{Path: filepath.Join(t.TempDir(), "a.db")})
	log, err := actionlog.New(st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lost := func(person, org string) {
		t.Helper()
		b, err := log.Begin(ctx, actionlog.Entry{Actor: actionlog.Actor{Person: person, DisplayName: person + " D", Role: "RESTORE_OPERATOR", Tenant: "t1"},
			Kind: actionlog.KindStart, Reason: "ticket 7", Server: "syd1", OrganizationID: org, SessionType: "EXCHANGE"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := log.Complete(ctx, b.ID, actionlog.Outcome{Status: actionlog.StatusFailed,
			Error: actionlog.UnknownOutcome + " (VBO may have acted; not retried): timeout"}); err != nil {
			t.Fatal(err)
		}
	}
	a := logAttributions{log}
	cand := func(id, org string) watch.ClaimCandidate {
		now := time.Now()
		return watch.ClaimCandidate{ID: id, OrgID: org, InitiatedBy: "svc-gateway", SeenAt: now.Add(time.Second), Since: now.Add(-time.Hour)}
	}
	if _, ok, err := a.Claim(ctx, "syd1", cand("vbo-0", "org-1")); ok || err != nil {
		t.Fatalf("no lost START: claimed %v, %v", ok, err)
	}
	lost("alice", "org-1")
	at, ok, err := a.Claim(ctx, "syd1", cand("vbo-1", "org-1"))
	want := store.Attribution{ThroughGateway: true, Person: "alice", DisplayName: "alice D", Tenant: "t1", Reason: "ticket 7"}
	if err != nil || !ok || at != want {
		t.Fatalf("claim: %+v %v %v, want %+v", at, ok, err, want)
	}
	started, err := a.Started(ctx, "syd1", []string{"vbo-1"})
	if err != nil || started["vbo-1"] != want {
		t.Fatalf("Started after the claim: %+v %v", started, err)
	}
	lost("alice", "org-2")
	lost("bob", "org-2")
	if _, ok, err := a.Claim(ctx, "syd1", cand("vbo-2", "org-2")); ok || !errors.Is(err, watch.ErrClaimAmbiguous) {
		t.Fatalf("two lost STARTs: %v %v, want ErrClaimAmbiguous", ok, err)
	}
}
