// Package app is the gateway's composition root: it turns a configuration into a running
// gateway, building each part once, fully configured, in one order:
//
//	config -> fleet (VBO clients) -> store -> authenticator -> backend (loaders) -> watcher -> HTTP handler
//
// The store and the watcher exist only when the restore watch is on (watch.enabled).
// cmd/vbo-gateway, the tests and the benchmark all build the gateway through New.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/authn"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/httpapi"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/metrics"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/watch"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Gateway is an assembled gateway.
type Gateway struct {
	Handler       http.Handler
	Backend       *loaders.Backend
	Fleet         *upstream.Fleet
	Authenticator *authn.Authenticator // nil when no authentication is configured (every query refused)
	Store         *store.Store         // nil when the restore watch is off
	Watcher       *watch.Watcher       // nil when the restore watch is off

	closeOnce sync.Once
	stop      func() // stops the background work and closes the store
}

// Close stops the watcher (releasing its leases) and closes the store. The gateway's handler
// must not be used afterwards. Ending New's ctx does the same.
func (g *Gateway) Close() {
	g.closeOnce.Do(func() {
		if g.stop != nil {
			g.stop()
		}
	})
}

// Options are the parts of the gateway that do not come from the config file.
type Options struct {
	// Logger receives every log line (default slog.Default()).
	Logger *slog.Logger
	// GraphiQLHeaders pre-fills GraphiQL's headers editor (the demo's admin key).
	GraphiQLHeaders string
}

// New builds the gateway for cfg. Background work (the tenant directory's refresh) runs until
// ctx ends.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Gateway, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// Defaults are applied here, once; every part below receives effective settings.
	lim := cfg.Limits.WithDefaults()
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	res := cfg.Resilience.WithDefaults()
	if err := res.Validate(); err != nil {
		return nil, err
	}
	persisted, err := lim.PersistedQueries.LoadManifest(os.ReadFile)
	if err != nil {
		return nil, err
	}
	proxies, err := cfg.HTTP.Proxies()
	if err != nil {
		return nil, err
	}
	cursors, err := newCursors(cfg.CursorKey, logger)
	if err != nil {
		return nil, err
	}
	fleet, err := newFleet(cfg, res, logger)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	g, err := build(ctx, cfg, opts, logger, settings{lim: lim, res: res, persisted: persisted, proxies: proxies, cursors: cursors}, fleet, st)
	if err != nil {
		if st != nil {
			_ = st.Close()
		}
		return nil, err
	}
	return g, nil
}

// settings are the effective settings New derived from the config.
type settings struct {
	lim       config.Limits
	res       config.Resilience
	persisted map[string]string
	proxies   []netip.Prefix
	cursors   *gid.Cursors
}

// build assembles the parts after the store, and starts the watcher.
func build(ctx context.Context, cfg *config.Config, opts Options, logger *slog.Logger, set settings, fleet *upstream.Fleet, st *store.Store) (*Gateway, error) {
	lim, res, persisted, proxies, cursors := set.lim, set.res, set.persisted, set.proxies, set.cursors
	authenticator, authenticate, err := newAuthenticator(ctx, cfg, fleet, logger)
	if err != nil {
		return nil, err
	}
	backend, err := loaders.NewBackend(lanesOf(fleet), loaders.Config{
		CacheBytes: cfg.Cache.MaxBytes, ListingTTL: cfg.Cache.ListingTTL, ScanBudget: lim.MaxSessionsScanned, Logger: logger})
	if err != nil {
		return nil, err
	}
	watcher, err := newWatcher(cfg, fleet, st, logger)
	if err != nil {
		return nil, err
	}
	var mx *metrics.Metrics
	if cfg.MetricsEnabled() {
		var extra []prometheus.Collector
		if watcher != nil {
			extra = append(extra, watcher.Collector())
		}
		mx = metrics.New(fleet, backend.CacheStats, extra...)
	}
	hopts := httpapi.Options{
		Backend: backend, Logger: logger, Introspection: cfg.IntrospectionEnabled(),
		Authenticate: authenticate, GraphiQLHeaders: opts.GraphiQLHeaders, NoGraphiQL: !cfg.GraphiQLEnabled(),
		Limits: lim, RequestTimeout: res.RequestTimeout, Persisted: persisted,
		ServerStatus: fleetStatus(fleet), Metrics: mx, TrustedProxies: proxies, Cursors: cursors,
	}
	if watcher != nil {
		hopts.Watch = watcher
	}
	h, err := httpapi.New(hopts)
	if err != nil {
		return nil, err
	}
	g := &Gateway{Handler: h, Backend: backend, Fleet: fleet, Authenticator: authenticator, Store: st, Watcher: watcher}
	if st != nil {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if watcher != nil {
				watcher.Run(runCtx)
			}
		}()
		g.stop = func() {
			cancel()
			<-done
			_ = st.Close()
		}
		go func() {
			<-ctx.Done()
			g.Close()
		}()
	}
	return g, nil
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

// newWatcher builds the restore watch over every server (nil when it is off).
func newWatcher(cfg *config.Config, fleet *upstream.Fleet, st *store.Store, logger *slog.Logger) (*watch.Watcher, error) {
	if st == nil {
		return nil, nil
	}
	w := cfg.Watch.WithDefaults()
	if err := w.Validate(); err != nil {
		return nil, err
	}
	var servers []watch.Server
	for _, c := range fleet.Clients() {
		servers = append(servers, watch.Server{Name: c.Name(), Source: c})
	}
	return watch.New(watch.Options{Store: st, Servers: servers, Interval: w.Interval, Overlap: w.Overlap,
		Backfill: w.Backfill, BackfillConcurrency: w.BackfillConcurrency, MaxEventsPerPoll: w.MaxEventsPerPoll,
		Retention: w.Retention, Logger: logger})
}

// newCursors seals cursors with the configured secret, else with a key drawn for this process.
func newCursors(k config.CursorKey, logger *slog.Logger) (*gid.Cursors, error) {
	if k.Secret() == nil {
		logger.Info("no cursorKey configured: cursors are sealed with a key drawn at start; they expire at a restart and open only on this replica")
		return gid.NewRandomCursors(), nil
	}
	return gid.NewCursors(k.Secret())
}

// newFleet builds one fully configured client per configured VBO server.
func newFleet(cfg *config.Config, res config.Resilience, logger *slog.Logger) (*upstream.Fleet, error) {
	clients := make([]*upstream.Client, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		c, err := upstream.NewClient(s.URL, upstream.ClientOptions{
			Name: s.Name, APIVersion: s.APIVersion, Username: s.Username, Password: s.Password(),
			TLS:            s.TLS,
			Timeouts:       upstream.Timeouts{Connect: res.ConnectTimeout, ResponseHeader: res.ResponseTimeout, Attempt: res.ResponseTimeout, Idle: res.ResponseIdleTimeout},
			Retry:          upstream.RetryPolicy{MaxAttempts: res.RetryAttempts, BaseDelay: res.RetryBaseDelay, MaxDelay: res.RetryMaxDelay, MaxRetryAfter: res.RetryMaxRetryAfter},
			Breaker:        &upstream.BreakerSettings{Failures: res.BreakerFailures, Cooldown: res.BreakerCooldown},
			MaxConcurrency: cfg.MaxConcurrencyPerServer,
			Logger:         logger,
		})
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	return upstream.NewFleet(clients...)
}

// newAuthenticator resolves the tenants' organisations through the fleet and returns the
// request authenticator. With no JWT and no API keys configured every query is refused: the
// gateway never serves anonymously.
func newAuthenticator(ctx context.Context, cfg *config.Config, fleet *upstream.Fleet, logger *slog.Logger) (*authn.Authenticator, httpapi.Authenticator, error) {
	if cfg.Auth.JWT == nil && len(cfg.Auth.APIKeys) == 0 {
		logger.Warn("no authentication configured (auth.jwt / auth.apiKeys): every query will be refused")
		return nil, func(*http.Request) (*auth.Principal, error) {
			return nil, errors.New("no authentication configured")
		}, nil
	}
	list := func(ctx context.Context, server string) ([]upstream.Organization, error) {
		c, ok := fleet.Get(server)
		if !ok {
			return nil, fmt.Errorf("unknown server %q", server)
		}
		return c.Organizations(ctx)
	}
	dir := authn.NewDirectory(cfg.Tenants, list, cfg.Auth.AllowMissing, logger)
	if err := dir.Refresh(ctx); err != nil {
		return nil, nil, fmt.Errorf("resolve tenants' organisations (set auth.allowMissing or --allow-missing to start anyway): %w", err)
	}
	go dir.Run(ctx, cfg.Auth.TenantRefresh)
	a, err := authn.NewAuthenticator(ctx, cfg.Auth, dir, logger)
	if err != nil {
		return nil, nil, err
	}
	return a, a.Authenticate, nil
}

// lanesOf lists the fleet's servers for the loaders.
func lanesOf(fleet *upstream.Fleet) []loaders.VBOServer {
	var out []loaders.VBOServer
	for _, c := range fleet.Clients() {
		out = append(out, loaders.VBOServer{Name: c.Name(), APIVersion: c.APIVersion(), Client: c})
	}
	return out
}

// fleetStatus maps each server's circuit breaker to servers { status }: closed -> UP,
// half-open -> DEGRADED, open -> DOWN.
func fleetStatus(fleet *upstream.Fleet) resolvers.StatusFunc {
	return func(name string) model.ServerStatus {
		c, ok := fleet.Get(name)
		if !ok {
			return model.ServerStatusDown
		}
		switch c.Health() {
		case upstream.HealthDegraded:
			return model.ServerStatusDegraded
		case upstream.HealthDown:
			return model.ServerStatusDown
		}
		return model.ServerStatusUp
	}
}
