package resolvers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// WatchRules keeps watch rules and their webhook deliveries (cmd/internal/audit/watchrules implements it
// on the store; app wires it). The resolvers check the caller's rights before every call;
// implementations answer ErrNotFound for what does not exist and *model.InputError for
// definitions they refuse.
type WatchRules interface {
	List(ctx context.Context, owners RuleOwners) ([]*model.WatchRule, error)
	Get(ctx context.Context, id string) (*model.WatchRule, error)
	// Create stores a rule owned by owner (nil: provider-wide), returning its secret.
	Create(ctx context.Context, owner *string, createdBy string, in model.WatchRuleInput) (*model.WatchRuleCreated, error)
	Update(ctx context.Context, id string, in model.WatchRuleInput) (*model.WatchRule, error)
	Delete(ctx context.Context, id string) (bool, error)
	RotateSecret(ctx context.Context, id string, overlap time.Duration) (*model.WatchRuleCreated, error)
	Test(ctx context.Context, id string) (*model.WebhookDelivery, error)
	// Deliveries pages a rule's deliveries newest first; after and the edges' cursors are the
	// store's plain keyset text, which the resolvers seal (gid.Cursors).
	Deliveries(ctx context.Context, ruleID string, first int, after string) (*model.WebhookDeliveryConnection, error)
	Delivery(ctx context.Context, id string) (*model.WebhookDelivery, error)
	Redeliver(ctx context.Context, id string) (*model.WebhookDelivery, error)
}

// RuleOwners selects rules to list: every rule, or one tenant's.
type RuleOwners struct {
	All    bool
	Tenant string
}

// TenantScope returns a tenant's current principal (its organisations now), false when the
// tenant does not exist.
type TenantScope func(tenant string) (*auth.Principal, bool)

// AuditArchive serves the restore audit report from the watcher's archive.
type AuditArchive interface {
	RestoreAudit(ctx context.Context, q AuditQuery) (*model.RestoreAudit, error)
}

// AuditQuery is a validated, scoped report request. Build it with Resolver.NewAuditQuery.
type AuditQuery struct {
	From, To time.Time
	Filter   *model.RestoreSessionFilter
	GroupBy  []model.RestoreAuditDimension
	// Servers are the servers in the caller's scope (and the filter's), in display order.
	Servers []string
	// InScope reports whether the caller may see an organisation; every session read is
	// checked with it.
	InScope func(server, orgID string) bool
	// TenantOf names the tenant an organisation's sessions roll up under when grouped by
	// TENANT (the Resolver's; set only then, and only for provider admins).
	TenantOf TenantOf
}

// TenantOf returns the tenant owning organisation orgID on server, false when none does
// (app builds it on the tenant directory; an organisation two tenants name rolls up under
// one of them, so each session counts once).
type TenantOf func(server, orgID string) (tenant string, ok bool)

// deliveryCursorKind names webhook delivery cursors (gid.Cursors.EncodeKeyset).
const deliveryCursorKind = "wd"

// ErrNotConfigured: a feature that needs the store is used without one.
var ErrNotConfigured = errors.New("watch rules and the restore audit need the gateway's store (watch: enabled)")

// MaxAuditSpan bounds a report's window.
const MaxAuditSpan = 5 * 366 * 24 * time.Hour

// NewAuditQuery checks the caller and the arguments and scopes the report (the CSV export
// uses it too, so both answer the same rows).
func (r *Resolver) NewAuditQuery(ctx context.Context, from, to time.Time, filter *model.RestoreSessionFilter, groupBy []model.RestoreAuditDimension) (AuditQuery, error) {
	p, err := principal(ctx)
	if err != nil {
		return AuditQuery{}, err
	}
	if r.Audit == nil {
		return AuditQuery{}, ErrNotConfigured
	}
	if !from.Before(to) {
		return AuditQuery{}, badInputf("from must be before to")
	}
	if to.Sub(from) > MaxAuditSpan {
		return AuditQuery{}, badInputf("from and to may be at most five years apart")
	}
	seen := map[model.RestoreAuditDimension]bool{}
	for _, d := range groupBy {
		switch {
		case !d.IsValid():
			return AuditQuery{}, badInputf(fmt.Sprintf("groupBy: unknown dimension %q", excerptName(string(d))))
		case seen[d]:
			return AuditQuery{}, badInputf("groupBy: " + string(d) + " given twice (each dimension at most once)")
		case d == model.RestoreAuditDimensionTenant && !p.IsAdmin():
			// A tenant sees only its own organisations: a rollup by tenant is the provider's.
			return AuditQuery{}, &RoleError{Action: "group the restore audit by TENANT", Have: p.Role, Need: []auth.Role{auth.RoleProviderAdmin}}
		}
		seen[d] = true
	}
	if _, err := sessionWindow(filter); err != nil {
		return AuditQuery{}, err
	}
	var only []string
	if filter != nil {
		only = filter.Servers
	}
	if err := r.checkServerFilter(p, only); err != nil {
		return AuditQuery{}, err
	}
	servers, inScope := r.auditScope(p, only)
	q := AuditQuery{From: from.UTC(), To: to.UTC(), Filter: filter, GroupBy: groupBy, Servers: servers, InScope: inScope}
	if seen[model.RestoreAuditDimensionTenant] {
		if r.TenantOf == nil {
			return AuditQuery{}, errors.New("restore audit: grouping by TENANT needs the tenant directory (Resolver.TenantOf)")
		}
		q.TenantOf = r.TenantOf
	}
	return q, nil
}

// ruleForRead loads a rule and checks that p may read it; invisible reads as missing.
func (r *Resolver) ruleForRead(ctx context.Context, p *auth.Principal, id string) (*model.WatchRule, error) {
	rule, err := r.Rules.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canReadRule(p, rule.Tenant) {
		return nil, ErrNotFound
	}
	return rule, nil
}

// ruleForChange loads a rule p may change: invisible reads as missing, visible but read-only
// is forbidden.
func (r *Resolver) ruleForChange(ctx context.Context, id string) (*auth.Principal, *model.WatchRule, error) {
	p, err := r.rulesPrincipal(ctx)
	if err != nil {
		return nil, nil, err
	}
	rule, err := r.ruleForRead(ctx, p, id)
	if err != nil {
		return nil, nil, err
	}
	if !canManageRule(p, rule.Tenant) {
		return nil, nil, manageRuleError(p, rule.Tenant)
	}
	return p, rule, nil
}

// manageRuleError is the refusal of a caller who may not manage a rule of owner.
func manageRuleError(p *auth.Principal, owner *string) error {
	return manageOwnedError(p, owner, "manage this watch rule")
}

// manageOwnedError is the refusal of a caller who may not take action on something owned like
// a watch rule (canManageRule): a tenant's needs its TENANT_ADMIN (or a provider admin), the
// provider's a provider admin.
func manageOwnedError(p *auth.Principal, owner *string, action string) error {
	need := []auth.Role{auth.RoleProviderAdmin}
	if owner != nil {
		need = []auth.Role{auth.RoleTenantAdmin, auth.RoleProviderAdmin}
	}
	return &RoleError{Action: action, Have: p.Role, Need: need}
}

func (r *Resolver) rulesPrincipal(ctx context.Context) (*auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if r.Rules == nil {
		return nil, ErrNotConfigured
	}
	return p, nil
}

// ruleOwner decides who owns a rule being created (existing nil) or changed (existing: the
// rule's current owner, which never changes), checks that p may manage it, and checks the
// definition against the owner's scope: organisations named in the filter must be the owner's
// (others read as unknown).
func (r *Resolver) ruleOwner(p *auth.Principal, in *model.WatchRuleInput, existing **string) (*string, error) {
	var owner *string
	switch {
	case existing != nil:
		owner = *existing
		if in.Tenant != nil && (owner == nil || *in.Tenant != *owner) {
			return nil, badInputf("tenant: a rule's owner cannot change (delete it and create another)")
		}
	case p.IsAdmin():
		owner = in.Tenant
	default:
		if in.Tenant != nil && *in.Tenant != p.Tenant {
			return nil, badInputf("tenant: a tenant's rules belong to that tenant")
		}
		owner = &p.Tenant
	}
	if !canManageRule(p, owner) {
		return nil, manageRuleError(p, owner)
	}
	if owner == nil {
		return nil, nil // provider-wide: every organisation is in scope
	}
	scope := p
	if p.IsAdmin() {
		s, ok := r.tenantScope(*owner)
		if !ok {
			return nil, badInputf("tenant: unknown tenant")
		}
		scope = s
	}
	if in.Filter != nil {
		for _, raw := range in.Filter.OrganizationIds {
			id, err := gid.ParseKind(raw, gid.KindOrganization)
			if err != nil {
				return nil, err
			}
			if !scope.CanSeeOrg(id.Server, id.Upstream) {
				return nil, badInputf("filter.organizationIds: unknown organisation")
			}
		}
	}
	return owner, nil
}

func (r *Resolver) tenantScope(tenant string) (*auth.Principal, bool) {
	if r.TenantScope == nil {
		return nil, false
	}
	return r.TenantScope(tenant)
}

// ruleForViewer is the one place that decides what a caller sees of a rule it may read:
// everything when it may also manage the rule (PROVIDER_ADMIN, the owning tenant's
// TENANT_ADMIN, who need the URL to change it); otherwise (a TENANT_AUDITOR) the URL with its
// credentials redacted (RedactURL): receivers often take a token in the query string. Rules
// reach callers who may not manage them only through the watchRules list.
func ruleForViewer(p *auth.Principal, rule *model.WatchRule) *model.WatchRule {
	if canManageRule(p, rule.Tenant) {
		return rule
	}
	shown := *rule
	shown.URL = RedactURL(rule.URL)
	return &shown
}

// RedactURL shows a webhook URL without the parts that may carry credentials: userinfo reads
// "…@", the query "?…" and a fragment "#…"; scheme, host, port and path stay. Text that does
// not parse as a URL reads "…".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return "…"
	}
	shown := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	out := shown.String()
	if u.User != nil {
		out = strings.Replace(out, "//", "//…@", 1)
	}
	if u.RawQuery != "" || u.ForceQuery {
		out += "?…"
	}
	if u.Fragment != "" || u.RawFragment != "" {
		out += "#…"
	}
	return out
}
