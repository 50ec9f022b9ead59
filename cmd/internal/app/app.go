// Package app is the gateway's composition root: it turns a configuration into a running
// gateway, building each part once, fully configured, in one order:
//
//	config -> metrics -> fleet (VBO clients, instrumented) -> health -> store -> backend (loaders)
//	-> watch rules, report schedules, watcher -> River's one client (jobs; they register their jobs) -> snapshot
//	(authenticator, HTTP handler) -> telemetry around it
//
// Reload swaps the snapshot (tenants, API keys, JWT settings, limits) atomically. New builds
// and starts nothing; Run starts the background work and stops it when its ctx ends.
// The store and the watcher exist only when the restore watch is on (watch.enabled).
// cmd/vbo-gateway, the tests and the benchmark all build the gateway through New.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/schedules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watchrules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/console"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/graphiql"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/health"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/metrics"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/download"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/frontdoor"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Gateway is an assembled gateway.
type Gateway struct {
	// Handler serves every request with the configuration in force when the request arrived
	// (Reload swaps it atomically; requests in flight finish on the one they started with).
	Handler http.Handler
	Backend *loaders.Backend
	Fleet   *upstream.Fleet
	// Health probes the servers (when Options.HealthInterval > 0) and tells their state.
	Health *health.Monitor
	// Metrics is nil when metrics are off.
	Metrics *metrics.Metrics
	// Authenticator is the start-up configuration's (nil when no authentication is configured:
	// every query refused).
	Authenticator *authn.Authenticator
	Store         *store.Store   // nil when the restore watch is off
	Watcher       *watch.Watcher // nil when the restore watch is off
	Feed          *watch.Feed    // the subscriptions' source; nil when the restore watch is off
	// Rules keeps watch rules and delivers their webhooks; nil when the restore watch is off.
	Rules *watchrules.Service
	// Reports keeps report schedules and sends their reports; nil when the restore watch is off.
	Reports *schedules.Service
	// Restore is the restore front door; nil unless restore.enabled (which needs the watch).
	Restore *frontdoor.Service
	// Console is the auditor's console at /console/; nil when config.console signs nobody in.
	Console *console.Console
	// Jobs is the process's one River client (the rules' deliveries and history prune, the
	// archive retention); nil when the restore watch is off.
	Jobs *jobs.Client
	// Downloads serves the restore actions' one-time links at /download/ (restore.go); nil
	// unless the front door is on: /download/ answers NOT_CONFIGURED.
	Downloads *download.Service

	// runMu guards running and cancelRun; ran is closed when Run has stopped everything.
	runMu     sync.Mutex
	running   bool
	cancelRun context.CancelFunc
	ran       chan struct{}
	closeOnce sync.Once

	cursors  *gid.Cursors
	ctx      context.Context
	opts     Options
	logger   *slog.Logger
	reloadMu sync.Mutex
	current  atomic.Pointer[snapshot]
	// subscriptions counts the open subscriptions across reloads (limits.subscriptions).
	subscriptions *httpapi.SubscriptionSlots
	// audit serves the restore audit; nil when the restore watch is off.
	audit *report.Archive
}

// snapshot is everything a reload replaces, built whole and never changed: the configuration,
// its authenticator (API keys, JWT settings, tenants) and the HTTP handler with its limits.
type snapshot struct {
	cfg           *config.Config
	handler       http.Handler
	authenticator *authn.Authenticator
	authenticate  httpapi.Authenticator // the handler's (refuses everything without authentication)
	dir           *authn.Directory      // nil without authentication
	refresh       time.Duration         // how often dir re-resolves tenants' organisations
	ctx           context.Context       // the snapshot's lifetime (its JWKS refresh), ended by stop
	stop          context.CancelFunc
	startOnce     sync.Once
}

// start starts the snapshot's background work, once: the tenant directory's refresh, until
// the snapshot is replaced (stop) or the gateway stops.
func (s *snapshot) start() {
	s.startOnce.Do(func() {
		if s.dir != nil {
			go s.dir.Run(s.ctx, s.refresh)
		}
	})
}

// Run starts the gateway's background work and blocks until ctx ends: the health probes
// (Options.HealthInterval), the tenant directory's refresh, the process's River client, the
// watcher and the subscriptions' feed. Then it stops them, the watcher first (releasing its
// leases), the deliveries within 20 s, and closes the store. It fails only when a part cannot
// start, and runs once. The handler serves without Run (queries read VBO directly); what the
// watch keeps moves only while Run runs.
func (g *Gateway) Run(ctx context.Context) error {
	g.runMu.Lock()
	switch {
	case g.ran == nil:
		g.runMu.Unlock()
		return ErrClosed
	case g.cancelRun != nil:
		g.runMu.Unlock()
		return errors.New("app: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	g.cancelRun = cancel
	g.runMu.Unlock()
	defer close(g.ran)
	defer cancel()

	var wg sync.WaitGroup
	if g.opts.HealthInterval > 0 {
		wg.Go(func() { g.Health.Run(ctx) })
	}
	// running is set under reloadMu with the current snapshot's start: a reload either ran
	// before (its snapshot is started here) or after (it starts its own).
	g.reloadMu.Lock()
	g.runMu.Lock()
	g.running = true
	g.runMu.Unlock()
	g.current.Load().start()
	g.reloadMu.Unlock()
	stopped := func() { // a reload during or after the stop starts nothing
		g.runMu.Lock()
		g.running = false
		g.runMu.Unlock()
	}
	if g.Jobs != nil {
		// River's jobs get a context that Run's end does not cancel: Stop below lets running
		// deliveries and report runs finish (within 20 s) instead of cancelling them mid-request.
		if err := g.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
			cancel()
			wg.Wait()
			stopped()
			g.release()
			return fmt.Errorf("jobs: %w", err)
		}
	}
	if g.Watcher != nil {
		wg.Go(func() { g.Watcher.Run(ctx) })
		wg.Go(func() { g.Backend.KeepOrganizations(ctx) }) // archive reads: organisations off the request path
	}
	if g.Feed != nil {
		wg.Go(func() { g.Feed.Run(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	stopped()
	if g.Jobs != nil {
		stopCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		_ = g.Jobs.Stop(stopCtx)
		stop()
	}
	g.release()
	return nil
}

// EndSubscriptions completes every open subscription with RESUBSCRIBE (clients resume by
// position, on this replica or another): a shutdown calls it before it waits for the requests
// in flight, since subscriptions never finish on their own.
func (g *Gateway) EndSubscriptions() {
	if g.Feed != nil {
		g.Feed.CloseAll(resolvers.ErrResubscribe)
	}
}

// ErrClosed: Run after Close (the gateway's store is closed; build another with New).
var ErrClosed = errors.New("app: the gateway is closed")

// release ends the configuration snapshot's background work and closes the store, once.
func (g *Gateway) release() {
	g.closeOnce.Do(func() {
		g.reloadMu.Lock() // no reload swaps the snapshot while it is stopped
		if snap := g.current.Load(); snap != nil {
			snap.stop()
		}
		g.reloadMu.Unlock()
		if g.Store != nil {
			_ = g.Store.Close()
		}
	})
}

// Close stops the gateway: Run's work if it runs (waiting until it has stopped), and the
// store. The handler must not be used afterwards.
func (g *Gateway) Close() {
	g.runMu.Lock()
	cancel, ran := g.cancelRun, g.ran
	g.ran = nil // Run after Close refuses
	g.runMu.Unlock()
	switch {
	case ran == nil: // closed before
	case cancel != nil: // Run started: it stops everything
		cancel()
		<-ran
	default:
		g.release()
	}
}

// Options are the parts of the gateway that do not come from the config file.
type Options struct {
	// Logger receives every log line (default slog.Default()).
	Logger *slog.Logger
	// LogLevel, when set, is the level Reload changes to the config's logLevel.
	LogLevel *slog.LevelVar
	// GraphiQLHeaders pre-fills GraphiQL's headers editor (the demo's admin key; default
	// graphiql.HeadersTemplate, an Authorization header to fill in).
	GraphiQLHeaders string
	// GraphiQLTabs are more GraphiQL tabs, after the examples (the demo's watch rule).
	GraphiQLTabs []graphiql.Tab
	// Tracing, when set, traces requests, GraphQL operations, resolver fields and VBO calls.
	Tracing *telemetry.Tracing
	// Demo allows report schedules with the DEMO period (vbo-gateway --demo).
	Demo bool
	// HealthInterval is how often each server is probed in the background (0: no probes;
	// status then comes from the circuit breakers alone).
	HealthInterval time.Duration
}

// initialResolveTimeout bounds the first attempt at resolving tenants' organisation names, at
// start-up and on reload; whatever is not resolved by then resolves in the background.
const initialResolveTimeout = 5 * time.Second

// New builds the gateway for cfg, every part once and fully configured, and starts none of
// its background work: Run does, Close stops. No VBO server needs to be reachable: tenants'
// organisation names the first attempt (bounded) does not resolve resolve once Run runs. ctx
// bounds what New itself does (opening the store, that first attempt) and the configuration
// snapshots' JWKS refresh (the JWKS client keeps its keys fresh from the moment it exists).
func New(ctx context.Context, cfg *config.Config, opts Options) (*Gateway, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// Defaults are applied here, once; every part below receives effective settings.
	set, err := check(cfg)
	if err != nil {
		return nil, err
	}
	var mx *metrics.Metrics
	if cfg.MetricsEnabled() {
		mx = metrics.New()
	}
	cursors, err := newCursors(cfg.CursorKey, logger)
	if err != nil {
		return nil, err
	}
	fleet, err := newFleet(cfg, set.res, logger, opts.Tracing, mx)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	hopts := health.Options{Interval: opts.HealthInterval, Logger: logger}
	if mx != nil {
		hopts.Observer = mx
	}
	if st != nil { // /readyz tells an archive that stays unwritable (issue 22 item 6)
		hopts.Archive, hopts.ArchiveUnwritableAfter = archiveState(st), cfg.Watch.WithDefaults().UnwritableAfter
	}
	monitor := health.New(fleet, hopts)
	g := &Gateway{Fleet: fleet, Health: monitor, Metrics: mx, Store: st, cursors: cursors, ctx: ctx, opts: opts, logger: logger,
		subscriptions: httpapi.NewSubscriptionSlots(), ran: make(chan struct{})}
	if err := g.build(cfg, set); err != nil {
		if st != nil {
			_ = st.Close()
		}
		return nil, err
	}
	return g, nil
}

// build assembles the parts after the store: backend, watch rules, audit, watcher, River's
// client (the rules and the watcher register their jobs), feed,
// metrics, the first snapshot and the handler.
func (g *Gateway) build(cfg *config.Config, set settings) error {
	backend, err := loaders.NewBackend(lanesOf(g.Fleet), loaders.Config{
		CacheBytes: cfg.Cache.MaxBytes, ListingTTL: cfg.Cache.ListingTTL, ScanBudget: set.lim.MaxSessionsScanned, EventsCounted: set.lim.MaxEventsCounted, Logger: g.logger,
		OrganizationsTTL: organizationsTTL(cfg, g.Store)})
	if err != nil {
		return err
	}
	g.Backend = backend
	var kit *webhookKit
	if g.Store != nil {
		if kit, err = newWebhookKit(cfg); err != nil {
			return err
		}
	}
	rules, err := newWatchRules(g.ctx, g.Store, kit, g.ruleScope, g.logger)
	if err != nil {
		return err
	}
	g.Rules = rules
	if g.audit, err = newAuditArchive(cfg, g.Store); err != nil {
		return err
	}
	if g.Reports, err = g.newReportSchedules(cfg, kit); err != nil {
		return err
	}
	var hook store.Hook
	if rules != nil {
		hook = rules.Hook
	}
	watcher, err := newWatcher(cfg, g.Fleet, g.Store, hook, g.logger)
	if err != nil {
		return err
	}
	g.Watcher = watcher
	var modules []jobs.Module
	if rules != nil {
		modules = append(modules, rules)
	}
	if watcher != nil {
		modules = append(modules, watcher)
	}
	if g.Reports != nil {
		modules = append(modules, g.Reports)
	}
	if g.Restore, g.Downloads, err = newFrontDoor(cfg, g.Fleet, g.Store, watcher, g.logger); err != nil {
		return err
	}
	if g.Restore != nil {
		modules = append(modules, g.Restore)
	}
	if g.Jobs, err = newJobs(g.ctx, cfg, g.Store, g.logger, modules...); err != nil {
		return err
	}
	if watcher != nil {
		if g.Feed, err = watch.NewFeed(g.ctx, watch.FeedOptions{Store: g.Store, Servers: g.Fleet.Names(), Logger: g.logger,
			Retention: cfg.Watch.Retention}); err != nil {
			return err
		}
	}
	if g.Metrics != nil {
		extra := []prometheus.Collector{metrics.SubscriptionsOpen(g.subscriptions.Open)}
		if watcher != nil {
			extra = append(extra, watcher.Collector())
		}
		if rules != nil {
			extra = append(extra, rules.Collector())
		}
		if g.Store != nil {
			st := g.Store
			extra = append(extra, metrics.Archive(func() metrics.ArchiveSnapshot {
				ws := st.WriteState()
				return metrics.ArchiveSnapshot{Driver: ws.Driver, Writable: ws.Writable, Failures: ws.Failures}
			}))
		}
		g.Metrics.Register(g.Fleet, g.Health.Health, backend.CacheStats, extra...)
	}
	if g.Console, err = g.newConsole(cfg); err != nil {
		return err
	}
	snap, err := g.snapshot(cfg, set, nil)
	if err != nil {
		return err
	}
	g.current.Store(snap)
	g.Authenticator = snap.authenticator
	g.Handler = telemetry.HTTP{Tracing: g.opts.Tracing, Logger: g.logger}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.current.Load().handler.ServeHTTP(w, r)
	}))
	return nil
}

// openStore opens the store when the restore watch is on (nil otherwise).
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*store.Store, error) {
	if !cfg.Watch.Enabled {
		return nil, nil
	}
	st, err := store.Open(ctx, store.Options{Driver: cfg.Store.Driver, Path: cfg.Store.Path, DSN: cfg.Store.DSN(), Logger: logger})
	if err != nil {
		return nil, err
	}
	logger.Info("store open", "driver", st.Driver())
	return st, nil
}

// archiveState adapts the store's writability to the health monitor's.
func archiveState(st *store.Store) func() health.ArchiveState {
	return func() health.ArchiveState {
		ws := st.WriteState()
		return health.ArchiveState{Driver: ws.Driver, Writable: ws.Writable, Since: ws.Since, Cause: ws.Cause}
	}
}

// newWatcher builds the restore watch over every server (nil when it is off).
func newWatcher(cfg *config.Config, fleet *upstream.Fleet, st *store.Store, hook store.Hook, logger *slog.Logger) (*watch.Watcher, error) {
	if st == nil {
		return nil, nil
	}
	w := cfg.Watch.WithDefaults()
	if err := w.Validate(); err != nil {
		return nil, err
	}
	// Each server's own account (servers[].username): VBO records it as initiatedBy of every
	// session the gateway opens (a START whose answer was lost is matched by it, see
	// watch.Attributions.Claim).
	accounts := make(map[string]string, len(cfg.Servers))
	for _, s := range cfg.Servers {
		accounts[s.Name] = s.Username
	}
	var servers []watch.Server
	for _, c := range fleet.Clients() {
		servers = append(servers, watch.Server{Name: c.Name(), Source: c, Account: accounts[c.Name()]})
	}
	// The watcher joins the restore front door's log to every session it archives (who
	// started it through the gateway); with the front door off the log is empty and every
	// session is outside the gateway.
	log, err := actionlog.New(st)
	if err != nil {
		return nil, err
	}
	return watch.New(watch.Options{Store: st, Servers: servers, Interval: w.Interval, Overlap: w.Overlap,
		Backfill: w.Backfill, BackfillConcurrency: w.BackfillConcurrency, MaxEventsPerPoll: w.MaxEventsPerPoll,
		Retention: w.Retention, Hook: hook, Logger: logger, Attributions: logAttributions{log},
		Sweep: watch.Sweep{Interval: w.Sweep.Interval, Window: w.Sweep.Window, MaxCalls: w.Sweep.MaxCalls}})
}

// settings are the effective, validated settings a snapshot is built from: limits and
// resilience with their defaults, the persisted-query manifest and the trusted proxies.
type settings struct {
	lim       config.Limits
	res       config.Resilience
	persisted map[string]string
	proxies   []netip.Prefix
}

// settingsOf derives and validates cfg's settings (what Reload refuses before building a
// snapshot; the manifest file is read here, once per New or Reload).
func settingsOf(cfg *config.Config) (settings, error) {
	set := settings{lim: cfg.Limits.WithDefaults(), res: cfg.Resilience.WithDefaults()}
	if err := set.lim.Validate(); err != nil {
		return settings{}, err
	}
	if err := set.res.Validate(); err != nil {
		return settings{}, err
	}
	var err error
	if set.persisted, err = set.lim.PersistedQueries.LoadManifest(os.ReadFile); err != nil {
		return settings{}, err
	}
	if set.proxies, err = cfg.HTTP.Proxies(); err != nil {
		return settings{}, err
	}
	return set, nil
}

// Check validates what New and Reload would refuse without contacting any server: limits,
// resilience and HTTP settings, the persisted-query manifest and the log level (vbo-gateway
// --check-config).
func Check(cfg *config.Config) error {
	_, err := check(cfg)
	return err
}

// check is Check, returning the settings New builds from. Its errors name the file and line
// of the key at fault where the configuration was read from one (config.Locate): at start-up,
// on reload and under --check-config alike.
func check(cfg *config.Config) (settings, error) {
	set, err := settingsOf(cfg)
	if err != nil {
		return settings{}, cfg.Locate(err)
	}
	if err := cfg.HTTP.WithDefaults().Validate(set.res.RequestTimeout); err != nil {
		return settings{}, cfg.Locate(err)
	}
	if cfg.LogLevel != "" {
		if _, err := telemetry.ParseLevel(cfg.LogLevel); err != nil {
			return settings{}, cfg.Locate(fmt.Errorf("logLevel: %w", err))
		}
	}
	return set, nil
}

// snapshot makes a snapshot of cfg's reloadable parts from its settings (settingsOf). prev
// (nil at start-up) lends its resolved organisation names, so a reload shows tenants nothing
// less while names re-resolve.
func (g *Gateway) snapshot(cfg *config.Config, set settings, prev *snapshot) (*snapshot, error) {
	lim, res, persisted, proxies := set.lim, set.res, set.persisted, set.proxies
	sctx, stop := context.WithCancel(g.ctx)
	var prevDir *authn.Directory
	if prev != nil {
		prevDir = prev.dir
	}
	authenticator, authenticate, dir, err := newAuthenticator(sctx, cfg, g.Fleet, g.logger, prevDir)
	if err != nil {
		stop()
		return nil, err
	}
	hopts := httpapi.Options{
		Backend: g.Backend, Logger: g.logger, Introspection: cfg.IntrospectionEnabled(),
		Authenticate: authenticate, GraphiQLHeaders: cmp.Or(g.opts.GraphiQLHeaders, graphiql.HeadersTemplate), GraphiQLTabs: g.opts.GraphiQLTabs, NoGraphiQL: !cfg.GraphiQLEnabled(),
		Limits: lim, RequestTimeout: res.RequestTimeout, Persisted: persisted,
		ServerStatus: fleetStatus(g.Health), Readiness: g.Health.Handler(), TrustedProxies: proxies,
		Cursors: g.cursors, KnownOrganizations: knownOrganizations(g.Fleet), Subscriptions: g.subscriptions,
		// Websocket operations authenticate with the configuration in force, whichever snapshot
		// accepted their connection.
		CurrentAuthenticate: func(r *http.Request) (*auth.Principal, error) { return g.current.Load().authenticate(r) },
	}
	if g.Watcher != nil {
		hopts.Watch, hopts.Feed = g.Watcher, g.Feed
		hopts.Reads = archiveReads(cfg, g.Store)
	}
	if g.Downloads != nil {
		hopts.Downloads = g.Downloads
	}
	hopts.Console = g.consoleHandler()
	withWatchRules(&hopts, g.Rules, g.Reports, g.audit, g.tenantScope, g.tenantOf, g.logger)
	if g.Restore != nil {
		hopts.Restore = g.Restore
	}
	if g.Metrics != nil {
		hopts.Metrics = g.Metrics
		hopts.Extensions = telemetry.GraphQLExtensions(g.opts.Tracing, g.Metrics)
	} else {
		hopts.Extensions = telemetry.GraphQLExtensions(g.opts.Tracing, nil)
	}
	h, err := httpapi.New(hopts)
	if err != nil {
		stop()
		return nil, err
	}
	return &snapshot{cfg: cfg, handler: h, authenticator: authenticator, authenticate: authenticate, dir: dir,
		refresh: cfg.Auth.TenantRefresh, ctx: sctx, stop: stop}, nil
}

// Reload outcomes (the config_reloads_total metric).
const (
	ReloadOK      = "ok"
	ReloadInvalid = "invalid"
)

// ErrServersChanged: a reload cannot add, remove or change VBO servers (restart for that).
var ErrServersChanged = errors.New("the servers section changed: restart the gateway to apply it (reload keeps the running configuration)")

// Reload replaces tenants, API keys, JWT settings, limits and the log level with those of the
// configuration load returns, atomically: requests in flight finish with the configuration
// they started with, later ones get the new one, none is dropped. If load fails or the new
// configuration is invalid, the running one stays and the error says why (also logged, and
// counted as config_reloads_total{outcome="invalid"}).
func (g *Gateway) Reload(load func() (*config.Config, error)) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	err := g.reload(load)
	outcome := ReloadOK
	if err != nil {
		outcome = ReloadInvalid
		g.logger.Error("configuration reload refused; the running configuration stays", "err", err)
	}
	if g.Metrics != nil {
		g.Metrics.ObserveReload(outcome)
	}
	return err
}

func (g *Gateway) reload(load func() (*config.Config, error)) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	old := g.current.Load()
	if !sameServers(old.cfg.Servers, cfg.Servers) {
		return ErrServersChanged
	}
	var level slog.Level
	if cfg.LogLevel != "" {
		if level, err = telemetry.ParseLevel(cfg.LogLevel); err != nil {
			return err
		}
	}
	set, err := settingsOf(cfg)
	if err != nil {
		return err
	}
	snap, err := g.snapshot(cfg, set, old)
	if err != nil {
		return err
	}
	g.current.Store(snap)
	g.runMu.Lock()
	if g.running {
		snap.start()
	}
	g.runMu.Unlock()
	old.stop() // the old directory's refresh and JWKS refresh; requests in flight are unaffected
	if g.Feed != nil {
		// Subscriptions run with the credentials and scope they started with: end them, so
		// each client subscribes again (with since) under the new configuration.
		g.Feed.CloseAll(resolvers.ErrResubscribe)
	}
	if cfg.LogLevel != "" && g.opts.LogLevel != nil {
		g.opts.LogLevel.Set(level)
	}
	if old.cfg.Listen != cfg.Listen || old.cfg.Cache != cfg.Cache || old.cfg.Resilience != cfg.Resilience ||
		old.cfg.MaxConcurrencyPerServer != cfg.MaxConcurrencyPerServer || old.cfg.MetricsEnabled() != cfg.MetricsEnabled() {
		g.logger.Warn("listen, cache, resilience, maxConcurrencyPerServer and metrics changes apply at the next restart")
	}
	g.logger.Info("configuration reloaded", "tenants", len(cfg.Tenants), "keys", len(cfg.Auth.APIKeys), "oidc", cfg.Auth.JWT != nil)
	return nil
}

// sameServers reports whether two server lists configure the same clients.
func sameServers(a, b []config.VBOServer) bool {
	return slices.EqualFunc(a, b, func(x, y config.VBOServer) bool {
		return x.Name == y.Name && x.URL == y.URL && x.APIVersion == y.APIVersion && x.Username == y.Username &&
			x.Password() == y.Password() && x.TLS == y.TLS
	})
}

// newCursors seals cursors with the configured secret, else with a key drawn for this process.
func newCursors(k config.CursorKey, logger *slog.Logger) (*gid.Cursors, error) {
	if k.Secret() == nil {
		logger.Info("no cursorKey configured: cursors are sealed with a key drawn at start; they expire at a restart and open only on this replica")
		return gid.NewRandomCursors(), nil
	}
	return gid.NewCursors(k.Secret())
}

// newFleet builds one fully configured client per configured VBO server, each with an
// instrumented transport.
func newFleet(cfg *config.Config, res config.Resilience, logger *slog.Logger, tracing *telemetry.Tracing, mx *metrics.Metrics) (*upstream.Fleet, error) {
	clients := make([]*upstream.Client, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		instr := telemetry.Upstream{Server: s.Name, Tracing: tracing, Logger: logger}
		if mx != nil {
			instr.Observer = mx
		}
		c, err := upstream.NewClient(s.URL, upstream.ClientOptions{
			Name: s.Name, APIVersion: s.APIVersion, Username: s.Username, Password: s.Password(),
			TLS:            s.TLS,
			Timeouts:       upstream.Timeouts{Connect: res.ConnectTimeout, ResponseHeader: res.ResponseTimeout, Attempt: res.ResponseTimeout, Idle: res.ResponseIdleTimeout},
			Retry:          upstream.RetryPolicy{MaxAttempts: res.RetryAttempts, BaseDelay: res.RetryBaseDelay, MaxDelay: res.RetryMaxDelay, MaxRetryAfter: res.RetryMaxRetryAfter},
			Breaker:        &upstream.BreakerSettings{Failures: res.BreakerFailures, Cooldown: res.BreakerCooldown},
			MaxConcurrency: cfg.MaxConcurrencyPerServer,
			Logger:         logger,
			WrapTransport:  instr.Wrap,
		})
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	return upstream.NewFleet(clients...)
}

// newAuthenticator returns the request authenticator and the tenant directory behind it. The
// directory resolves organisation names in the background: a first bounded attempt here, the
// rest retried (until then the tenant's requests report those servers as unavailable), so no
// VBO server is needed to start. With no JWT and no API keys configured every query is refused:
// the gateway never serves anonymously.
func newAuthenticator(ctx context.Context, cfg *config.Config, fleet *upstream.Fleet, logger *slog.Logger, prev *authn.Directory) (*authn.Authenticator, httpapi.Authenticator, *authn.Directory, error) {
	if cfg.Auth.JWT == nil && len(cfg.Auth.APIKeys) == 0 {
		logger.Warn("no authentication configured (auth.jwt / auth.apiKeys): every query will be refused")
		return nil, func(*http.Request) (*auth.Principal, error) {
			return nil, errors.New("no authentication configured")
		}, nil, nil
	}
	list := func(ctx context.Context, server string) ([]upstream.Organization, error) {
		c, ok := fleet.Get(server)
		if !ok {
			return nil, fmt.Errorf("unknown server %q", server)
		}
		return c.Organizations(ctx)
	}
	// Never refuse to start over an organisation: unresolved names are retried and reported.
	dir := authn.NewDirectory(cfg.Tenants, list, true, logger)
	dir.ResolveOffline(prev)
	rctx, cancel := context.WithTimeout(ctx, initialResolveTimeout)
	_ = dir.Refresh(rctx) // with allowMissing it only logs what is still pending
	cancel()
	a, err := authn.NewAuthenticator(ctx, cfg.Auth, dir, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return a, a.Authenticate, dir, nil
}

// lanesOf lists the fleet's servers for the loaders.
func lanesOf(fleet *upstream.Fleet) []loaders.VBOServer {
	var out []loaders.VBOServer
	for _, c := range fleet.Clients() {
		out = append(out, loaders.VBOServer{Name: c.Name(), APIVersion: c.APIVersion(), Client: c})
	}
	return out
}

// knownOrganizations is each server's organisation count when last listed (query cost).
func knownOrganizations(fleet *upstream.Fleet) func(string) (int, bool) {
	return func(name string) (int, bool) {
		c, ok := fleet.Get(name)
		if !ok {
			return 0, false
		}
		return c.KnownOrganizations()
	}
}

// fleetStatus maps each server's health (probe and circuit breaker) to servers { status }:
// up -> UP, half-open breaker -> DEGRADED, open breaker or failing probe -> DOWN.
func fleetStatus(monitor *health.Monitor) resolvers.StatusFunc {
	return func(name string) model.ServerStatus {
		switch monitor.Health(name) {
		case upstream.HealthDegraded:
			return model.ServerStatusDegraded
		case upstream.HealthDown:
			return model.ServerStatusDown
		}
		return model.ServerStatusUp
	}
}
