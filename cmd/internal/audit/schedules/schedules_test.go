package schedules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// day0 is the first day of the tests' archive; schedules are created at noon on it.
var day0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// clock is the tests' controlled time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// scopedQueries builds report queries as resolvers does for the principal in ctx: syd1, and
// each session checked against the principal's organisations.
type scopedQueries struct{}

func (scopedQueries) NewAuditQuery(ctx context.Context, from, to time.Time, f *model.RestoreSessionFilter, g []model.RestoreAuditDimension) (resolvers.AuditQuery, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return resolvers.AuditQuery{}, resolvers.ErrUnauthenticated
	}
	return resolvers.AuditQuery{From: from.UTC(), To: to.UTC(), Filter: f, GroupBy: g, Servers: []string{"syd1"}, InScope: p.CanSeeOrg}, nil
}

// tenants: t1 owns Org-1, t2 owns Org-2 (on syd1).
func owner(tenant *string) (*auth.Principal, bool) {
	if tenant == nil {
		return auth.NewAdmin("provider"), true
	}
	orgs := map[string]string{"t1": "Org-1", "t2": "Org-2"}
	org, ok := orgs[*tenant]
	if !ok {
		return nil, false
	}
	return auth.NewTenantAdmin("report", *tenant, []auth.OrgRef{{Server: "syd1", OrgID: org}}), true
}

// receiver is a loopback webhook receiver recording each request.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	code int
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{code: http.StatusNoContent}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		code := r.code
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// env is one store with an archive, and replicas of the service on it, each with its own
// River client (as each gateway process has).
type env struct {
	t       *testing.T
	st      *store.Store
	clock   *clock
	archive *report.Archive
	lease   store.Lease
	logs    *syncBuffer
	grace   time.Duration
	// owner is the replicas' Options.Owner (default owner).
	owner func(*string) (*auth.Principal, bool)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newEnv(t *testing.T, eng storetest.Engine) *env {
	t.Helper()
	st := storetest.Open(t, eng.Options(t))
	e := &env{t: t, st: st, clock: &clock{now: day0.Add(12 * time.Hour)}, logs: &syncBuffer{}, grace: time.Hour}
	var err error
	e.archive, err = report.NewArchive(st, report.ArchiveOptions{Now: func(context.Context) (time.Time, error) { return e.clock.Now(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.EnsureServer(ctx, "syd1", day0.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, ok, err := st.AcquireLease(ctx, "syd1", "test", 24*time.Hour)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	e.lease = l
	return e
}

// archive records sessions (org, start) on syd1 and the watcher's poll at polled.
func (e *env) archiveSessions(polled time.Time, sessions ...session) {
	e.t.Helper()
	var changes []store.Change
	for _, s := range sessions {
		end := s.start.Add(10 * time.Minute)
		us := upstream.RestoreSession{ID: s.id, Organization: strings.Replace(s.org, "-", " ", 1), Type: upstream.SessionTypeExchange,
			State: upstream.SessionStateStopped, Result: upstream.SessionResultSuccess, CreationTime: s.start, EndTime: &end,
			InitiatedBy: "CONTOSO\\" + s.id, ClientHost: "PC-" + s.id}
		changes = append(changes, store.Change{Session: store.Session{Server: "syd1", Session: us, OrgID: s.org, ClientMachine: "PC-" + s.id,
			EventsComplete: true, Totals: store.Totals{Items: 3, Bytes: 300}}})
	}
	ctx := context.Background()
	if err := e.st.Archive(ctx, e.lease, changes, store.Checkpoint{HighWater: polled, BackfillDone: true}, nil); err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.SetPolled(ctx, e.lease, polled, ""); err != nil {
		e.t.Fatal(err)
	}
}

type session struct {
	id, org string
	start   time.Time
}

// replica builds one service with its River client, started for the test.
func (e *env) replica(id string, summary Summarizer) *Service {
	e.t.Helper()
	g, err := webhooks.NewGuard(webhooks.Policy{AllowHTTP: true, AllowPrivateNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := webhooks.NewClient(webhooks.ClientOptions{Guard: g, Timeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	sch, err := webhooks.NewSchedule([]time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := New(Options{Store: e.st, Guard: g, Client: c, Schedule: sch, Queries: scopedQueries{}, Archive: e.archive,
		WriteCSV: report.WriteCSV,
		Owner:    e.ownerFunc(), Summary: summary, Grace: e.grace, Recheck: 20 * time.Millisecond, Now: e.clock.Now, Logger: logger})
	if err != nil {
		e.t.Fatal(err)
	}
	jc, err := jobs.New(context.Background(), e.st, jobs.Options{Modules: []jobs.Module{svc}, ID: id, PollInterval: 20 * time.Millisecond, Logger: logger})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := jc.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = jc.Stop(ctx)
	})
	return svc
}

func ptr[T any](v T) *T { return &v }

func (e *env) ownerFunc() func(*string) (*auth.Principal, bool) {
	if e.owner != nil {
		return e.owner
	}
	return owner
}

// A report delivery checks its schedule's owner before every attempt, as the watch rules'
// deliveries do: once the tenant is gone, a pending retry is cancelled, never sent.
func TestDeliveryRechecksTheOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	rcv := newReceiver(t)
	rcv.code = http.StatusInternalServerError // the first attempt fails: a retry is due
	e.owner = func(tenant *string) (*auth.Principal, bool) {
		if tenant != nil && *tenant == "t1" && len(rcv.requests()) > 0 {
			return nil, false // the tenant is removed once its first attempt was made
		}
		return owner(tenant)
	}
	a := e.replica("a", nil)
	e.archiveSessions(day0.Add(36*time.Hour), session{"a1", "Org-1", day0.Add(13 * time.Hour)})
	c, err := a.Create(context.Background(), ptr("t1"), "admin@t1", model.ReportScheduleInput{Name: "gone", Every: model.ReportPeriodDay,
		At: ptr("00:00"), TimeZone: "UTC", GroupBy: []model.RestoreAuditDimension{}, WebhookURL: ptr(rcv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RunNow(context.Background(), c.Schedule.ID); err != nil {
		t.Fatal(err)
	}
	var last string
	waitFor(t, "the delivery cancelled", func() bool {
		for _, r := range runsOf(t, a, c.Schedule.ID) {
			for _, d := range r.Deliveries {
				last = string(d.Status)
				if d.Status == model.WebhookDeliveryStatusCancelled {
					return true
				}
			}
		}
		return false
	})
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests, want only the first attempt (last status %s)", n, last)
	}
}

// waitFor polls cond every few milliseconds for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runsOf lists a schedule's runs by period.
func runsOf(t *testing.T, svc *Service, id string) []*model.ReportRun {
	t.Helper()
	conn, err := svc.Runs(context.Background(), id, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*model.ReportRun, len(conn.Edges))
	for i, e := range conn.Edges {
		out[i] = e.Node
	}
	slices.SortFunc(out, func(a, b *model.ReportRun) int { return a.From.Compare(b.From) })
	return out
}

func settled(runs []*model.ReportRun, n int) bool {
	if len(runs) != n {
		return false
	}
	for _, r := range runs {
		if r.Status == model.ReportRunStatusPending {
			return false
		}
		for _, d := range r.Deliveries {
			if d.Status == model.WebhookDeliveryStatusPending {
				return false
			}
		}
	}
	return true
}

// tickBoth ticks both replicas at once, twice each, as their periodic jobs would.
func tickBoth(t *testing.T, a, b *Service) {
	t.Helper()
	var wg sync.WaitGroup
	for _, s := range []*Service{a, b, a, b} {
		wg.Go(func() {
			if _, err := s.Tick(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// exportCSV is what /export/restore-audit.csv answers p for the window.
func (e *env) exportCSV(p *auth.Principal, from, to time.Time, groupBy string) string {
	e.t.Helper()
	h := e.archive.Exports(scopedQueries{}, report.ExportOptions{})[report.ExportPath]
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "groupBy": {groupBy}, "partial": {"true"}}
	req := httptest.NewRequest(http.MethodGet, report.ExportPath+"?"+q.Encode(), nil)
	req = req.WithContext(auth.WithPrincipal(req.Context(), p))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		e.t.Fatalf("export: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

// Two replicas, each with River, tick together as periods pass: each period is reported once
// and delivered once, signed with the schedule's secret; the CSV is the export's for the same
// window and the owner's scope (t1's Org-1 only); the secret is never logged.
func TestEachPeriodRunsAndDeliversOnceAcrossReplicas(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng)
			rcv := newReceiver(t)
			a, b := e.replica("replica-a", SummaryBuilder{}), e.replica("replica-b", SummaryBuilder{})
			created, err := a.Create(context.Background(), ptr("t1"), "admin@t1", model.ReportScheduleInput{Name: "daily", Every: model.ReportPeriodDay,
				At: ptr("00:00"), TimeZone: "UTC", GroupBy: []model.RestoreAuditDimension{model.RestoreAuditDimensionInitiatedBy, model.RestoreAuditDimensionOrganization},
				WebhookURL: ptr(rcv.URL)})
			if err != nil {
				t.Fatal(err)
			}
			if created.Secret == nil || !strings.HasPrefix(*created.Secret, "whsec_") {
				t.Fatalf("secret %v, want whsec_...", created.Secret)
			}
			secret, err := webhooks.ParseSecret(*created.Secret)
			if err != nil {
				t.Fatal(err)
			}
			id := created.Schedule.ID
			e.archiveSessions(day0.Add(50*time.Hour),
				session{"a1", "Org-1", day0.Add(13 * time.Hour)}, session{"b1", "Org-2", day0.Add(14 * time.Hour)},
				session{"a2", "Org-1", day0.Add(37 * time.Hour)})

			tickBoth(t, a, b) // day 0 has not ended: nothing
			for day := 1; day <= 2; day++ {
				e.clock.set(day0.Add(time.Duration(day)*24*time.Hour + time.Hour))
				tickBoth(t, a, b)
				waitFor(t, fmt.Sprintf("day %d's run and delivery", day), func() bool { return settled(runsOf(t, a, id), day) })
			}
			time.Sleep(50 * time.Millisecond) // a duplicate would arrive now
			runs := runsOf(t, b, id)
			if len(runs) != 2 {
				t.Fatalf("%d runs, want 2", len(runs))
			}
			got := rcv.requests()
			if len(got) != 2 {
				t.Fatalf("%d deliveries, want 2", len(got))
			}
			for i, r := range runs {
				from := day0.Add(time.Duration(i) * 24 * time.Hour)
				if !r.From.Equal(from) || !r.To.Equal(from.Add(24*time.Hour)) || r.OnDemand || r.Status != model.ReportRunStatusDone || !r.Complete {
					t.Errorf("run %d: %v..%v onDemand=%v %s complete=%v", i, r.From, r.To, r.OnDemand, r.Status, r.Complete)
				}
				if len(r.Deliveries) != 1 || r.Deliveries[0].Status != model.WebhookDeliveryStatusSucceeded || r.Deliveries[0].Attempts != 1 {
					t.Errorf("run %d: deliveries %+v", i, r.Deliveries)
				}
				req := got[i]
				if sig := webhooks.Signature(secret, req.header.Get("webhook-id"), timeHeader(t, req.header), req.body); !strings.Contains(req.header.Get("webhook-signature"), sig) {
					t.Errorf("run %d: signature does not verify with the schedule's secret", i)
				}
				var p payload
				if err := json.Unmarshal(req.body, &p); err != nil {
					t.Fatal(err)
				}
				if p.Type != EventReportReady || p.Data.RunID != r.ID || !p.Data.Complete || p.Data.Summary == "" {
					t.Errorf("run %d: payload %+v", i, p)
				}
				want := e.exportCSV(auth.NewTenantAuditor("someone", "t1", []auth.OrgRef{{Server: "syd1", OrgID: "Org-1"}}), r.From, r.To, "INITIATED_BY,ORGANIZATION")
				if p.Data.CSV != want {
					t.Errorf("run %d: CSV differs from the export:\n%s\nwant\n%s", i, p.Data.CSV, want)
				}
				if strings.Contains(p.Data.CSV, "Org-2") || strings.Contains(p.Data.CSV, "b1") {
					t.Errorf("run %d: t1's report holds another tenant's session:\n%s", i, p.Data.CSV)
				}
				if !strings.Contains(p.Data.CSV, fmt.Sprintf("a%d", i+1)) {
					t.Errorf("run %d: the CSV lacks t1's session:\n%s", i, p.Data.CSV)
				}
			}
			if strings.Contains(e.logs.String(), *created.Secret) || strings.Contains(e.logs.String(), strings.TrimPrefix(*created.Secret, "whsec_")) {
				t.Error("the schedule's secret was logged")
			}
		})
	}
}

func timeHeader(t *testing.T, h http.Header) time.Time {
	t.Helper()
	var sec int64
	if _, err := fmt.Sscan(h.Get("webhook-timestamp"), &sec); err != nil {
		t.Fatal(err)
	}
	return time.Unix(sec, 0)
}

// A period the archive does not cover waits for the grace time, then is made and marked
// incomplete; with onlyIfActivity an empty period is skipped and sends nothing.
func TestIncompleteAndEmptyPeriods(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng)
			rcv := newReceiver(t)
			a := e.replica("a", nil)
			mk := func(name string, only bool) string {
				c, err := a.Create(context.Background(), ptr("t1"), "admin@t1", model.ReportScheduleInput{Name: name, Every: model.ReportPeriodDay,
					At: ptr("00:00"), TimeZone: "UTC", GroupBy: []model.RestoreAuditDimension{}, OnlyIfActivity: ptr(only), WebhookURL: ptr(rcv.URL)})
				if err != nil {
					t.Fatal(err)
				}
				return c.Schedule.ID
			}
			always, onlyActive := mk("always", false), mk("only if activity", true)
			// Day 0 has t1 activity and is covered; day 1 is empty and covered only to its middle.
			e.archiveSessions(day0.Add(36*time.Hour), session{"a1", "Org-1", day0.Add(13 * time.Hour)})
			// Half an hour after day 1 ended (grace: an hour): day 1's runs wait.
			e.clock.set(day0.Add(48*time.Hour + 30*time.Minute))
			if _, err := a.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, id := range []string{always, onlyActive} {
					for _, r := range runsOf(t, a, id) {
						t.Logf("%s %v %s complete=%v err=%v deliveries=%+v", id, r.From, r.Status, r.Complete, r.Error, r.Deliveries)
					}
				}
			}()
			waitFor(t, "day 0's runs", func() bool {
				return settled(runsOf(t, a, always)[:1], 1) && settled(runsOf(t, a, onlyActive)[:1], 1)
			})
			for _, id := range []string{always, onlyActive} {
				if r := runsOf(t, a, id)[1]; r.Status != model.ReportRunStatusPending {
					t.Fatalf("day 1 within the grace time: %s, want PENDING", r.Status)
				}
			}
			// The grace time passes: the runs are made, marked incomplete.
			e.clock.set(day0.Add(49*time.Hour + time.Minute))
			waitFor(t, "the runs", func() bool { return settled(runsOf(t, a, always), 2) && settled(runsOf(t, a, onlyActive), 2) })
			for _, tt := range []struct {
				id         string
				day        int
				status     model.ReportRunStatus
				complete   bool
				deliveries int
			}{
				{always, 0, model.ReportRunStatusDone, true, 1},
				{always, 1, model.ReportRunStatusDone, false, 1},
				{onlyActive, 0, model.ReportRunStatusDone, true, 1},
				{onlyActive, 1, model.ReportRunStatusSkipped, false, 0},
			} {
				r := runsOf(t, a, tt.id)[tt.day]
				if r.Status != tt.status || r.Complete != tt.complete || len(r.Deliveries) != tt.deliveries {
					t.Errorf("%s day %d: %s complete=%v deliveries=%d, want %s %v %d", tt.id, tt.day, r.Status, r.Complete, len(r.Deliveries),
						tt.status, tt.complete, tt.deliveries)
				}
			}
			if n := len(rcv.requests()); n != 3 {
				t.Errorf("%d webhooks, want 3", n)
			}
			for _, req := range rcv.requests() {
				var p payload
				_ = json.Unmarshal(req.body, &p)
				if p.Data.Period.From.Equal(day0.Add(24*time.Hour)) && p.Data.Complete {
					t.Error("the incomplete period's webhook says complete")
				}
			}
		})
	}
}
