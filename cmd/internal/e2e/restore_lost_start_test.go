package e2e_test

import (
	"encoding/json"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// answerDropper is a reverse proxy in front of a simulator that, while armed, forwards an
// explore request to VBO and then closes the connection without answering: VBO opens the
// session, the gateway never hears of it.
type answerDropper struct {
	*httptest.Server
	armed   atomic.Bool
	dropped atomic.Int32
}

func newAnswerDropper(t *testing.T, target string) *answerDropper {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	d := &answerDropper{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = stdlog.New(io.Discard, "", 0) // a request the test's end cancels
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/explore") || !d.armed.CompareAndSwap(true, false) {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r) // VBO acts...
		d.dropped.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close() // ...and its answer is lost
	}))
	t.Cleanup(d.Close)
	return d
}

// A START whose answer was lost (VBO opened the session, the connection closed before the
// gateway read the answer): the front door records it "outcome unknown" without a VBO id,
// and the watcher, seeing a session of the gateway's own VBO account on that organisation,
// gives it to that START: no startedOutsideGateway delivery, the "through the portal" rule
// delivers it with the person and reason, the gateway session and the START's step carry the
// VBO id, restoreAudit counts it under the person, and the action log still verifies. A
// session of the gateway's account with no such START to account for it (someone used the
// gateway's credentials directly) still fires startedOutsideGateway, once, and stays outside
// when a later lost answer on the organisation is claimed by its own session.
func TestRestoreLostStartIsNotOutside(t *testing.T) {
	t.Parallel()
	fleet, cfg := restoreFleet(t, 10, 50*time.Millisecond)
	org, sim, orgID := tenant1Org(fleet)
	var drop *answerDropper
	cfg.Servers = slices.Clone(cfg.Servers)
	for i := range cfg.Servers {
		if cfg.Servers[i].Name == org.Server {
			drop = newAnswerDropper(t, cfg.Servers[i].URL)
			cfg.Servers[i].URL = drop.URL
		}
	}
	cfg.Restore = config.Restore{Enabled: true, IdleTimeout: time.Minute, ReapInterval: time.Second, MaxOpenSessionsPerPerson: 5,
		StepsPerMinute: 6000}
	cfg.Webhooks = config.Webhooks{AllowHTTP: true, AllowPrivateNetworks: []string{"127.0.0.0/8"},
		RetrySchedule: []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}}
	e := restoreGateway(t, fleet, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	gw := e.gw
	waitBackfill(t, gw)
	out, through := rulePair(t, gw, map[string]any{"name": "bypassed the portal", "on": "STARTED"}, "startedOutsideGateway", "through the portal")
	storeTick(t, gw.Store)

	operator := demo.TenantOperatorKey(1)
	person := "apikey:" + operator
	gorg := gid.ID{Kind: gid.KindOrganization, Server: org.Server, Upstream: orgID}.String()
	before := len(sim.ExploredSessions())
	drop.armed.Store(true)
	res := postAs(t, e.c, operator, rfStart, map[string]any{"org": gorg, "reason": "ticket 99: lost answer"})
	if len(res.Errors) == 0 || drop.dropped.Load() != 1 {
		t.Fatalf("start through the dropping proxy answered %s (dropped %d), want an error", res.Data, drop.dropped.Load())
	}
	explored := sim.ExploredSessions()
	if len(explored) != before+1 {
		t.Fatalf("VBO explored %d sessions, want %d: the explore did not reach it", len(explored), before+1)
	}
	mine, ok := sim.Session(explored[len(explored)-1].SessionID)
	if !ok || !strings.EqualFold(mine.InitiatedBy, demo.Username) {
		t.Fatalf("VBO's session was initiated by %q, want the gateway's account %q", mine.InitiatedBy, demo.Username)
	}
	type attribution struct {
		ThroughGateway bool
		Person, Reason *string
	}
	payloadAt := func(r *hookReceiver, i int) (id string, a attribution) {
		r.mu.Lock()
		defer r.mu.Unlock()
		var p struct {
			Data struct {
				UpstreamID  string
				Attribution attribution
			}
		}
		_ = json.Unmarshal(r.got[i].body, &p)
		return p.Data.UpstreamID, p.Data.Attribution
	}
	payload := func(r *hookReceiver) (string, attribution) { return payloadAt(r, 0) }
	log := mustActionLog(t, gw)
	ctx := t.Context()
	waitFor(t, 30*time.Second, func() bool { return through.count()+out.count() >= 1 }, "the lost START's session decided")
	if out.count() != 0 {
		id, a := payload(out)
		t.Fatalf("the lost START's session was delivered as started outside the gateway: %s %+v", id, a)
	}

	// A session of the gateway's account that no lost START accounts for.
	rogue := sim.AddSession(upstream.RestoreSession{Organization: org.Name, ClientHost: "STRANGER-PC", InitiatedBy: demo.Username})
	waitFor(t, 30*time.Second, func() bool { return out.count() >= 1 }, "the rogue session delivered")
	time.Sleep(300 * time.Millisecond) // several polls more: nothing else is delivered
	if out.count() != 1 || through.count() != 1 {
		t.Fatalf("deliveries: outside rule %d, through rule %d; want 1 and 1", out.count(), through.count())
	}
	if id, a := payload(through); id != mine.ID || !a.ThroughGateway || show(a.Person) != person || show(a.Reason) != "ticket 99: lost answer" {
		t.Errorf("through rule delivered %s %+v, want %s by %s", id, a, mine.ID, person)
	}
	if id, a := payload(out); id != rogue.ID || a.ThroughGateway {
		t.Errorf("outside rule delivered %s %+v, want the rogue session %s", id, a, rogue.ID)
	}

	// The log: the START failed "outcome unknown", then a claim gave it VBO's session.
	s, err := log.SessionByVBO(ctx, org.Server, mine.ID)
	if err != nil || s.Actor.Person != person {
		t.Fatalf("the gateway session of %s: %+v %v", mine.ID, s, err)
	}
	start, err := log.Action(ctx, s.ID)
	if err != nil || start.Status != actionlog.StatusFailed || !strings.HasPrefix(start.Error, actionlog.UnknownOutcome) || start.VBOSessionID != mine.ID {
		t.Fatalf("the START reads back %+v %v", start, err)
	}
	var v struct {
		VerifyRestoreActionLog struct {
			OK      bool
			Records int
		}
	}
	mustPost(t, gw, demo.AdminKey, rfVerify, map[string]any{"t": "tenant-1"}, &v)
	if !v.VerifyRestoreActionLog.OK || v.VerifyRestoreActionLog.Records != 3 {
		t.Fatalf("verifyRestoreActionLog: %+v, want one chain of 3 records (START, outcome, claim), OK", v)
	}

	var audit struct {
		RestoreAudit struct {
			Rows []struct {
				Person   *string
				Sessions int
			}
		}
	}
	from, to := mine.CreationTime.Add(-time.Second).UTC(), time.Now().Add(time.Minute).UTC()
	mustPost(t, gw, demo.AdminKey, `query($from: DateTime!, $to: DateTime!) { restoreAudit(from: $from, to: $to, groupBy: [PERSON],
		filter: {startTimeFrom: $from}) { rows { person sessions } } }`,
		map[string]any{"from": from.Format(time.RFC3339Nano), "to": to.Format(time.RFC3339Nano)}, &audit)
	byPerson := map[string]int{}
	for _, r := range audit.RestoreAudit.Rows {
		byPerson[show(r.Person)] += r.Sessions
	}
	if byPerson[person] != 1 {
		t.Errorf("restoreAudit by PERSON %v, want %s:1", byPerson, person)
	}

	// Another lost answer on the organisation while the rogue session (older, still running,
	// decided outside) is polled again: the new session claims the START, the rogue stays
	// outside.
	if s, ok := sim.Session(rogue.ID); !ok || s.EndTime != nil {
		t.Fatalf("the rogue session should still be running: %+v", s)
	}
	drop.armed.Store(true)
	if res := postAs(t, e.c, operator, rfStart, map[string]any{"org": gorg, "reason": "ticket 100: lost again"}); len(res.Errors) == 0 {
		t.Fatal("second start: want an error")
	}
	explored = sim.ExploredSessions()
	second := explored[len(explored)-1].SessionID
	waitFor(t, 30*time.Second, func() bool { return through.count()+out.count() >= 3 }, "the second lost START's session decided")
	time.Sleep(300 * time.Millisecond)
	if out.count() != 1 || through.count() != 2 {
		t.Fatalf("deliveries: outside rule %d, through rule %d; want 1 and 2", out.count(), through.count())
	}
	if id, a := payloadAt(through, 1); id != second || show(a.Reason) != "ticket 100: lost again" {
		t.Errorf("through rule delivered %s %+v, want %s", id, a, second)
	}
	if got, err := gw.Store.Session(ctx, org.Server, rogue.ID); err != nil || got.Attribution.ThroughGateway {
		t.Errorf("the rogue session after the second lost START: %+v %v, want outside the gateway", got, err)
	}
}
