package actionlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// clock is a test clock that moves one millisecond per reading, so records have distinct times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type env struct {
	log *Log
	st  *store.Store
	clk *clock
}

// engines runs fn on a fresh log over each store engine, in parallel.
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Open(t, eng.Options(t))
			fn(t, newEnv(t, st, "r1"))
		})
	}
}

func newEnv(t *testing.T, st *store.Store, replica string) *env {
	t.Helper()
	l, err := New(st)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: t0}
	return &env{log: l.WithReplica(replica).WithClock(c.Now), st: st, clk: c}
}

func actor(tenant, person string) Actor {
	return Actor{Person: person, DisplayName: person + " (display)", Role: "RESTORE_OPERATOR", Tenant: tenant,
		ClientAddr: "192.0.2.7", UserAgent: "test/1", RequestID: "req-" + person}
}

var ctx = context.Background()

// start begins and completes a START for a on server/org, VBO answering vboID.
func (e *env) start(t *testing.T, a Actor, server, org, vboID string) Session {
	t.Helper()
	b, err := e.log.Begin(ctx, Entry{Actor: a, Kind: KindStart, Reason: "ticket 42", Server: server, OrganizationID: org,
		SessionType: "EXCHANGE", Detail: json.RawMessage(`{"type":"Vex"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusSucceeded, UpstreamStatus: 201, VBOSessionID: vboID}); err != nil {
		t.Fatal(err)
	}
	s, err := e.log.Session(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// step begins and completes one step of kind k on gateway session gw.
func (e *env) step(t *testing.T, a Actor, k Kind, gw string) Action {
	t.Helper()
	b, err := e.log.Begin(ctx, Entry{Actor: a, Kind: k, GatewaySessionID: gw, Detail: json.RawMessage(`{"page":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusSucceeded, UpstreamStatus: 200, Detail: json.RawMessage(`{"n":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if err := e.st.InTx(ctx, func(tx store.Tx) error { _, err := tx.Exec(ctx, q, args...); return err }); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (e *env) verify(t *testing.T, tenant string) Verification {
	t.Helper()
	v, err := e.log.Verify(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// chainOf reads a tenant's records in position order.
func (e *env) chainOf(t *testing.T, tenant string) []*record {
	t.Helper()
	rows, err := e.st.Query(ctx, `SELECT `+recordCols+` FROM restore_action WHERE tenant = ? ORDER BY position`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	list, err := store.Collect(rows, scanRecord)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// checkChain asserts tenant's chain is 1..n without gaps, each linked to the one before, and
// that Verify agrees.
func (e *env) checkChain(t *testing.T, tenant string, n int) {
	t.Helper()
	list := e.chainOf(t, tenant)
	if len(list) != n {
		t.Fatalf("chain %q has %d records, want %d", tenant, len(list), n)
	}
	prev := ""
	for i, r := range list {
		if r.Position != int64(i+1) || r.PrevHash != prev || r.Hash != r.digest() || r.Tenant != tenant {
			t.Fatalf("chain %q record %d: position %d prev %q hash ok %v", tenant, i+1, r.Position, r.PrevHash, r.Hash == r.digest())
		}
		prev = r.Hash
	}
	if v := e.verify(t, tenant); !v.OK || v.Records != int64(n) {
		t.Fatalf("verify %q = %+v, want OK with %d records", tenant, v, n)
	}
}

// Every begin and every outcome is one record, numbered 1, 2, 3... per tenant, each carrying
// the previous record's hash; the provider admins ("") have a chain of their own.
func TestChainContinuity(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice, bob, admin := actor("t1", "alice"), actor("t2", "bob"), actor("", "root")
		s1 := e.start(t, alice, "syd1", "org-1", "vbo-1")
		s2 := e.start(t, bob, "syd1", "org-2", "vbo-2")
		e.step(t, alice, KindBrowse, s1.ID)
		e.step(t, alice, KindSearch, s1.ID)
		e.step(t, bob, KindBrowse, s2.ID)
		s3 := e.start(t, admin, "mel1", "org-3", "vbo-3")
		// A provider admin acting on a tenant's session records on the session's chain.
		e.step(t, admin, KindBrowse, s1.ID)
		e.step(t, alice, KindStop, s1.ID)
		e.checkChain(t, "t1", 10)
		e.checkChain(t, "t2", 4)
		e.checkChain(t, "", 2)
		if v := e.verify(t, "nobody"); !v.OK || v.Records != 0 {
			t.Fatalf("empty chain: %+v", v)
		}
		// The hash covers the previous record: the same contents at another place hash differently.
		list := e.chainOf(t, "t1")
		r := *list[2]
		r.PrevHash = list[0].Hash
		if r.digest() == list[2].Hash {
			t.Fatal("hash does not cover prev_hash")
		}
		_ = s3
	})
}

// Appends for one tenant from many goroutines never fork the chain or reuse a position.
func TestConcurrentAppendsOneTenant(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		s := e.start(t, actor("t1", "alice"), "syd1", "org-1", "vbo-1")
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := actor("t1", fmt.Sprintf("p%d", w))
				for range each {
					b, err := e.log.Begin(ctx, Entry{Actor: a, Kind: KindBrowse, GatewaySessionID: s.ID})
					if err == nil {
						_, err = e.log.Complete(ctx, b.ID, Outcome{Status: StatusSucceeded, UpstreamStatus: 200})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		e.checkChain(t, "t1", 2+2*workers*each)
	})
}

// Two gateway replicas over one PostgreSQL append to the same chains at once, including a
// chain's very first record (its head row created by both): no fork, no gap.
func TestTwoReplicasOnePostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	open := func() *store.Store {
		return storetest.Open(t, store.Options{Driver: store.DriverPostgres, DSN: dsn})
	}
	a, b := newEnv(t, open(), "ra"), newEnv(t, open(), "rb")
	const perReplica, each = 3, 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for _, e := range []*env{a, b} {
		for w := range perReplica {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := actor("t9", fmt.Sprintf("%s-%d", e.log.replica, w))
				for i := range each {
					st, err := e.log.Begin(ctx, Entry{Actor: who, Kind: KindStart, Reason: "r", Server: "syd1", OrganizationID: "o"})
					if err == nil {
						_, err = e.log.Complete(ctx, st.ID, Outcome{Status: StatusSucceeded, VBOSessionID: fmt.Sprintf("%s-%d-%d", e.log.replica, w, i)})
					}
					if err == nil {
						_, err = e.log.Begin(ctx, Entry{Actor: who, Kind: KindBrowse, GatewaySessionID: st.ID})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	a.checkChain(t, "t9", 2*perReplica*each*3)
	if v := b.verify(t, "t9"); !v.OK {
		t.Fatalf("replica b: %+v", v)
	}
	// Sessions carry the replica that opened them.
	for _, e := range []*env{a, b} {
		n := 0
		if err := e.st.QueryRow(ctx, `SELECT COUNT(*) FROM restore_gateway_session WHERE replica = ?`, e.log.replica).Scan(&n); err != nil || n != perReplica*each {
			t.Fatalf("replica %s opened %d sessions (%v), want %d", e.log.replica, n, err, perReplica*each)
		}
	}
}

// Verify finds a record edited, deleted, swapped or rewritten with raw SQL, and names the first
// broken position; the other tenant's chain stays intact.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(t *testing.T, e *env)
		at     int64
	}{
		{"edit reason", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET reason = 'nothing to see' WHERE tenant = 't1' AND position = 1`)
		}, 1},
		{"edit person", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET person = 'mallory' WHERE tenant = 't1' AND position = 3`)
		}, 3},
		{"edit outcome status", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET status = 'FAILED' WHERE tenant = 't1' AND position = 4`)
		}, 4},
		{"edit detail", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET detail = '{"page":2}' WHERE tenant = 't1' AND position = 5`)
		}, 5},
		{"edit time", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET at_ns = at_ns + 1 WHERE tenant = 't1' AND position = 2`)
		}, 2},
		{"clear a field", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET client_addr = '' WHERE tenant = 't1' AND position = 1`)
		}, 1},
		{"delete a record", func(t *testing.T, e *env) {
			e.exec(t, `DELETE FROM restore_action WHERE tenant = 't1' AND position = 3`)
		}, 3},
		{"delete the newest record", func(t *testing.T, e *env) {
			e.exec(t, `DELETE FROM restore_action WHERE tenant = 't1' AND position = 6`)
		}, 6},
		{"swap a pair", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET position = -1 WHERE tenant = 't1' AND position = 3`)
			e.exec(t, `UPDATE restore_action SET position = 3 WHERE tenant = 't1' AND position = 4`)
			e.exec(t, `UPDATE restore_action SET position = 4 WHERE tenant = 't1' AND position = -1`)
		}, 3},
		{"edit and rehash", func(t *testing.T, e *env) {
			r := e.chainOf(t, "t1")[1]
			r.Error = "forged"
			e.exec(t, `UPDATE restore_action SET error = ?, hash = ? WHERE id = ?`, r.Error, r.digest(), r.ID)
		}, 3},
		{"move to another chain", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_action SET tenant = 't3' WHERE tenant = 't1' AND position = 6`)
		}, 6},
		{"head moved back", func(t *testing.T, e *env) {
			e.exec(t, `UPDATE restore_chain_head SET position = 5 WHERE tenant = 't1'`)
		}, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engines(t, func(t *testing.T, e *env) {
				alice := actor("t1", "alice")
				s := e.start(t, alice, "syd1", "org-1", "vbo-1")
				e.step(t, alice, KindBrowse, s.ID)
				e.step(t, alice, KindStop, s.ID)
				other := e.start(t, actor("t2", "bob"), "syd1", "org-2", "vbo-2")
				e.checkChain(t, "t1", 6)
				tc.tamper(t, e)
				v := e.verify(t, "t1")
				if v.OK || v.BrokenAt == nil || *v.BrokenAt != tc.at || v.Problem == "" {
					t.Fatalf("verify = %+v (broken at %v), want broken at %d", v, deref(v.BrokenAt), tc.at)
				}
				if v.Records != tc.at-1 {
					t.Fatalf("verified %d records before the break, want %d", v.Records, tc.at-1)
				}
				e.checkChain(t, "t2", 2)
				_ = other
			})
		})
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// A forged outcome (its hash and link recomputed) whose begin does not exist, or belongs to
// another chain, or comes after it, is reported.
func TestVerifyDetectsOutcomeWithoutBegin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ref  func(e *env, t1, t2 Action) (string, Kind)
	}{
		{"missing begin", func(e *env, t1, t2 Action) (string, Kind) { return "no-such-record", KindBrowse }},
		{"begin of another tenant", func(e *env, t1, t2 Action) (string, Kind) { return t2.ID, KindBrowse }},
		{"begin of another kind", func(e *env, t1, t2 Action) (string, Kind) { return t1.ID, KindStop }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engines(t, func(t *testing.T, e *env) {
				s1 := e.start(t, actor("t1", "alice"), "syd1", "org-1", "vbo-1")
				s2 := e.start(t, actor("t2", "bob"), "syd1", "org-2", "vbo-2")
				b1, err := e.log.Begin(ctx, Entry{Actor: actor("t1", "alice"), Kind: KindBrowse, GatewaySessionID: s1.ID})
				if err != nil {
					t.Fatal(err)
				}
				b2, err := e.log.Begin(ctx, Entry{Actor: actor("t2", "bob"), Kind: KindBrowse, GatewaySessionID: s2.ID})
				if err != nil {
					t.Fatal(err)
				}
				ref, kind := tc.ref(e, b1, b2)
				forged := &record{ID: newID(), Tenant: "t1", Record: recOutcome, RefID: ref, Kind: kind, Status: StatusSucceeded, AtNS: 1}
				if err := e.st.InTx(ctx, func(tx store.Tx) error { return appendRecord(ctx, tx, forged, nil) }); err != nil {
					t.Fatal(err)
				}
				v := e.verify(t, "t1")
				if v.OK || deref(v.BrokenAt) != int64(4) {
					t.Fatalf("verify = %+v, want broken at 4", v)
				}
			})
		})
	}
}

// A session opens with its START, learns VBO's id from the START's outcome, is touched by every
// step and closes with its STOP; Actions merges each begin with its outcome.
func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		b, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindStart, Reason: "ticket 42", Server: "syd1",
			OrganizationID: "org-1", SessionType: "EXCHANGE"})
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != StatusPending || b.GatewaySessionID != b.ID || b.Position != 1 || b.Actor != alice {
			t.Fatalf("begin = %+v", b)
		}
		s, err := e.log.Session(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Open || s.VBOSessionID != "" || s.Actor != alice || s.Reason != "ticket 42" || s.Type != "EXCHANGE" ||
			s.Replica != "r1" || s.Server != "syd1" || s.OrganizationID != "org-1" || s.Closed != nil {
			t.Fatalf("session after begin = %+v", s)
		}
		c, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusSucceeded, UpstreamStatus: 201, VBOSessionID: "vbo-1"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != StatusSucceeded || c.VBOSessionID != "vbo-1" || c.CompletedAt == nil || c.ID != b.ID || c.Position != 1 {
			t.Fatalf("complete = %+v", c)
		}
		s, _ = e.log.Session(ctx, b.ID)
		if s.VBOSessionID != "vbo-1" || !s.LastActivity.Equal(*c.CompletedAt) {
			t.Fatalf("session after start = %+v", s)
		}
		br := e.step(t, alice, KindBrowse, s.ID)
		if br.VBOSessionID != "vbo-1" || br.Server != "syd1" || br.OrganizationID != "org-1" || string(br.Detail) != `{"page":1}` ||
			string(br.OutcomeDetail) != `{"n":3}` || br.UpstreamStatus != 200 {
			t.Fatalf("browse = %+v", br)
		}
		s2, _ := e.log.Session(ctx, b.ID)
		if !s2.LastActivity.After(s.LastActivity) {
			t.Fatalf("browse did not touch the session: %v then %v", s.LastActivity, s2.LastActivity)
		}
		stop := e.step(t, alice, KindStop, s.ID)
		s3, _ := e.log.Session(ctx, b.ID)
		if s3.Open || s3.Closed == nil || !s3.Closed.Equal(*stop.CompletedAt) {
			t.Fatalf("session after stop = %+v", s3)
		}
		got, err := e.log.Actions(ctx, s.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		kinds := []Kind{}
		for _, a := range got {
			kinds = append(kinds, a.Kind)
		}
		if fmt.Sprint(kinds) != "[START BROWSE STOP]" || got[0].Reason != "ticket 42" || got[1].Position != 3 || got[2].Position != 5 {
			t.Fatalf("actions = %+v", got)
		}
		one, err := e.log.Action(ctx, br.ID)
		if err != nil || one.Status != StatusSucceeded || one.Position != 3 {
			t.Fatalf("action = %+v, %v", one, err)
		}
		if _, err := e.log.Action(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown action: %v", err)
		}
		// Steps on a closed session are refused.
		if _, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindBrowse, GatewaySessionID: s.ID}); !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("browse after stop: %v", err)
		}
	})
}

// A START VBO refused closes its session; a REAP closes too.
func TestFailedStartAndReapClose(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		b, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindStart, Reason: "r", Server: "syd1", OrganizationID: "org-1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusFailed, UpstreamStatus: 429, Error: "too many sessions"}); err != nil {
			t.Fatal(err)
		}
		if s, _ := e.log.Session(ctx, b.ID); s.Open || s.VBOSessionID != "" {
			t.Fatalf("failed start left %+v", s)
		}
		s := e.start(t, alice, "syd1", "org-1", "vbo-2")
		reaper := Actor{Person: "system:reaper", Role: "SYSTEM"}
		e.step(t, reaper, KindReap, s.ID)
		if s, _ := e.log.Session(ctx, s.ID); s.Open {
			t.Fatal("reap left the session open")
		}
		e.checkChain(t, "t1", 6)
	})
}

// Steps the log refuses, with the error a caller branches on.
func TestRefusals(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		b, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindBrowse, GatewaySessionID: s.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusSucceeded}); err != nil {
			t.Fatal(err)
		}
		pending, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindStart, Reason: "r", Server: "syd1", OrganizationID: "org-1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			do   func() error
			want error
		}{
			{"another tenant's session", func() error {
				_, err := e.log.Begin(ctx, Entry{Actor: actor("t2", "bob"), Kind: KindBrowse, GatewaySessionID: s.ID})
				return err
			}, ErrNotFound},
			{"unknown session", func() error {
				_, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindStop, GatewaySessionID: "nope"})
				return err
			}, ErrNotFound},
			{"complete twice", func() error { _, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusFailed}); return err }, ErrCompleted},
			{"complete unknown", func() error { _, err := e.log.Complete(ctx, "nope", Outcome{Status: StatusFailed}); return err }, ErrNotFound},
			{"complete an outcome", func() error {
				_, err := e.log.Complete(ctx, e.chainOf(t, "t1")[1].ID, Outcome{Status: StatusFailed})
				return err
			}, ErrNotFound},
			{"successful START without VBO's id", func() error {
				_, err := e.log.Complete(ctx, pending.ID, Outcome{Status: StatusSucceeded})
				return err
			}, ErrInvalid},
			{"pending outcome", func() error { _, err := e.log.Complete(ctx, pending.ID, Outcome{Status: StatusPending}); return err }, ErrInvalid},
			{"outcome detail not JSON", func() error {
				_, err := e.log.Complete(ctx, pending.ID, Outcome{Status: StatusFailed, Detail: json.RawMessage(`{`)})
				return err
			}, ErrInvalid},
		} {
			if err := tc.do(); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		// Nothing refused was appended: start (2) + browse (2) + pending start (1).
		e.checkChain(t, "t1", 5)
		if v := e.verify(t, "t2"); v.Records != 0 {
			t.Fatalf("t2 chain: %+v", v)
		}
	})
}

func TestBeginValidation(t *testing.T) {
	t.Parallel()
	long := string(make([]byte, maxTextBytes+1))
	ok := Entry{Actor: actor("t1", "alice"), Kind: KindStart, Reason: "r", Server: "syd1", OrganizationID: "org-1"}
	cases := []struct {
		name string
		edit func(e *Entry)
	}{
		{"unknown kind", func(e *Entry) { e.Kind = "DELETE_EVERYTHING" }},
		{"no person", func(e *Entry) { e.Actor.Person = "" }},
		{"start without reason", func(e *Entry) { e.Reason = "  " }},
		{"start without server", func(e *Entry) { e.Server = "" }},
		{"start without organization", func(e *Entry) { e.OrganizationID = "" }},
		{"start with a session id", func(e *Entry) { e.GatewaySessionID = "x" }},
		{"browse without session", func(e *Entry) { e.Kind = KindBrowse }},
		{"reason too long", func(e *Entry) { e.Reason = string(make([]rune, maxReasonRunes+1)) }},
		{"user agent too long", func(e *Entry) { e.Actor.UserAgent = long }},
		{"NUL in reason", func(e *Entry) { e.Reason = "a\x00b" }},
		{"invalid UTF-8", func(e *Entry) { e.Actor.DisplayName = "\xff" }},
		{"detail not JSON", func(e *Entry) { e.Detail = json.RawMessage(`{"a":`) }},
		{"detail too large", func(e *Entry) { e.Detail = json.RawMessage(`"` + string(make([]byte, maxDetailBytes)) + `"`) }},
	}
	engines(t, func(t *testing.T, e *env) {
		for _, tc := range cases {
			en := ok
			tc.edit(&en)
			if _, err := e.log.Begin(ctx, en); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
			}
		}
		if v := e.verify(t, "t1"); !v.OK || v.Records != 0 {
			t.Fatalf("refused entries were appended: %+v", v)
		}
		if _, err := e.log.Begin(ctx, ok); err != nil {
			t.Fatalf("valid entry: %v", err)
		}
	})
}

// SessionsByVBO answers a loader's batch in one call: sessions started through the gateway by
// (server, VBO id), the rest missing.
func TestSessionsByVBO(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		want := map[[2]string]string{}
		for i := range 5 {
			server := []string{"syd1", "mel1"}[i%2]
			s := e.start(t, actor("t1", "alice"), server, "org-1", fmt.Sprintf("vbo-%d", i))
			want[[2]string{server, s.VBOSessionID}] = s.ID
		}
		// A pending START has no VBO id yet and is found by none.
		if _, err := e.log.Begin(ctx, Entry{Actor: actor("t1", "alice"), Kind: KindStart, Reason: "r", Server: "syd1", OrganizationID: "org-1"}); err != nil {
			t.Fatal(err)
		}
		keys := [][2]string{{"syd1", "vbo-0"}, {"mel1", "vbo-1"}, {"syd1", "vbo-1"}, {"syd1", "vbo-4"}, {"syd1", ""}, {"mel1", "vbo-3"}, {"syd1", "vbo-0"}}
		for range vboBatch {
			keys = append(keys, [2]string{"syd1", "outside"}) // more than one statement's worth
		}
		got, err := e.log.SessionsByVBO(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 {
			t.Fatalf("got %d sessions: %v", len(got), got)
		}
		for k, s := range got {
			if want[k] != s.ID || s.Server != k[0] || s.VBOSessionID != k[1] {
				t.Fatalf("key %v: %+v", k, s)
			}
		}
		one, err := e.log.SessionByVBO(ctx, "mel1", "vbo-3")
		if err != nil || one.ID != want[[2]string{"mel1", "vbo-3"}] {
			t.Fatalf("SessionByVBO = %+v, %v", one, err)
		}
		if _, err := e.log.SessionByVBO(ctx, "syd1", "vbo-3"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("wrong server: %v", err)
		}
		if m, err := e.log.SessionsByVBO(ctx, nil); err != nil || len(m) != 0 {
			t.Fatalf("empty batch: %v %v", m, err)
		}
	})
}

// PendingStarts sees a START begun after since and not yet answered, on that server and
// organisation only ("": any organisation of the server).
func TestPendingStarts(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		pending := func(server, org string, since time.Time) bool {
			t.Helper()
			ok, err := e.log.PendingStarts(ctx, server, org, since)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if pending("syd1", "org-1", time.Time{}) {
			t.Fatal("pending start on an empty log")
		}
		e.clk.Set(t0.Add(time.Hour))
		b, err := e.log.Begin(ctx, Entry{Actor: actor("t1", "alice"), Kind: KindStart, Reason: "r", Server: "syd1", OrganizationID: "org-1"})
		if err != nil {
			t.Fatal(err)
		}
		e.start(t, actor("t1", "alice"), "syd1", "org-2", "vbo-x") // answered: never pending
		for _, tc := range []struct {
			server, org string
			since       time.Time
			want        bool
		}{
			{"syd1", "org-1", t0, true},
			{"syd1", "org-1", b.At.Add(-time.Nanosecond), true},
			{"syd1", "org-1", b.At, false}, // began at since, not after
			{"mel1", "org-1", t0, false},
			{"syd1", "org-2", t0, false},
			{"syd1", "", t0, true}, // any organisation of the server
			{"mel1", "", t0, false},
		} {
			if got := pending(tc.server, tc.org, tc.since); got != tc.want {
				t.Errorf("PendingStarts(%s, %s, %v) = %v, want %v", tc.server, tc.org, tc.since, got, tc.want)
			}
		}
		if _, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusSucceeded, VBOSessionID: "vbo-1"}); err != nil {
			t.Fatal(err)
		}
		if pending("syd1", "org-1", t0) {
			t.Fatal("answered start still pending")
		}
	})
}

// OpenSessions counts one person's open sessions in one tenant.
func TestOpenSessions(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s1 := e.start(t, alice, "syd1", "org-1", "vbo-1")
		e.start(t, alice, "syd1", "org-1", "vbo-2")
		e.start(t, actor("t1", "bob"), "syd1", "org-1", "vbo-3")
		e.start(t, actor("t2", "alice"), "syd1", "org-9", "vbo-4") // same name, another tenant
		count := func(tenant, person string) int {
			n, err := e.log.OpenSessions(ctx, tenant, person)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("t1", "alice"); n != 2 {
			t.Fatalf("alice has %d open, want 2", n)
		}
		e.step(t, alice, KindStop, s1.ID)
		if n, nb, n2 := count("t1", "alice"), count("t1", "bob"), count("t2", "alice"); n != 1 || nb != 1 || n2 != 1 {
			t.Fatalf("open = %d, %d, %d; want 1, 1, 1", n, nb, n2)
		}
	})
}

// IdleSessions lists open sessions idle past the limit or opened by a replica no longer alive.
func TestIdleSessions(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		old := e.start(t, alice, "syd1", "org-1", "vbo-old") // activity at t0+2ms
		closed := e.start(t, alice, "syd1", "org-1", "vbo-closed")
		e.step(t, alice, KindStop, closed.ID)
		e.clk.Set(t0.Add(time.Hour))
		fresh := e.start(t, alice, "syd1", "org-1", "vbo-fresh")
		other := newEnv(t, e.st, "r2")
		other.clk.Set(t0.Add(time.Hour + time.Second)) // after fresh
		elsewhere := other.start(t, alice, "syd1", "org-1", "vbo-r2")
		ids := func(idleBefore time.Time, alive []string) string {
			t.Helper()
			list, err := e.log.IdleSessions(ctx, idleBefore, alive)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, s := range list {
				if !s.Open {
					t.Fatalf("closed session listed: %+v", s)
				}
				out = append(out, s.VBOSessionID)
			}
			return fmt.Sprint(out)
		}
		for _, tc := range []struct {
			name       string
			idleBefore time.Time
			alive      []string
			want       string
		}{
			{"idle only", t0.Add(30 * time.Minute), nil, "[vbo-old]"},
			{"nothing idle", t0, nil, "[]"},
			{"all idle", t0.Add(2 * time.Hour), nil, "[vbo-old vbo-fresh vbo-r2]"},
			{"r2 dead", t0, []string{"r1"}, "[vbo-r2]"},
			{"r2 dead or idle", t0.Add(30 * time.Minute), []string{"r1", "r3"}, "[vbo-old vbo-r2]"},
			{"both alive", t0, []string{"r1", "r2"}, "[]"},
			{"none alive", t0, []string{}, "[vbo-old vbo-fresh vbo-r2]"},
		} {
			if got := ids(tc.idleBefore, tc.alive); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
		_, _, _ = old, fresh, elsewhere
	})
}

// Actions pages a session's steps by position, only that session's, merged with outcomes.
func TestActionsPaging(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		noise := e.start(t, alice, "syd1", "org-1", "vbo-2")
		for i := range 7 {
			e.step(t, alice, KindBrowse, s.ID)
			if i%3 == 0 {
				e.step(t, alice, KindSearch, noise.ID)
			}
		}
		pending, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindSearch, GatewaySessionID: s.ID})
		if err != nil {
			t.Fatal(err)
		}
		var all []Action
		after := int64(0)
		pages := 0
		for {
			page, err := e.log.Actions(ctx, s.ID, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			pages++
			all = append(all, page...)
			after = page[len(page)-1].Position
		}
		if len(all) != 9 || pages != 3 {
			t.Fatalf("%d actions in %d pages, want 9 in 3", len(all), pages)
		}
		for i, a := range all {
			if a.GatewaySessionID != s.ID || (i > 0 && a.Position <= all[i-1].Position) {
				t.Fatalf("action %d: %+v", i, a)
			}
			last := i == len(all)-1
			if last != (a.Status == StatusPending) || last != (a.CompletedAt == nil) {
				t.Fatalf("action %d status %s", i, a.Status)
			}
		}
		if all[8].ID != pending.ID || all[0].Kind != KindStart {
			t.Fatalf("first %s last %s", all[0].Kind, all[8].ID)
		}
		if got, _ := e.log.Actions(ctx, "nope", 0, 10); len(got) != 0 {
			t.Fatalf("unknown session has %d actions", len(got))
		}
	})
}

// A step names its session's server, organisation, VBO session and type, or none: one naming
// others is refused, never recorded against the session as if it happened elsewhere.
func TestStepOnAnotherSessionsCoordinates(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		base := Entry{Actor: alice, Kind: KindBrowse, GatewaySessionID: s.ID}
		for name, en := range map[string]Entry{
			"server":       func() Entry { x := base; x.Server = "mel1"; return x }(),
			"organisation": func() Entry { x := base; x.OrganizationID = "org-2"; return x }(),
			"VBO session":  func() Entry { x := base; x.VBOSessionID = "vbo-2"; return x }(),
			"type":         func() Entry { x := base; x.SessionType = "TEAMS"; return x }(),
		} {
			if a, err := e.log.Begin(ctx, en); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %+v, %v; want ErrInvalid", name, a, err)
			}
		}
		same := base
		same.Server, same.OrganizationID, same.VBOSessionID, same.SessionType = "syd1", "org-1", "vbo-1", "EXCHANGE"
		if _, err := e.log.Begin(ctx, same); err != nil {
			t.Fatalf("the session's own coordinates: %v", err)
		}
		e.checkChain(t, "t1", 3)
	})
}
