// Package auth holds the caller's identity and scope. Every resolver asks the Principal in the
// request context before it touches upstream data (docs/architecture.md, "Scope before data").
package auth

import (
	"context"
	"strings"
)

// Role is what a caller may do.
type Role string

// Roles.
const (
	RoleProviderAdmin Role = "PROVIDER_ADMIN"
	RoleTenantAuditor Role = "TENANT_AUDITOR"
	// RoleTenantAdmin reads exactly what a TENANT_AUDITOR of its tenant reads, and may also
	// manage its tenant's watch rules.
	RoleTenantAdmin Role = "TENANT_ADMIN"
	// RoleRestoreOperator reads exactly what a TENANT_AUDITOR of its tenant reads, and may also
	// start, browse and stop restore sessions of its tenant's organisations through the gateway.
	RoleRestoreOperator Role = "RESTORE_OPERATOR"
)

// OrgRef names one organisation on one server by its upstream id.
type OrgRef struct {
	Server string
	OrgID  string
}

// Principal is an authenticated caller.
type Principal struct {
	Subject string
	// DisplayName is the person's name or email from a JWT (its name or email claim), "" when
	// the credential carries none (API keys).
	DisplayName string
	Tenant      string // "" for provider staff
	Role        Role
	all         bool
	orgs        map[OrgRef]struct{}
	servers     map[string]struct{}
	// unresolved are servers where some of the tenant's organisations (configured by name)
	// are not resolved yet: requests report those servers as unavailable.
	unresolved []string

	// cred is how the caller authenticated (credential.go).
	cred Credential
}

// NewAdmin returns a provider admin: every server, every organisation.
func NewAdmin(subject string) *Principal {
	return &Principal{Subject: subject, Role: RoleProviderAdmin, all: true}
}

// NewTenantAuditor returns a principal that may read exactly the given organisations.
func NewTenantAuditor(subject, tenant string, orgs []OrgRef) *Principal {
	return newTenant(subject, tenant, RoleTenantAuditor, orgs)
}

// NewTenantAdmin returns a principal that reads like NewTenantAuditor and may manage the
// tenant's watch rules.
func NewTenantAdmin(subject, tenant string, orgs []OrgRef) *Principal {
	return newTenant(subject, tenant, RoleTenantAdmin, orgs)
}

// NewRestoreOperator returns a principal that reads like NewTenantAuditor and may start,
// browse and stop restore sessions of the given organisations through the gateway.
func NewRestoreOperator(subject, tenant string, orgs []OrgRef) *Principal {
	return newTenant(subject, tenant, RoleRestoreOperator, orgs)
}

func newTenant(subject, tenant string, role Role, orgs []OrgRef) *Principal {
	p := &Principal{Subject: subject, Tenant: tenant, Role: role,
		orgs: make(map[OrgRef]struct{}, len(orgs)), servers: map[string]struct{}{}}
	for _, o := range orgs {
		o.OrgID = strings.ToLower(o.OrgID)
		p.orgs[o] = struct{}{}
		p.servers[o.Server] = struct{}{}
	}
	return p
}

// WithUnresolved returns a copy of p that also reports servers as holding organisations of its
// scope that are not resolved yet.
func (p *Principal) WithUnresolved(servers []string) *Principal {
	if len(servers) == 0 {
		return p
	}
	q := *p
	q.unresolved = append([]string(nil), servers...)
	return &q
}

// WithDisplayName returns a copy of p carrying the person's display name.
func (p *Principal) WithDisplayName(name string) *Principal {
	if name == "" {
		return p
	}
	q := *p
	q.DisplayName = name
	return &q
}

// Unresolved lists the servers where organisations of the principal's scope are not resolved
// yet (configured by name while the server was unreachable, or not found there).
func (p *Principal) Unresolved() []string {
	if p == nil {
		return nil
	}
	return p.unresolved
}

// SeesAll reports whether the principal's scope is everything.
func (p *Principal) SeesAll() bool { return p != nil && p.all }

// CanSeeOrg reports whether the organisation is in scope.
func (p *Principal) CanSeeOrg(server, orgID string) bool {
	if p == nil {
		return false
	}
	if p.all {
		return true
	}
	_, ok := p.orgs[OrgRef{Server: server, OrgID: strings.ToLower(orgID)}]
	return ok
}

// CanSeeServer reports whether the server hosts anything in scope.
func (p *Principal) CanSeeServer(server string) bool {
	if p == nil {
		return false
	}
	if p.all {
		return true
	}
	_, ok := p.servers[server]
	return ok
}

// OrgCount is the number of organisations in scope (0 for a principal who sees everything:
// ask the servers).
func (p *Principal) OrgCount() int {
	if p == nil {
		return 0
	}
	return len(p.orgs)
}

// IsAdmin reports whether the principal is a provider admin.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == RoleProviderAdmin }

type ctxKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal, or nil when unauthenticated.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Client is where a request comes from, as the HTTP edge saw it: the client's address (after
// trusted proxies) and its User-Agent. The restore front door records both.
type Client struct {
	Addr      string
	UserAgent string
}

type clientKey struct{}

// WithClient stores c in ctx.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the request's client, or the zero Client.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
