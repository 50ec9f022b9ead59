package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

var ctx = context.Background()

// fakeVBO is one VBO server: it counts calls, answers what it is told, and (check) looks at
// the log while a call is in flight.
type fakeVBO struct {
	mu         sync.Mutex
	calls      []string
	exploreErr error
	stopErr    error
	next       int
	check      func(call string) // runs inside each call
	items      []upstream.BrowseItem
}

func (f *fakeVBO) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	check := f.check
	f.mu.Unlock()
	if check != nil {
		check(call)
	}
}

func (f *fakeVBO) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func resp(code int) *upstream.Response {
	return &upstream.Response{Response: &http.Response{StatusCode: code}}
}

func (f *fakeVBO) Explore(_ context.Context, org string, o upstream.ExploreOptions) (*upstream.RestoreSession, *upstream.Response, error) {
	f.record("explore " + org + " " + string(o.Type))
	if f.exploreErr != nil {
		return nil, nil, f.exploreErr
	}
	f.mu.Lock()
	f.next++
	id := fmt.Sprintf("00000000-0000-0000-0000-%012d", f.next)
	f.mu.Unlock()
	return &upstream.RestoreSession{ID: id, State: upstream.SessionStateWorking}, resp(201), nil
}

func (f *fakeVBO) StopRestoreSession(_ context.Context, id string) (*upstream.Response, error) {
	f.record("stop " + id)
	if f.stopErr != nil {
		return nil, f.stopErr
	}
	return resp(204), nil
}

func (f *fakeVBO) Browse(_ context.Context, id string, ref upstream.BrowseRef, o upstream.ListOptions) (*upstream.Page[upstream.BrowseItem], *upstream.Response, error) {
	f.record(fmt.Sprintf("browse %s %s %d/%d", id, ref.Kind, o.Offset, o.Limit))
	return &upstream.Page[upstream.BrowseItem]{Results: f.items}, resp(200), nil
}

func (f *fakeVBO) Search(_ context.Context, id string, ref upstream.BrowseRef, q string, o upstream.ListOptions) (*upstream.Page[upstream.BrowseItem], *upstream.Response, error) {
	f.record(fmt.Sprintf("search %s %s %q", id, ref.Kind, q))
	return &upstream.Page[upstream.BrowseItem]{Results: f.items}, resp(200), nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	svc *Service
	log *actionlog.Log
	vbo *fakeVBO
	clk *clock
}

// newEnv is the service over the real attribution log on a fresh SQLite store, with one fake
// VBO server "syd1", as replica "r1".
func newEnv(t *testing.T, tune func(*Options)) *env {
	t.Helper()
	st := storetest.Open(t, storetest.SQLite(t))
	l, err := actionlog.New(st)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	l = l.WithReplica("r1").WithClock(clk.Now)
	vbo := &fakeVBO{}
	o := Options{Log: l, Server: func(name string) (Upstream, bool) { return vbo, name == "syd1" }, Now: clk.Now,
		MaxOpenSessionsPerPerson: 3, StepsPerMinute: 6000, Self: "r1"}
	if tune != nil {
		tune(&o)
	}
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, log: l, vbo: vbo, clk: clk}
}

func operator(person string) resolvers.RestoreActor {
	return resolvers.RestoreActor{Person: person, DisplayName: person + " Doe", Tenant: "t1", Role: auth.RoleRestoreOperator,
		ClientAddr: "192.0.2.7", UserAgent: "portal/1", RequestID: "req-1"}
}

func startReq() resolvers.RestoreStart {
	return resolvers.RestoreStart{Server: "syd1", OrganizationID: "org-1", Type: model.RestoreSessionTypeExchange, Reason: "ticket 42: mail lost"}
}

func (e *env) actions(t *testing.T, gsid string) []actionlog.Action {
	t.Helper()
	list, err := e.log.Actions(ctx, gsid, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// The START is recorded before VBO is called (VBO sees a pending step and an open session),
// completed with VBO's status and session id after; the person, reason, address, agent and
// request id are on the record.
func TestStartRecordsBeforeExplore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var during []actionlog.Session
	e.vbo.check = func(call string) {
		if !strings.HasPrefix(call, "explore") {
			return
		}
		n, err := e.log.OpenSessions(ctx, "t1", "ada")
		if err != nil || n != 1 {
			t.Errorf("during explore: %d open sessions (%v), want the START recorded", n, err)
		}
		s, _ := e.log.IdleSessions(ctx, e.clk.Now().Add(time.Hour), nil)
		during = s
	}
	vs, gs, err := e.svc.Start(ctx, operator("ada"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 || during[0].VBOSessionID != "" {
		t.Fatalf("during explore the log held %+v, want one session without VBO's id", during)
	}
	if gs.VBOSessionID != vs.ID || !gs.Open || gs.Person != "ada" || gs.Tenant != "t1" {
		t.Fatalf("gateway session %+v for VBO %s", gs, vs.ID)
	}
	acts := e.actions(t, gs.ID)
	if len(acts) != 1 {
		t.Fatalf("%d actions, want 1", len(acts))
	}
	a := acts[0]
	if a.Kind != actionlog.KindStart || a.Status != actionlog.StatusSucceeded || a.UpstreamStatus != 201 || a.VBOSessionID != vs.ID ||
		a.Reason != "ticket 42: mail lost" || a.Actor.ClientAddr != "192.0.2.7" || a.Actor.UserAgent != "portal/1" ||
		a.Actor.RequestID != "req-1" || a.Actor.DisplayName != "ada Doe" {
		t.Fatalf("START recorded as %+v", a)
	}
	m := actionModel(a)
	if m.Kind != model.RestoreActionKindStart || !strings.Contains(m.Summary, "EXCHANGE session of organisation org-1") ||
		m.UpstreamStatus == nil || *m.UpstreamStatus != 201 || m.EndTime == nil || m.Role != model.RoleRestoreOperator {
		t.Fatalf("action model %+v", m)
	}
	if got := e.vbo.Calls(); len(got) != 1 || got[0] != "explore org-1 Vex" {
		t.Fatalf("VBO calls %q", got)
	}
}

// What the front door refuses, it refuses before recording anything or calling VBO.
func TestStartRefusals(t *testing.T) {
	t.Parallel()
	auditor := operator("eve")
	auditor.Role = auth.RoleTenantAuditor
	long := startReq()
	long.Reason = strings.Repeat("x", 501)
	blank := startReq()
	blank.Reason = "  \n "
	ctrl := startReq()
	ctrl.Reason = "why\x00"
	elsewhere := startReq()
	elsewhere.Server = "mel1"
	badType := startReq()
	badType.Type = model.RestoreSessionTypeUnknown
	tests := []struct {
		name string
		a    resolvers.RestoreActor
		req  resolvers.RestoreStart
		want func(error) bool
	}{
		{"auditor", auditor, startReq(), func(err error) bool {
			var re *resolvers.RoleError
			return errors.As(err, &re) && strings.Contains(err.Error(), "RESTORE_OPERATOR")
		}},
		{"reason too long", operator("ada"), long, isInput},
		{"blank reason", operator("ada"), blank, isInput},
		{"control character", operator("ada"), ctrl, isInput},
		{"unknown type", operator("ada"), badType, isInput},
		{"unknown server", operator("ada"), elsewhere, func(err error) bool { return errors.Is(err, resolvers.ErrNotFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			_, _, err := e.svc.Start(ctx, tt.a, tt.req)
			if !tt.want(err) {
				t.Fatalf("err = %v", err)
			}
			if n, _ := e.log.OpenSessions(ctx, tt.a.Tenant, tt.a.Person); n != 0 || len(e.vbo.Calls()) != 0 {
				t.Fatalf("refused start left %d sessions and VBO calls %q", n, e.vbo.Calls())
			}
		})
	}
}

func isInput(err error) bool {
	var ie *model.InputError
	return errors.As(err, &ie)
}

// A lost explore answer is recorded as such (outcome unknown), never retried, and closes the
// gateway session; a refused one records VBO's status.
func TestStartFailuresRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		text   string
	}{
		{"outcome unknown", &upstream.ActionError{Outcome: upstream.OutcomeUnknown, Err: &upstream.Error{Server: "syd1", Err: errors.New("connection reset")}},
			0, "outcome unknown"},
		{"refused", &upstream.ActionError{Outcome: upstream.OutcomeRefused, Err: &upstream.Error{Server: "syd1", StatusCode: 400, Message: "limit of sessions"}},
			400, "refused by VBO"},
		{"not sent", &upstream.ActionError{Outcome: upstream.OutcomeNotSent, Err: &upstream.Error{Server: "syd1", Err: errors.New("breaker open")}},
			0, "not sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.vbo.exploreErr = tt.err
			_, _, err := e.svc.Start(ctx, operator("ada"), startReq())
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want VBO's", err)
			}
			if n := len(e.vbo.Calls()); n != 1 {
				t.Fatalf("explore sent %d times, want once", n)
			}
			if n, _ := e.log.OpenSessions(ctx, "t1", "ada"); n != 0 {
				t.Fatalf("%d sessions open after a failed start", n)
			}
			all, err := e.log.IdleSessions(ctx, e.clk.Now().Add(time.Hour), nil)
			if err != nil || len(all) != 0 {
				t.Fatalf("open sessions %+v (%v)", all, err)
			}
		})
	}
	// The failure's record says what is known (inspect one through the session's actions).
	e := newEnv(t, nil)
	e.vbo.exploreErr = tests[0].err
	_, _, _ = e.svc.Start(ctx, operator("ada"), startReq())
	v, err := e.log.Verify(ctx, "t1")
	if err != nil || !v.OK || v.Records != 2 {
		t.Fatalf("verify %+v %v: want the START and its outcome, chained", v, err)
	}
}

// restore.maxOpenSessionsPerPerson: one more start answers RATE_LIMITED without a record or a
// VBO call; stopping one makes room. Other people are not affected.
func TestMaxOpenSessionsPerPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.MaxOpenSessionsPerPerson = 2 })
	var first *resolvers.GatewaySession
	for i := range 2 {
		_, gs, err := e.svc.Start(ctx, operator("ada"), startReq())
		if err != nil {
			t.Fatal(i, err)
		}
		first = gs
	}
	_, _, err := e.svc.Start(ctx, operator("ada"), startReq())
	var le *resolvers.LimitError
	if !errors.As(err, &le) || !strings.Contains(le.Msg, "maxOpenSessionsPerPerson") {
		t.Fatalf("third start: %v, want a LimitError naming the setting", err)
	}
	if code, _ := resolvers.Classify(err); code != resolvers.CodeRateLimited {
		t.Fatalf("code %s", code)
	}
	if n := len(e.vbo.Calls()); n != 2 {
		t.Fatalf("%d VBO calls, want 2", n)
	}
	if _, _, err := e.svc.Start(ctx, operator("bob"), startReq()); err != nil {
		t.Fatalf("another person: %v", err)
	}
	if err := e.svc.Stop(ctx, operator("ada"), first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Start(ctx, operator("ada"), startReq()); err != nil {
		t.Fatalf("after a stop: %v", err)
	}
}

// restore.stepsPerMinute is per person: past the burst a step answers RATE_LIMITED with the
// wait, and passes once the budget refills.
func TestStepsPerMinute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.StepsPerMinute = 4 }) // burst 1, one step per 15 s
	_, gs, err := e.svc.Start(ctx, operator("ada"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	ref := upstream.BrowseRef{Kind: upstream.BrowseMailboxes}
	_, err = e.svc.Browse(ctx, operator("ada"), gs, ref, "", 0, 10)
	var le *resolvers.LimitError
	if !errors.As(err, &le) || le.RetryAfter <= 0 || le.RetryAfter > 15*time.Second {
		t.Fatalf("second step: %v, want a LimitError with a wait up to 15s", err)
	}
	if _, _, err := e.svc.Start(ctx, operator("bob"), startReq()); err != nil {
		t.Fatalf("another person: %v", err)
	}
	e.clk.Add(15 * time.Second)
	if _, err := e.svc.Browse(ctx, operator("ada"), gs, ref, "", 0, 10); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	if n := len(e.actions(t, gs.ID)); n != 2 {
		t.Fatalf("%d actions, want START and one BROWSE (the refused step is not recorded)", n)
	}
}

// Browse and search pages are recorded (kind, what was asked, entries answered); a closed
// session answers not found without a VBO call; a second stop makes no VBO call.
func TestBrowseSearchStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.vbo.items = []upstream.BrowseItem{{ID: "mb1", Name: "Ada"}, {ID: "mb2", Name: "Bob"}}
	_, gs, err := e.svc.Start(ctx, operator("ada"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	items, err := e.svc.Browse(ctx, operator("ada"), gs, upstream.BrowseRef{Kind: upstream.BrowseMailFolders, ContainerID: "mb1"}, "", 50, 51)
	if err != nil || len(items) != 2 {
		t.Fatalf("browse: %d items, %v", len(items), err)
	}
	if _, err := e.svc.Browse(ctx, operator("ada"), gs, upstream.BrowseRef{Kind: upstream.BrowseMailboxes}, "ada", 0, 11); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Stop(ctx, operator("ada"), gs); err != nil {
		t.Fatal(err)
	}
	calls := len(e.vbo.Calls())
	if err := e.svc.Stop(ctx, operator("ada"), gs); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	closed, err := e.svc.Session(ctx, gs.ID)
	if err != nil || closed.Open {
		t.Fatalf("session after stop %+v %v", closed, err)
	}
	if _, err := e.svc.Browse(ctx, operator("ada"), closed, upstream.BrowseRef{Kind: upstream.BrowseMailboxes}, "", 0, 11); !errors.Is(err, resolvers.ErrNotFound) {
		t.Fatalf("browse of a closed session: %v", err)
	}
	if n := len(e.vbo.Calls()); n != calls {
		t.Fatalf("VBO calls after the stop: %q", e.vbo.Calls()[calls:])
	}
	acts, err := e.svc.Actions(ctx, gs.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range acts {
		kinds = append(kinds, string(a.Kind)+":"+string(a.Status))
	}
	if got := strings.Join(kinds, ","); got != "START:SUCCEEDED,BROWSE:SUCCEEDED,SEARCH:SUCCEEDED,STOP:SUCCEEDED" {
		t.Fatalf("actions %s", got)
	}
	if s := acts[1].Summary; s != "mail folders of mailbox mb1, offset 50, limit 51" {
		t.Fatalf("browse summary %q", s)
	}
	if s := acts[2].Summary; !strings.Contains(s, `search mailboxes for "ada"`) {
		t.Fatalf("search summary %q", s)
	}
	if acts[3].UpstreamStatus == nil || *acts[3].UpstreamStatus != 204 {
		t.Fatalf("stop status %v", acts[3].UpstreamStatus)
	}
}

// The reaper stops, recorded as REAP, the sessions idle past the timeout and those of replicas
// that are gone; an active session of a live replica stays open. Run through its River worker.
func TestReaper(t *testing.T) {
	t.Parallel()
	alive := []string{"r1"}
	e := newEnv(t, func(o *Options) {
		o.IdleTimeout = 10 * time.Minute
		o.Alive = func(context.Context) ([]string, error) { return alive, nil }
	})
	_, idle, err := e.svc.Start(ctx, operator("ada"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(11 * time.Minute)
	_, active, err := e.svc.Start(ctx, operator("bob"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	// A session of replica r2 (gone), active now.
	o2 := e.svc.o
	o2.Log = e.log.WithReplica("r2")
	e2, err := New(o2)
	if err != nil {
		t.Fatal(err)
	}
	_, orphan, err := e2.Start(ctx, operator("cy"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	if err := (&reapWorker{s: e.svc}).Work(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		gs   *resolvers.GatewaySession
		open bool
		why  string
	}{{idle, false, "idle since"}, {active, true, ""}, {orphan, false, "left open by replica r2"}} {
		s, err := e.svc.Session(ctx, c.gs.ID)
		if err != nil || s.Open != c.open {
			t.Fatalf("session of %s: open %v (%v), want %v", c.gs.Person, s.Open, err, c.open)
		}
		acts, _ := e.svc.Actions(ctx, c.gs.ID, 0, 10)
		last := acts[len(acts)-1]
		if c.open {
			if last.Kind != model.RestoreActionKindStart {
				t.Fatalf("active session reaped: %+v", last)
			}
			continue
		}
		if last.Kind != model.RestoreActionKindReap || last.Status != model.RestoreActionStatusSucceeded || last.Reason == nil ||
			!strings.Contains(*last.Reason, c.why) || last.Person != Reaper.Person {
			t.Fatalf("reap of %s recorded as %+v", c.gs.Person, last)
		}
	}
	if n, err := e.svc.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("second run reaped %d (%v)", n, err)
	}
	// Liveness unavailable: idle sessions only, never a live replica's taken for dead.
	e.svc.o.Alive = func(context.Context) ([]string, error) { return nil, errors.New("store down") }
	if n, err := e.svc.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("reap without liveness: %d (%v)", n, err)
	}
}
