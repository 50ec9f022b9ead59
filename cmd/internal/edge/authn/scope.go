package authn

import "github.com/vbo-gateway/vbo-gateway/resolvers/auth"

// TenantScope returns a tenant's scope as the directory resolves it now (false when the
// tenant is not configured): what watch rules owned by the tenant may match, re-read at every
// delivery so a reload that narrows a tenant stops its rules at once.
func (a *Authenticator) TenantScope(tenant string) (*auth.Principal, bool) {
	if a == nil || a.dir == nil {
		return nil, false
	}
	orgs, ok := a.dir.Orgs(tenant)
	if !ok {
		return nil, false
	}
	return auth.NewTenantAuditor("tenant:"+tenant, tenant, orgs), true
}
