package watchrules

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var quiet = slog.New(slog.DiscardHandler)

func openStore(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	o.Logger = quiet
	return storetest.Open(t, o)
}

// scopes is a mutable tenant directory: tenant -> organisations (on syd1).
type scopes struct {
	mu   sync.Mutex
	orgs map[string][]string
}

// inScope is the service's OwnerScope: every organisation of syd1 the tenant has now.
func (s *scopes) inScope(owner *string, server, orgID string) bool {
	if owner == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return server == "syd1" && orgID != "" && slices.Contains(s.orgs[*owner], orgID)
}

func (s *scopes) set(tenant string, orgs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if orgs == nil {
		delete(s.orgs, tenant)
		return
	}
	s.orgs[tenant] = orgs
}

// env is one store, one delivery service (not started until start), and a tenant directory:
// t1 owns org-1, t2 owns org-2.
type env struct {
	t     *testing.T
	st    *store.Store
	svc   *Service
	scope *scopes
	lease store.Lease
}

type envOpts struct {
	schedule []time.Duration
	id       string
	noAllow  bool // no private networks allowed (SSRF tests)
	// retention and pruneEvery: the delivery history retention (0: keep everything).
	retention, pruneEvery time.Duration
	// perOwner is Options.PerOwnerWorkers (0: the default); timeout the client's attempt
	// timeout (0: 5 s).
	perOwner int
	timeout  time.Duration
	// logger replaces the quiet default (log capture tests).
	logger *slog.Logger
	// actions is Options.ItemActions (nil: no join).
	actions ItemActions
}

func newService(t *testing.T, st *store.Store, sc *scopes, o envOpts) *Service {
	t.Helper()
	svc, err := New(context.Background(), serviceOptions(t, st, sc, o))
	if err != nil {
		t.Fatal(err)
	}
	// The process's River client, as app builds it: the service registers its jobs.
	if _, err := jobs.New(context.Background(), st, jobs.Options{Modules: []jobs.Module{svc}, ID: o.id,
		PollInterval: 20 * time.Millisecond, Logger: svc.logger}); err != nil {
		t.Fatal(err)
	}
	return svc
}

// serviceOptions are the Options newService builds the service with.
func serviceOptions(t *testing.T, st *store.Store, sc *scopes, o envOpts) Options {
	t.Helper()
	var allow []netip.Prefix
	if !o.noAllow {
		allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	g, err := webhooks.NewGuard(webhooks.Policy{AllowHTTP: !o.noAllow, AllowPrivateNetworks: allow})
	if err != nil {
		t.Fatal(err)
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	c, err := webhooks.NewClient(webhooks.ClientOptions{Guard: g, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	delays := o.schedule
	if delays == nil {
		delays = []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}
	}
	sch, err := webhooks.NewSchedule(delays, 0)
	if err != nil {
		t.Fatal(err)
	}
	logger := o.logger
	if logger == nil {
		logger = quiet
	}
	return Options{Store: st, Guard: g, Client: c, Schedule: sch, OwnerScope: sc.inScope,
		Workers: 4, PerOwnerWorkers: o.perOwner, HistoryRetention: o.retention, PruneInterval: o.pruneEvery, ItemActions: o.actions, Logger: logger}
}

func newEnv(t *testing.T, o store.Options, eo envOpts) *env {
	t.Helper()
	st := openStore(t, o)
	sc := &scopes{orgs: map[string][]string{"t1": {"org-1"}, "t2": {"org-2"}}}
	e := &env{t: t, st: st, scope: sc, svc: newService(t, st, sc, eo)}
	ctx := context.Background()
	if _, err := st.EnsureServer(ctx, "syd1", t0.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, ok, err := st.AcquireLease(ctx, "syd1", "test", time.Hour)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	e.lease = l
	return e
}

func (e *env) start() {
	e.t.Helper()
	startService(e.t, e.svc)
}

// startService starts the River client svc was set up on (newService built it).
func startService(t *testing.T, svc *Service) {
	t.Helper()
	if err := svc.jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.jobs.Stop(ctx)
	})
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// session is a restore session of org on syd1.
func session(id string, working bool) upstream.RestoreSession {
	s := upstream.RestoreSession{ID: id, Name: "Veeam Explorer for Microsoft Exchange", Organization: "Org " + id,
		Type: upstream.SessionTypeExchange, CreationTime: t0, State: upstream.SessionStateWorking,
		Result: upstream.SessionResultSuccess, InitiatedBy: "CONTOSO\\mallory", ClientHost: "UNKNOWN-PC (via: 203.0.113.7)"}
	if !working {
		end := t0.Add(10 * time.Minute)
		s.State, s.EndTime = upstream.SessionStateStopped, &end
	}
	return s
}

func itemEvents(n int) []upstream.RestoreSessionEvent {
	out := make([]upstream.RestoreSessionEvent, n)
	for i := range out {
		size := int64(1000)
		out[i] = upstream.RestoreSessionEvent{ID: "ev" + string(rune('a'+i)), Type: upstream.EventTypeView, Status: upstream.EventStatusSuccess,
			StartTime: t0.Add(time.Duration(i) * time.Second), Message: "viewed", Order: i, ItemName: "item",
			ItemSizeBytes: &size, Source: "/Mailboxes/ceo@contoso.com/Inbox"}
	}
	return out
}

// archive records a change of session id (org orgID), as the watcher would, running the hook.
func (e *env) archive(s upstream.RestoreSession, orgID string, read int, evs []upstream.RestoreSessionEvent, complete, backfill bool) {
	e.t.Helper()
	c := store.Change{Session: store.Session{Server: "syd1", Session: s, OrgID: orgID, EventsRead: read,
		EventsComplete: complete, Backfill: backfill}, NewEvents: evs}
	if err := e.st.Archive(context.Background(), e.lease, []store.Change{c}, store.Checkpoint{}, e.svc.Hook); err != nil {
		e.t.Fatalf("archive: %v", err)
	}
}

func orgFilter(id string) *model.RestoreSessionFilter {
	return &model.RestoreSessionFilter{OrganizationIds: []string{gid.ID{Kind: gid.KindOrganization, Server: "syd1", Upstream: id}.String()}}
}

func (e *env) create(owner *string, in model.WatchRuleInput) *model.WatchRuleCreated {
	e.t.Helper()
	r, err := e.svc.Create(context.Background(), owner, "tester", in)
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is an httptest webhook receiver answering with respond(n) for its n-th request (from 1).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	resp func(n int, w http.ResponseWriter)
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter)) *receiver {
	r := &receiver{resp: respond}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: b, at: time.Now()})
		n := len(r.got)
		r.mu.Unlock()
		if r.resp != nil {
			r.resp(n, w)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// waitFor polls cond until it holds or 20 s pass (generous: the machine is shared).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliveries lists a rule's deliveries (newest first).
func (e *env) deliveries(ruleID string) []*model.WebhookDelivery {
	e.t.Helper()
	conn, err := e.svc.Deliveries(context.Background(), ruleID, 100, "")
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]*model.WebhookDelivery, len(conn.Edges))
	for i, ed := range conn.Edges {
		out[i] = ed.Node
	}
	return out
}

func statusCodes(d *model.WebhookDelivery) []int {
	var out []int
	for _, a := range d.Attempts {
		if a.StatusCode == nil {
			out = append(out, 0)
		} else {
			out = append(out, *a.StatusCode)
		}
	}
	return out
}

// counterSeries reads the counter name from svc's collector through a registry: its value by
// its (first) label's value, "" for a series without labels. A counter never reported fails t.
func counterSeries(t *testing.T, svc *Service, name string) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(svc.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		got := map[string]float64{}
		for _, m := range mf.GetMetric() {
			var label string
			if l := m.GetLabel(); len(l) > 0 {
				label = l[0].GetValue()
			}
			got[label] = m.GetCounter().GetValue()
		}
		return got
	}
	t.Fatalf("no %s", name)
	return nil
}

// clockTick waits (bounded) until the store's clock reads later than it does now, so whatever
// the store stamps next (a session's first sighting) is strictly after whatever it stamped
// before (a rule's creation, or the reverse). Rules fire only for sessions first seen after
// them (hook.go), and two stamps within the clock's resolution (PostgreSQL's: a microsecond)
// would be the same instant.
func clockTick(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	before, err := st.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		now, err := st.Now(ctx)
		switch {
		case err != nil:
			t.Fatal(err)
		case now.After(before):
			return
		case time.Now().After(deadline):
			t.Fatalf("the store's clock stayed at %v", before)
		}
	}
}
