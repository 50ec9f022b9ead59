package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/server"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// buildAuth resolves the tenants' organisations and returns the request authenticator. With no
// JWT and no API keys configured every query is refused: the gateway never serves anonymously.
func buildAuth(ctx context.Context, cfg *config.Config, fleet *upstream.Fleet, logger *slog.Logger) (server.Authenticator, error) {
	if cfg.Auth.JWT == nil && len(cfg.Auth.APIKeys) == 0 {
		logger.Warn("no authentication configured (auth.jwt / auth.apiKeys): every query will be refused")
		return func(*http.Request) (*auth.Principal, error) {
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
	dir := auth.NewDirectory(cfg.Tenants, list, cfg.Auth.AllowMissing, logger)
	if err := dir.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("resolve tenants' organisations (set auth.allowMissing or --allow-missing to start anyway): %w", err)
	}
	go dir.Run(ctx, cfg.Auth.TenantRefresh)
	a, err := auth.NewAuthenticator(ctx, cfg.Auth, dir, logger)
	if err != nil {
		return nil, err
	}
	return a.Authenticate, nil
}
