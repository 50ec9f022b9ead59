package resolvers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Scope enforcement lives here: every resolver that returns upstream data goes through these
// helpers, which consult the caller's Principal before any loader call, and answer ErrNotFound
// for anything out of scope exactly as for anything missing.

func principal(ctx context.Context) (*auth.Principal, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, ErrUnauthenticated
	}
	return p, nil
}

// visibleServers returns the servers the caller may see (VisibleServers).
func (r *Resolver) visibleServers(p *auth.Principal, only []string) []string {
	return VisibleServers(r.Backend, p, only)
}

// VisibleServers is the one rule for the servers p may see: b's servers p can see, in display
// order, narrowed to only (if non-nil). Unknown names narrow to nothing rather than erroring.
// The resolvers read by it, and the query cost estimate (httpapi) sizes a request by it.
func VisibleServers(b *loaders.Backend, p *auth.Principal, only []string) []string {
	var out []string
	for _, s := range b.Servers() {
		if p.CanSeeServer(s.Name) && (only == nil || slices.Contains(only, s.Name)) {
			out = append(out, s.Name)
		}
	}
	return out
}

// checkServerFilter refuses a provider admin's server filter that names a server the gateway
// does not have, with BAD_USER_INPUT listing the servers it has: an admin sees every server,
// so an unknown name is a mistake that would otherwise read as "nothing here". Tenants keep
// the narrow-to-nothing rule: a server they cannot see must read like one that does not exist.
func (r *Resolver) checkServerFilter(p *auth.Principal, only []string) error {
	if !p.SeesAll() {
		return nil
	}
	var unknown []string
	for _, name := range only {
		q := strconv.Quote(excerptName(name))
		if _, ok := r.Backend.Server(name); !ok && !slices.Contains(unknown, q) {
			unknown = append(unknown, q)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	known := make([]string, 0, len(r.Backend.Servers()))
	for _, s := range r.Backend.Servers() {
		known = append(known, s.Name)
	}
	what := "an unknown server"
	if len(unknown) > 1 {
		what = "unknown servers"
	}
	return badInputf(fmt.Sprintf("filter.servers names %s (%s); the servers are %s", what,
		strings.Join(unknown, ", "), strings.Join(known, ", ")))
}

// excerptName shortens a name quoted back in a message.
func excerptName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// errUnresolved: the caller's organisations on a server are configured by name and not resolved
// yet (the server was unreachable, or has no organisation of that name).
var errUnresolved = errors.New("tenant organisations on this server are not resolved yet")

// reportUnresolved reports, once per server (narrowed to only, if non-nil), that some of the
// caller's organisations cannot be shown yet: a partial result says so rather than silently
// showing less.
func reportUnresolved(ctx context.Context, p *auth.Principal, only []string) {
	for _, s := range p.Unresolved() {
		if only == nil || slices.Contains(only, s) {
			addServerError(ctx, &upstream.Error{Server: s, Method: "GET", Path: "Organizations", Err: errUnresolved})
		}
	}
}

// serverOrgs is one server's organisations as loaded, or the error loading them.
type serverOrgs struct {
	server string
	orgs   []upstream.Organization
	err    error
}

// loadOrgs loads the organisations of servers in parallel (one batched loader call).
func loadOrgs(ctx context.Context, servers []string) []serverOrgs {
	l := loaders.For(ctx)
	out := make([]serverOrgs, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			orgs, err := l.Organizations(ctx, s)
			out[i] = serverOrgs{server: s, orgs: orgs, err: err}
		})
	}
	wg.Wait()
	return out
}

// visibleOrgs lists the in-scope organisations of servers, reporting failed servers as
// partial-result errors.
func (r *Resolver) visibleOrgs(ctx context.Context, p *auth.Principal, servers []string, nameContains string) []*model.Organization {
	needle := upstream.OrgNameKey(nameContains)
	var out []*model.Organization
	for _, so := range loadOrgs(ctx, servers) {
		if so.err != nil {
			addServerError(ctx, so.err)
			continue
		}
		var mine []*model.Organization
		for _, o := range so.orgs {
			if !p.CanSeeOrg(so.server, o.ID) || needle != "" && !strings.Contains(upstream.OrgNameKey(o.Name), needle) {
				continue
			}
			mine = append(mine, &model.Organization{ServerName: so.server, Upstream: o})
		}
		slices.SortStableFunc(mine, func(a, b *model.Organization) int {
			return strings.Compare(strings.ToLower(a.Upstream.Name), strings.ToLower(b.Upstream.Name))
		})
		out = append(out, mine...)
	}
	return out
}

// findOrg returns an in-scope organisation by upstream id. The scope check comes first.
func (r *Resolver) findOrg(ctx context.Context, server, orgID string) (*model.Organization, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanSeeOrg(server, orgID) {
		return nil, ErrNotFound
	}
	if _, ok := r.Backend.Server(server); !ok {
		return nil, ErrNotFound
	}
	orgs, err := loaders.For(ctx).Organizations(ctx, server)
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		if strings.EqualFold(o.ID, orgID) {
			return &model.Organization{ServerName: server, Upstream: o}, nil
		}
	}
	return nil, ErrNotFound
}

// orgNamed resolves the organisation a session names (upstream.OrgJoin: by name on the
// session's server). When the server has no
// organisation of that name any more, it returns a detached stub carrying the recorded name;
// when several carry it, a detached stub flagged ambiguous (the session belongs to none).
//
// When the server's organisations cannot be read right now, the field still answers (it is
// non-null, and failing it would null the whole session list): the stub, plus the server's
// error on the response.
func (r *Resolver) orgNamed(ctx context.Context, server, name string) (*model.Organization, error) {
	stub := &model.Organization{ServerName: server, Upstream: upstream.Organization{Name: name}, Detached: true}
	join, err := loaders.For(ctx).OrgJoin(ctx, server)
	if err != nil {
		addServerError(ctx, err)
		return stub, nil
	}
	o, ambiguous := join.Lookup(name)
	if o != nil {
		return &model.Organization{ServerName: server, Upstream: *o}, nil
	}
	stub.Ambiguous = ambiguous
	return stub, nil
}

// nameAmbiguous reports whether other organisations of org's server carry org's name (under
// upstream.OrgNameKey), so that the sessions naming it belong to none of them. An unreadable
// organisation list counts as ambiguous (fail closed); the failure is reported on the response.
func (r *Resolver) nameAmbiguous(ctx context.Context, org *model.Organization) bool {
	ambiguous, err := orgNameShared(ctx, org)
	if err != nil {
		addServerError(ctx, err)
		return true
	}
	return ambiguous
}

// orgNameShared is nameAmbiguous without the fail-closed answer: the error reading the
// server's organisations, if any.
func orgNameShared(ctx context.Context, org *model.Organization) (bool, error) {
	if org.Detached {
		return org.Ambiguous, nil
	}
	join, err := loaders.For(ctx).OrgJoin(ctx, org.ServerName)
	if err != nil {
		return false, err
	}
	return join.Ambiguous(org.Upstream.Name), nil
}

// reportAmbiguousAudit tells a caller whose restoreAudit is scoped to organisations (a tenant,
// or an organizationIds filter) which of them have a shared name now (reportAmbiguousOrgs): the
// watch archives a session naming a shared name under no organisation, so its rows are missing
// from the report and no rule of the tenant fires for it. Best effort: the report comes from the
// archive, and a server whose organisations cannot be read now does not fail it.
func (r *Resolver) reportAmbiguousAudit(ctx context.Context, q AuditQuery) {
	p, err := principal(ctx)
	if err != nil {
		return
	}
	f, err := parseOrgFilter(q.Filter)
	if err != nil || p.SeesAll() && f == nil {
		return
	}
	reportAmbiguousOrgs(ctx, p, f.narrow(q.Servers), f)
}

// reportAmbiguousOrgs tells the caller, with an ORG_NAME_AMBIGUOUS error per organisation,
// which of the organisations it asked about (in its scope and passing f) have a name another
// organisation of their server shares, so that their sessions are withheld (upstream.OrgJoin).
// Nothing about the other organisation is said. Servers whose organisations cannot be read are
// skipped here: the callers report them (or, for the archive, do not need them).
func reportAmbiguousOrgs(ctx context.Context, p *auth.Principal, servers []string, f orgIDFilter) {
	for _, so := range loadOrgs(ctx, servers) {
		if so.err != nil {
			continue
		}
		join, err := loaders.For(ctx).OrgJoin(ctx, so.server)
		if err != nil {
			continue
		}
		for _, o := range so.orgs {
			if p.CanSeeOrg(so.server, o.ID) && f.allows(so.server, o.ID) && join.Ambiguous(o.Name) {
				graphql.AddError(ctx, &OrgNameAmbiguousError{Server: so.server, OrgID: o.ID})
			}
		}
	}
}

// sessionVisible reports whether the caller may see a session: its organisation (by name on
// its server) must be in scope. Sessions of detached organisations are visible to admins only.
func (r *Resolver) sessionVisible(ctx context.Context, p *auth.Principal, server string, s *upstream.RestoreSession) (bool, error) {
	if p.SeesAll() {
		return true, nil
	}
	if !p.CanSeeServer(server) {
		return false, nil
	}
	join, err := loaders.For(ctx).OrgJoin(ctx, server)
	if err != nil {
		// Answering with the upstream error would tell the caller the session exists; it
		// reads as not found, and the failure goes to the log.
		r.Logger.WarnContext(ctx, "cannot check a session's scope: organisations unavailable", "server", server, "err", err,
			"request_id", requestid.From(ctx))
		return false, nil
	}
	orgID := ""
	if o, _ := join.Lookup(s.Organization); o != nil { // an ambiguous name belongs to no tenant
		orgID = o.ID
	}
	return orgVisible(p, server, orgID), nil
}

// orgVisible is the rule for a session whose organisation is known by id ("" when the server
// has no organisation of the session's name): in scope, or a provider admin.
func orgVisible(p *auth.Principal, server, orgID string) bool {
	return p.SeesAll() || orgID != "" && p.CanSeeOrg(server, orgID)
}

// archivedSessionVisible reports whether the caller may see an archived session (the
// subscriptions): its server must still be configured, and its organisation, by the id the
// watch recorded when it archived the session, in scope, by the same rule as sessionVisible.
func (r *Resolver) archivedSessionVisible(p *auth.Principal, server, orgID string) bool {
	if _, ok := r.Backend.Server(server); !ok {
		return false
	}
	return orgVisible(p, server, orgID)
}

// loadVisibleSession loads a session by id and checks scope; out of scope reads as not found.
//
// Another tenant's session and a missing one cost the same work, so that timing cannot tell
// them apart: for a caller with a limited scope the session is always fetched from its server
// (never from the cache), and the scope check (the server's organisations) runs in both paths,
// on the missing session too.
func (r *Resolver) loadVisibleSession(ctx context.Context, server, id string) (*model.RestoreSession, error) {
	return r.loadVisibleSessionFrom(ctx, server, id, false)
}

// loadVisibleSessionFrom is loadVisibleSession reading the archive when it covers the server
// (archive.go) and live is false. A session the archive holds outside the caller's scope costs
// the same VBO read as a missing one (for a caller with a limited scope), so the archive does
// not tell them apart either.
func (r *Resolver) loadVisibleSessionFrom(ctx context.Context, server, id string, live bool) (*model.RestoreSession, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanSeeServer(server) {
		return nil, ErrNotFound
	}
	if _, ok := r.Backend.Server(server); !ok {
		return nil, ErrNotFound
	}
	l := loaders.For(ctx)
	load := l.RestoreSession
	if !p.SeesAll() {
		load = l.RestoreSessionFromServer
	}
	if a := r.archivedSession(ctx, server, id, live); a != nil {
		if ok, err := r.sessionVisible(ctx, p, server, &a.Session); err != nil || !ok {
			if !p.SeesAll() {
				_, _ = load(ctx, server, id) // the same work as for a missing session
			}
			return nil, cmpErr(err, ErrNotFound)
		}
		return &model.RestoreSession{ServerName: server, Upstream: a.Session, Archived: true}, nil
	}
	r.noteLive(ctx, []string{server})
	s, err := load(ctx, server, id)
	if err != nil {
		if err = notFoundIfAbsent(err); !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		_, _ = r.sessionVisible(ctx, p, server, &upstream.RestoreSession{}) // the same work as for a session
		return nil, ErrNotFound
	}
	ok, err := r.sessionVisible(ctx, p, server, s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return &model.RestoreSession{ServerName: server, Upstream: *s}, nil
}

// Watch rules and the audit report. A rule belongs to a tenant, or (owner nil) to the provider.
// Provider admins read and manage every rule; a tenant's auditors read its rules and its admins
// also manage them. Provider-wide rules are for provider admins only. A rule only ever matches
// sessions in its owner's scope, at evaluation and again at delivery (watchrules.Options.OwnerScope,
// which app builds on the tenant directory).

// canReadRule reports whether p may see a rule owned by owner.
func canReadRule(p *auth.Principal, owner *string) bool {
	if p.IsAdmin() {
		return true
	}
	return owner != nil && p.Tenant != "" && *owner == p.Tenant &&
		(p.Role == auth.RoleTenantAuditor || p.Role == auth.RoleTenantAdmin || p.Role == auth.RoleRestoreOperator)
}

// canManageRule reports whether p may create, change or delete a rule owned by owner.
func canManageRule(p *auth.Principal, owner *string) bool {
	if p.IsAdmin() {
		return true
	}
	return owner != nil && p.Tenant != "" && *owner == p.Tenant && p.Role == auth.RoleTenantAdmin
}

// ruleOwnersFor is which rules p may list.
func ruleOwnersFor(p *auth.Principal) RuleOwners {
	if p.IsAdmin() {
		return RuleOwners{All: true}
	}
	return RuleOwners{Tenant: p.Tenant}
}

// auditScope is the caller's scope as the archive applies it: the servers to read and a
// per-organisation check.
func (r *Resolver) auditScope(p *auth.Principal, only []string) (servers []string, inScope func(server, orgID string) bool) {
	return r.visibleServers(p, only), p.CanSeeOrg
}

// Report schedules are owned and scoped exactly like watch rules: a tenant's (its
// TENANT_AUDITOR reads, its TENANT_ADMIN manages) or the provider's (PROVIDER_ADMIN); what a
// caller may not read is NOT_FOUND, like what is missing.

func (r *Resolver) schedulesPrincipal(ctx context.Context) (*auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if r.Reports == nil {
		return nil, ErrNotConfigured
	}
	return p, nil
}

// scheduleForRead loads a schedule p may read; invisible reads as missing.
func (r *Resolver) scheduleForRead(ctx context.Context, p *auth.Principal, id string) (*model.ReportSchedule, error) {
	s, err := r.Reports.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canReadRule(p, s.Tenant) {
		return nil, ErrNotFound
	}
	return s, nil
}

// scheduleForChange loads a schedule p may change: invisible reads as missing, visible but
// read-only is forbidden.
func (r *Resolver) scheduleForChange(ctx context.Context, id string) (*auth.Principal, *model.ReportSchedule, error) {
	p, err := r.schedulesPrincipal(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := r.scheduleForRead(ctx, p, id)
	if err != nil {
		return nil, nil, err
	}
	if !canManageRule(p, s.Tenant) {
		return nil, nil, manageOwnedError(p, s.Tenant, "manage this report schedule")
	}
	return p, s, nil
}

// scheduleOwner decides who owns a schedule being created (existing nil: the caller's tenant,
// or the provider for a provider admin) or changed (existing: its owner, which never
// changes), checks that p may manage it and that the filter is the owner's: the rules' checks
// (ruleOwner), and the filter's servers and window as restoreAudit checks them.
func (r *Resolver) scheduleOwner(p *auth.Principal, in *model.ReportScheduleInput, existing **string) (*string, error) {
	var owner *string
	switch {
	case existing != nil:
		owner = *existing
	case !p.IsAdmin():
		t := p.Tenant
		owner = &t
	}
	if !canManageRule(p, owner) {
		return nil, manageOwnedError(p, owner, "manage this report schedule")
	}
	if owner != nil && slices.Contains(in.GroupBy, model.RestoreAuditDimensionTenant) {
		// A tenant's report is made as the tenant, who may not group by TENANT (NewAuditQuery).
		if !p.IsAdmin() {
			return nil, &RoleError{Action: "group the restore audit by TENANT", Have: p.Role, Need: []auth.Role{auth.RoleProviderAdmin}}
		}
		return nil, badInputf("groupBy: TENANT is for the provider's schedules only (a tenant's report covers one tenant)")
	}
	var only []string
	if in.Filter != nil {
		only = in.Filter.Servers
	}
	if _, err := sessionWindow(in.Filter); err != nil {
		return nil, err
	}
	if err := r.checkServerFilter(p, only); err != nil {
		return nil, err
	}
	return r.ruleOwner(p, &model.WatchRuleInput{Filter: in.Filter}, &owner)
}

// scheduleForViewer is what a caller who may read a schedule sees of it: everything when it
// may manage it; otherwise (a TENANT_AUDITOR) the webhook URL redacted, as for rules.
func scheduleForViewer(p *auth.Principal, s *model.ReportSchedule) *model.ReportSchedule {
	if canManageRule(p, s.Tenant) || s.WebhookURL == nil {
		return s
	}
	shown := *s
	u := RedactURL(*s.WebhookURL)
	shown.WebhookURL = &u
	return &shown
}
