package app

import (
	"errors"
	"net/http"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/console"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// newConsole builds the auditor's console when the configuration signs anybody in and the
// store is open (config requires the watch for it); nil otherwise.
func (g *Gateway) newConsole(cfg *config.Config) (*console.Console, error) {
	if !cfg.Console.Enabled() || g.Store == nil {
		return nil, nil
	}
	issuer := ""
	if cfg.Auth.JWT != nil {
		issuer = cfg.Auth.JWT.Issuer
	}
	opts := console.Options{Store: g.Store, Authority: consoleAuthority{g}, Logger: g.logger,
		Config: cfg.Console, Issuer: issuer}
	if g.Metrics != nil { // a nil *metrics.Metrics in the interface would not read as nil
		opts.Metrics = g.Metrics
	}
	return console.New(opts)
}

// consoleHandler mounts the console on a snapshot's handler (nil without a console).
func (g *Gateway) consoleHandler() func(http.Handler) http.Handler {
	if g.Console == nil {
		return nil
	}
	return g.Console.Handler
}

// consoleAuthority answers the console with the configuration in force now (the snapshot
// current at each call), so a reload that removes a key or a tenant ends its sessions.
type consoleAuthority struct{ g *Gateway }

var errNoAuth = errors.New("no authentication configured")

func (a consoleAuthority) APIKey(key string) (*auth.Principal, error) {
	snap := a.g.current.Load()
	if snap == nil || snap.authenticator == nil {
		return nil, errNoAuth
	}
	r := &http.Request{Header: http.Header{"X-Api-Key": {key}}}
	return snap.authenticator.Authenticate(r)
}

func (a consoleAuthority) Claims(claims map[string]any) (*auth.Principal, error) {
	snap := a.g.current.Load()
	if snap == nil || snap.authenticator == nil {
		return nil, errNoAuth
	}
	return snap.authenticator.ClaimsPrincipal(claims)
}

func (a consoleAuthority) Current(subject, tenant string, role auth.Role, authTime time.Time) (*auth.Principal, error) {
	snap := a.g.current.Load()
	if snap == nil || snap.authenticator == nil {
		return nil, errNoAuth
	}
	return snap.authenticator.Current(subject, tenant, role, authTime)
}

func (a consoleAuthority) TenantView(admin *auth.Principal, tenant string) (*auth.Principal, bool) {
	if !admin.IsAdmin() {
		return nil, false
	}
	p, ok := a.g.tenantScope(tenant)
	if !ok {
		return nil, false
	}
	p.Subject = admin.Subject // the admin still asks (logs, per-caller limits)
	return p, true
}

func (a consoleAuthority) Tenants() []string {
	snap := a.g.current.Load()
	if snap == nil {
		return nil
	}
	out := make([]string, 0, len(snap.cfg.Tenants))
	for _, t := range snap.cfg.Tenants {
		out = append(out, t.ID)
	}
	return out
}
