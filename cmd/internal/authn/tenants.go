package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// OrgLister lists a server's organisations (the directory resolves names through it).
type OrgLister func(ctx context.Context, server string) ([]upstream.Organization, error)

// Directory maps tenants to the organisations they own, resolving organisations named by name
// to their upstream ids at start-up and on every refresh.
type Directory struct {
	tenants      []config.Tenant
	list         OrgLister
	allowMissing bool
	logger       *slog.Logger

	mu       sync.RWMutex
	resolved map[string][]auth.OrgRef
	byName   map[auth.OrgRef]string // (server, lower-case name) -> lower-case id, as last resolved
}

// NewDirectory returns a directory; call Refresh before use.
func NewDirectory(tenants []config.Tenant, list OrgLister, allowMissing bool, logger *slog.Logger) *Directory {
	if logger == nil {
		logger = slog.Default()
	}
	return &Directory{tenants: tenants, list: list, allowMissing: allowMissing, logger: logger, resolved: map[string][]auth.OrgRef{}}
}

// Refresh resolves every tenant's organisations. Unknown servers or organisations are an error
// unless allowMissing, in which case they are logged and left out until a later refresh finds
// them. On error the previous mapping stays in force.
func (d *Directory) Refresh(ctx context.Context) error {
	orgsByServer := map[string][]upstream.Organization{}
	unreachable := map[string]bool{}
	var problems []error
	for _, t := range d.tenants {
		for _, o := range t.Organizations {
			if _, done := orgsByServer[o.Server]; done || o.ID != "" {
				continue
			}
			orgs, err := d.list(ctx, o.Server)
			if err != nil {
				problems = append(problems, fmt.Errorf("tenant %s: list organisations of %s: %w", t.ID, o.Server, err))
				orgsByServer[o.Server] = nil
				unreachable[o.Server] = true
				continue
			}
			orgsByServer[o.Server] = orgs
		}
	}
	d.mu.RLock()
	previous := d.byName
	d.mu.RUnlock()
	byName := map[auth.OrgRef]string{}
	resolved := map[string][]auth.OrgRef{}
	for _, t := range d.tenants {
		refs := []auth.OrgRef{}
		for _, o := range t.Organizations {
			if o.ID != "" {
				refs = append(refs, auth.OrgRef{Server: o.Server, OrgID: strings.ToLower(o.ID)})
				continue
			}
			id := ""
			for _, uo := range orgsByServer[o.Server] {
				if strings.EqualFold(uo.Name, o.Name) {
					id = uo.ID
					break
				}
			}
			key := auth.OrgRef{Server: o.Server, OrgID: strings.ToLower(o.Name)}
			if id == "" && unreachable[o.Server] {
				// The listing failed (already reported): keep what the last refresh resolved
				// rather than dropping the organisation on a transient error.
				id = previous[key]
			} else if id == "" {
				problems = append(problems, fmt.Errorf("tenant %s: no organisation named %q on server %s", t.ID, o.Name, o.Server))
			}
			if id == "" {
				continue
			}
			if prev := previous[key]; prev != "" && !strings.EqualFold(prev, id) {
				// The name now belongs to another organisation (deleted and re-created, or a
				// rename onto it): it may be another customer's. Keep the organisation the
				// tenant was given; the operator confirms a change by configuring its id.
				d.logger.ErrorContext(ctx, "tenant organisation name now resolves to a different organisation; keeping the old one (configure the id to change it)",
					"tenant", t.ID, "server", o.Server, "name", o.Name, "old_id", prev, "new_id", id)
				id = prev
			}
			byName[key] = strings.ToLower(id)
			refs = append(refs, auth.OrgRef{Server: o.Server, OrgID: strings.ToLower(id)})
		}
		resolved[t.ID] = refs
	}
	err := errors.Join(problems...)
	if err != nil && !d.allowMissing {
		return err
	}
	if err != nil {
		d.logger.WarnContext(ctx, "tenant organisations not resolved (allowMissing)", "err", err)
	}
	d.mu.Lock()
	d.resolved, d.byName = resolved, byName
	d.mu.Unlock()
	return nil
}

// Run refreshes every interval until ctx ends.
func (d *Directory) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.Refresh(ctx); err != nil {
				d.logger.WarnContext(ctx, "tenant refresh failed; keeping the previous mapping", "err", err)
			}
		}
	}
}

// Orgs returns a tenant's organisations.
func (d *Directory) Orgs(tenant string) ([]auth.OrgRef, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	refs, ok := d.resolved[tenant]
	return refs, ok
}
