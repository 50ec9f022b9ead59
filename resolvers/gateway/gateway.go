// Package gateway wires a configuration into a running gateway: fleet, backend, HTTP handler.
// cmd/vbo-gateway, the demo, the tests and the benchmark all build the gateway through New.
package gateway

import (
	"log/slog"
	"net/http"

	"github.com/vbo-gateway/vbo-gateway/resolvers/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
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
	fleet, err := cfg.Fleet(logger)
	if err != nil {
		return nil, err
	}
	var servers []loaders.Server
	for _, c := range fleet.Clients() {
		servers = append(servers, loaders.Server{Name: c.Name(), APIVersion: c.APIVersion(), Client: c})
	}
	backend, err := loaders.NewBackend(servers, loaders.Config{
		CacheBytes: cfg.Cache.MaxBytes, ListingTTL: cfg.Cache.ListingTTL, Logger: logger})
	if err != nil {
		return nil, err
	}
	h := server.New(server.Options{
		Backend: backend, Logger: logger, Introspection: cfg.IntrospectionEnabled(),
		Authenticate: opts.Authenticate, GraphiQLHeaders: opts.GraphiQLHeaders,
	})
	return &Gateway{Handler: h, Backend: backend, Fleet: fleet}, nil
}
