// Package gateway wires a configuration into a running gateway: fleet, backend, HTTP handler.
// cmd/vbo-gateway, the demo, the tests and the benchmark all build the gateway through New.
package gateway

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/resolvers/metrics"
	"github.com/vbo-gateway/vbo-gateway/resolvers/server"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Gateway is an assembled gateway.
type Gateway struct {
	Handler http.Handler
	Backend *loaders.Backend
	Fleet   *upstream.Fleet
}

// Options are the parts of the gateway that do not come from the config file.
type Options struct {
	Logger *slog.Logger
	// Authenticate identifies callers; nil accepts every caller as provider admin (demo only).
	Authenticate server.Authenticator
	// GraphiQLHeaders pre-fills GraphiQL's headers editor.
	GraphiQLHeaders string
}

// New builds the gateway for cfg.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
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
	fleet, err := cfg.Fleet(logger)
	if err != nil {
		return nil, err
	}
	// Resilience: per-server timeouts, retries of idempotent calls, a circuit breaker.
	for _, c := range fleet.Clients() {
		if err := c.Configure(
			upstream.WithTimeouts(res.ConnectTimeout, res.ResponseTimeout),
			upstream.WithRetry(upstream.RetryPolicy{MaxAttempts: res.RetryAttempts, BaseDelay: res.RetryBaseDelay,
				MaxDelay: res.RetryMaxDelay, MaxRetryAfter: res.RetryMaxRetryAfter}),
			upstream.WithBreaker(upstream.BreakerSettings{Failures: res.BreakerFailures, Cooldown: res.BreakerCooldown}),
		); err != nil {
			return nil, err
		}
	}
	var servers []loaders.Server
	for _, c := range fleet.Clients() {
		servers = append(servers, loaders.Server{Name: c.Name(), APIVersion: c.APIVersion(), Client: c})
	}
	backend, err := loaders.NewBackend(servers, loaders.Config{
		CacheBytes: cfg.Cache.MaxBytes, ListingTTL: cfg.Cache.ListingTTL, ScanBudget: lim.MaxSessionsScanned, Logger: logger})
	if err != nil {
		return nil, err
	}
	var mx *metrics.Metrics
	if cfg.MetricsEnabled() {
		mx = metrics.New(fleet, backend.CacheStats)
	}
	h := server.New(server.Options{
		Backend: backend, Logger: logger, Introspection: cfg.IntrospectionEnabled(),
		Authenticate: opts.Authenticate, GraphiQLHeaders: opts.GraphiQLHeaders, NoGraphiQL: !cfg.GraphiQLEnabled(),
		Limits: lim, RequestTimeout: res.RequestTimeout, Persisted: persisted,
		ServerStatus: fleetStatus(fleet), Metrics: mx,
	})
	return &Gateway{Handler: h, Backend: backend, Fleet: fleet}, nil
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
