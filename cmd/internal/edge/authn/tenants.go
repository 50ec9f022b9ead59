package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
// to their upstream ids in the background (Run) and on every refresh. An organisation not
// resolved yet (its server is down, or has no organisation of that name) is pending: the
// tenant's requests report its server as unavailable instead of silently showing less.
type Directory struct {
	tenants      []config.Tenant
	list         OrgLister
	allowMissing bool
	logger       *slog.Logger

	mu       sync.RWMutex
	resolved map[string][]auth.OrgRef
	owners   map[auth.OrgRef]string // (server, lower-case id) -> the tenant it rolls up under (ownersOf)
	pending  map[string][]string    // tenant -> servers with organisations not resolved yet
	byName   map[auth.OrgRef]string // (server, lower-case name) -> lower-case id, as last resolved
}

// NewDirectory returns a directory; call Refresh, or ResolveOffline and Run, before use.
func NewDirectory(tenants []config.Tenant, list OrgLister, allowMissing bool, logger *slog.Logger) *Directory {
	if logger == nil {
		logger = slog.Default()
	}
	return &Directory{tenants: tenants, list: list, allowMissing: allowMissing, logger: logger, resolved: map[string][]auth.OrgRef{},
		owners: map[auth.OrgRef]string{}}
}

// ResolveOffline installs a first mapping without calling any server: organisations given by
// id, names prev (a directory being replaced on reload; may be nil) had resolved, and every
// other name pending. The gateway serves with it at once; Run resolves the rest.
func (d *Directory) ResolveOffline(prev *Directory) {
	var previous map[auth.OrgRef]string
	if prev != nil {
		prev.mu.RLock()
		previous = prev.byName
		prev.mu.RUnlock()
	}
	resolved, pending, byName, _ := d.resolve(context.Background(), nil, nil, previous, true)
	owners := ownersOf(resolved)
	d.mu.Lock()
	d.resolved, d.owners, d.pending, d.byName = resolved, owners, pending, byName
	d.mu.Unlock()
}

// Refresh resolves every tenant's organisations. Unknown servers or organisations are an error
// unless allowMissing, in which case they are logged and left pending until a later refresh
// finds them. On error the previous mapping stays in force.
func (d *Directory) Refresh(ctx context.Context) error {
	// Each server named by some tenant's organisation name is listed once, all in parallel, so
	// a server that does not answer delays no other.
	type listing struct {
		orgs []upstream.Organization
		err  error
	}
	listings := map[string]*listing{}
	for _, t := range d.tenants {
		for _, o := range t.Organizations {
			if o.ID == "" && listings[o.Server] == nil {
				listings[o.Server] = &listing{}
			}
		}
	}
	var wg sync.WaitGroup
	for server, l := range listings {
		wg.Go(func() { l.orgs, l.err = d.list(ctx, server) })
	}
	wg.Wait()
	orgsByServer := map[string][]upstream.Organization{}
	unreachable := map[string]bool{}
	var problems []error
	for _, t := range d.tenants {
		for _, o := range t.Organizations {
			l := listings[o.Server]
			if o.ID != "" || l == nil {
				continue
			}
			if _, done := orgsByServer[o.Server]; done {
				continue
			}
			orgsByServer[o.Server] = l.orgs
			if l.err != nil {
				problems = append(problems, fmt.Errorf("tenant %s: list organisations of %s: %w", t.ID, o.Server, l.err))
				orgsByServer[o.Server] = nil
				unreachable[o.Server] = true
			}
		}
	}
	d.mu.RLock()
	previous := d.byName
	d.mu.RUnlock()
	resolved, pending, byName, missing := d.resolve(ctx, orgsByServer, unreachable, previous, false)
	err := errors.Join(append(problems, missing...)...)
	if err != nil && !d.allowMissing {
		return err
	}
	if err != nil {
		d.logger.WarnContext(ctx, "tenant organisations not resolved yet (retrying in the background)", "err", err)
	}
	owners := ownersOf(resolved)
	d.mu.Lock()
	d.resolved, d.owners, d.pending, d.byName = resolved, owners, pending, byName
	d.mu.Unlock()
	return nil
}

// resolve maps every tenant's organisations from the listings (offline: from previous only).
func (d *Directory) resolve(ctx context.Context, orgsByServer map[string][]upstream.Organization, unreachable map[string]bool,
	previous map[auth.OrgRef]string, offline bool) (map[string][]auth.OrgRef, map[string][]string, map[auth.OrgRef]string, []error) {
	var problems []error
	byName := map[auth.OrgRef]string{}
	resolved := map[string][]auth.OrgRef{}
	pending := map[string][]string{}
	for _, t := range d.tenants {
		refs := []auth.OrgRef{}
		for _, o := range t.Organizations {
			if o.ID != "" {
				refs = append(refs, auth.OrgRef{Server: o.Server, OrgID: strings.ToLower(o.ID)})
				continue
			}
			id, ambiguous := orgNamed(orgsByServer[o.Server], o.Name)
			key := auth.OrgRef{Server: o.Server, OrgID: o.Name}
			if ambiguous {
				problems = append(problems, fmt.Errorf("tenant %s: several organisations on server %s are named %q (or differ from it only in case): configure the id", t.ID, o.Server, o.Name))
			} else if id == "" && (offline || unreachable[o.Server]) {
				// The listing failed (already reported), or none was made: keep what the last
				// resolution found rather than dropping the organisation.
				id = previous[key]
			} else if id == "" {
				problems = append(problems, fmt.Errorf("tenant %s: no organisation named %q on server %s", t.ID, o.Name, o.Server))
			}
			if id == "" {
				if !slices.Contains(pending[t.ID], o.Server) {
					pending[t.ID] = append(pending[t.ID], o.Server)
				}
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
	return resolved, pending, byName, problems
}

// orgNamed finds the organisation a tenant's configuration names, as sessions are joined to
// organisations (upstream.OrgJoin). A name several organisations carry is ambiguous: the
// tenant gets none of them (one may be another customer's), and its sessions belong to none.
func orgNamed(orgs []upstream.Organization, name string) (id string, ambiguous bool) {
	o, ambiguous := upstream.NewOrgJoin(orgs).Lookup(name)
	if o == nil {
		return "", ambiguous
	}
	return o.ID, false
}

// Run refreshes until ctx ends: at once, then every few seconds (backing off to interval)
// while an organisation is pending, then every interval.
func (d *Directory) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	retry := min(2*time.Second, interval)
	wait := time.Duration(0)
	if !d.anyPending() {
		wait = interval // the caller has just refreshed
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := d.Refresh(ctx); err != nil {
			d.logger.WarnContext(ctx, "tenant refresh failed; keeping the previous mapping", "err", err)
		}
		switch {
		case d.anyPending():
			wait, retry = retry, min(2*retry, interval)
		default:
			wait, retry = interval, min(2*time.Second, interval)
		}
	}
}

func (d *Directory) anyPending() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.pending) > 0
}

// Orgs returns a tenant's organisations.
func (d *Directory) Orgs(tenant string) ([]auth.OrgRef, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	refs, ok := d.resolved[tenant]
	return refs, ok
}

// OrgInScope reports whether organisation orgID on server is the tenant's as the directory
// resolves it now: false for a tenant it does not know, a nil directory, and a detached
// session (orgID ""). IDs compare ignoring case, as auth.Principal.CanSeeOrg compares them.
func (d *Directory) OrgInScope(tenant, server, orgID string) bool {
	if d == nil || orgID == "" {
		return false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, r := range d.resolved[tenant] {
		if r.Server == server && strings.EqualFold(r.OrgID, orgID) {
			return true
		}
	}
	return false
}

// TenantOf returns the tenant an organisation's sessions roll up under (restoreAudit grouped
// by TENANT), as the directory resolves organisations now: false for an organisation no tenant
// owns, a detached session (orgID "") and a nil directory. IDs compare ignoring case. The
// configuration does not forbid two tenants naming the same organisation: such an organisation
// rolls up under the tenant whose id sorts first, so each session counts once and the tenants'
// rows still add up to the total.
func (d *Directory) TenantOf(server, orgID string) (string, bool) {
	if d == nil || orgID == "" {
		return "", false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.owners[auth.OrgRef{Server: server, OrgID: strings.ToLower(orgID)}]
	return t, ok
}

// ownersOf inverts a resolution: each organisation's tenant, the smallest tenant id when
// several name it (TenantOf).
func ownersOf(resolved map[string][]auth.OrgRef) map[auth.OrgRef]string {
	owners := map[auth.OrgRef]string{}
	for tenant, refs := range resolved {
		for _, r := range refs {
			k := auth.OrgRef{Server: r.Server, OrgID: strings.ToLower(r.OrgID)}
			if cur, ok := owners[k]; !ok || tenant < cur {
				owners[k] = tenant
			}
		}
	}
	return owners
}

// Pending returns the servers on which some of the tenant's organisations are not resolved yet.
func (d *Directory) Pending(tenant string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.pending[tenant])
}
