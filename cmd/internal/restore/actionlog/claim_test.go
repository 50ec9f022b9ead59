package actionlog

import (
	"errors"
	"testing"
	"time"
)

// lostStart begins a START on (server, org) and completes it as the front door does when
// VBO's answer was lost: FAILED, UnknownOutcome, no VBO id.
func (e *env) lostStart(t *testing.T, a Actor, server, org string) Action {
	t.Helper()
	b, err := e.log.Begin(ctx, Entry{Actor: a, Kind: KindStart, Reason: "ticket 7", Server: server, OrganizationID: org,
		SessionType: "EXCHANGE"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusFailed,
		Error: UnknownOutcome + " (VBO may have acted; not retried): VBO did not answer"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// ClaimSession gives a VBO session to the one START whose answer was lost on its server and
// organisation within the window, once: the claim is a new record on the START's chain (the
// chain verifies), the gateway session and the START's Action read back with the VBO id,
// SessionsByVBO finds it, and a second session finds nothing to claim. It claims nothing for
// a START that failed with an answer, one on another organisation or server, one outside
// the window, and refuses to guess between two.
func TestClaimSession(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice, bob := actor("t1", "alice"), actor("t2", "bob")
		claim := func(org, vbo string) Claim {
			now := e.clk.Now()
			return Claim{Server: "syd1", OrganizationID: org, VBOSessionID: vbo, InitiatedBy: "gateway-svc",
				SeenAt: now, Since: now.Add(-4 * time.Minute)}
		}
		// Not candidates: a START VBO refused, one on another organisation, one on another server.
		refused, err := e.log.Begin(ctx, Entry{Actor: bob, Kind: KindStart, Reason: "r", Server: "syd1", OrganizationID: "org-1", SessionType: "EXCHANGE"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.log.Complete(ctx, refused.ID, Outcome{Status: StatusFailed, UpstreamStatus: 400, Error: "refused by VBO: bad request"}); err != nil {
			t.Fatal(err)
		}
		e.lostStart(t, bob, "syd1", "org-2")
		e.lostStart(t, bob, "mel1", "org-1")
		if _, err := e.log.ClaimSession(ctx, claim("org-1", "vbo-x")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("claim with no lost START on org-1: %v, want ErrNotFound", err)
		}

		lost := e.lostStart(t, alice, "syd1", "org-1")
		s, err := e.log.ClaimSession(ctx, claim("org-1", "vbo-1"))
		if err != nil {
			t.Fatal(err)
		}
		if s.ID != lost.GatewaySessionID || s.VBOSessionID != "vbo-1" || s.Actor.Person != "alice" || s.Reason != "ticket 7" || s.Open {
			t.Fatalf("claimed %+v, want alice's closed gateway session %s holding vbo-1", s, lost.GatewaySessionID)
		}
		// Claiming the same VBO session again answers the same session, appending nothing.
		before := len(e.chainOf(t, "t1"))
		if again, err := e.log.ClaimSession(ctx, claim("org-1", "vbo-1")); err != nil || again.ID != s.ID {
			t.Fatalf("claim again: %+v %v", again, err)
		}
		if n := len(e.chainOf(t, "t1")); n != before {
			t.Fatalf("claiming again appended %d records", n-before)
		}
		// A second session of the gateway's account finds the START claimed.
		if _, err := e.log.ClaimSession(ctx, claim("org-1", "vbo-2")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second session: %v, want ErrNotFound", err)
		}
		byVBO, err := e.log.SessionByVBO(ctx, "syd1", "vbo-1")
		if err != nil || byVBO.ID != s.ID {
			t.Fatalf("SessionByVBO after the claim: %+v %v", byVBO, err)
		}
		a, err := e.log.Action(ctx, lost.ID)
		if err != nil || a.VBOSessionID != "vbo-1" || a.Status != StatusFailed {
			t.Fatalf("the START reads back %+v %v, want FAILED (as answered) with vbo-1", a, err)
		}
		chain := e.chainOf(t, "t1")
		last := chain[len(chain)-1]
		if last.Record != recClaim || last.RefID != lost.ID || last.VBOID != "vbo-1" || last.GwID != s.ID {
			t.Fatalf("last record %+v, want the claim of %s", last, lost.ID)
		}
		for _, tenant := range []string{"t1", "t2"} {
			if v := e.verify(t, tenant); !v.OK {
				t.Fatalf("chain %s after the claim: %+v", tenant, v)
			}
		}
		// An edited claim breaks the chain.
		e.exec(t, `UPDATE restore_action SET vbo_session_id = 'vbo-9' WHERE id = ?`, last.ID)
		if v := e.verify(t, "t1"); v.OK || *v.BrokenAt != last.Position {
			t.Fatalf("edited claim: %+v", v)
		}
		e.exec(t, `UPDATE restore_action SET vbo_session_id = 'vbo-1' WHERE id = ?`, last.ID)

		// A START begun before the window is not a candidate.
		e.lostStart(t, alice, "syd1", "org-3")
		c := claim("org-3", "vbo-3")
		c.Since = c.SeenAt
		if _, err := e.log.ClaimSession(ctx, c); !errors.Is(err, ErrNotFound) {
			t.Fatalf("START before the window: %v, want ErrNotFound", err)
		}
		// A START begun after the session's Until (VBO created it before) is not a candidate.
		e.lostStart(t, alice, "syd1", "org-5")
		c = claim("org-5", "vbo-5")
		c.Until = c.Since.Add(time.Minute)
		if _, err := e.log.ClaimSession(ctx, c); !errors.Is(err, ErrNotFound) {
			t.Fatalf("START after Until: %v, want ErrNotFound", err)
		}
		// A START whose answer the gateway gave up on before VBO created the session (From: the
		// creation time less the clocks' margin) did not open it: someone else did, with the
		// gateway's account, after the person was told the START failed.
		e.lostStart(t, alice, "syd1", "org-6")
		c = claim("org-6", "vbo-6")
		c.From = c.SeenAt.Add(time.Minute)
		if _, err := e.log.ClaimSession(ctx, c); !errors.Is(err, ErrNotFound) {
			t.Fatalf("session created after the START's outcome: %v, want ErrNotFound", err)
		}
		c.From = c.SeenAt.Add(-time.Minute)
		if s, err := e.log.ClaimSession(ctx, c); err != nil || s.VBOSessionID != "vbo-6" {
			t.Fatalf("session created before the START's outcome: %+v %v", s, err)
		}
		// Two lost STARTs on one organisation: the log does not guess, and claims neither.
		e.lostStart(t, alice, "syd1", "org-4")
		e.lostStart(t, bob, "syd1", "org-4")
		if _, err := e.log.ClaimSession(ctx, claim("org-4", "vbo-4")); !errors.Is(err, ErrAmbiguous) {
			t.Fatalf("two candidates: %v, want ErrAmbiguous", err)
		}
		if _, err := e.log.SessionByVBO(ctx, "syd1", "vbo-4"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("an ambiguous session was claimed: %v", err)
		}
		// Bad input.
		if _, err := e.log.ClaimSession(ctx, Claim{Server: "syd1", VBOSessionID: "vbo-5"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("claim without organisation: %v, want ErrInvalid", err)
		}
	})
}

// Verify finds a claim whose START is missing or not a START.
func TestVerifyClaimLink(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		e.lostStart(t, alice, "syd1", "org-1")
		now := e.clk.Now()
		if _, err := e.log.ClaimSession(ctx, Claim{Server: "syd1", OrganizationID: "org-1", VBOSessionID: "vbo-1",
			SeenAt: now, Since: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		chain := e.chainOf(t, "t1")
		claimRec := chain[2]
		if claimRec.Record != recClaim {
			t.Fatalf("record 3 is %s, want the claim", claimRec.Record)
		}
		if v := e.verify(t, "t1"); !v.OK {
			t.Fatalf("chain with a claim: %+v", v)
		}
		// Point the claim at the START's outcome, rehashing it and the head as a forger would:
		// still caught, as the link.
		claimRec.RefID = chain[1].ID
		claimRec.Hash = claimRec.digest()
		e.exec(t, `UPDATE restore_action SET ref_id = ?, hash = ? WHERE id = ?`, claimRec.RefID, claimRec.Hash, claimRec.ID)
		e.exec(t, `UPDATE restore_chain_head SET hash = ? WHERE tenant = ?`, claimRec.Hash, "t1")
		if v := e.verify(t, "t1"); v.OK {
			t.Fatalf("a claim of a non-START verified: %+v", v)
		} else if *v.BrokenAt != 3 {
			t.Fatalf("broken at %d, want 3: %+v", *v.BrokenAt, v)
		}
	})
}
