// Package policy holds the restore item actions' rules (issue 25) as pure checks: where data
// may go (send only to the organisation's own domains unless config allows more; restore
// elsewhere only inside the organisation), what a destructive restore needs (confirm: true,
// fresh authentication, and where the tenant asks a second person's approval) and how many
// items one action may hold. Every refusal is a *Violation naming its rule; callers map
// KindBadInput to BAD_USER_INPUT and KindForbidden to FORBIDDEN (errors.Is with ErrBadInput
// or ErrForbidden works too). Nothing here does I/O: the resolvers call the checks, in the
// order the report of issue 25 gives, before recording the action and calling VBO.
package policy

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Kind is how a caller answers a violation.
type Kind int

// Kinds.
const (
	// KindBadInput: the request asks for something the rules do not allow (BAD_USER_INPUT).
	KindBadInput Kind = iota + 1
	// KindForbidden: the caller may not do this (FORBIDDEN).
	KindForbidden
)

// Sentinels matching a Violation of each kind (errors.Is).
var (
	ErrBadInput  = errors.New("restore policy: bad input")
	ErrForbidden = errors.New("restore policy: forbidden")
)

// Rules, as named in violations: the configuration key or the rule's name.
const (
	RuleMaxItems        = "restore.maxItemsPerAction"
	RuleRecipients      = "restore.allowedRecipientDomains"
	RuleSameOrg         = "restore.sameOrganization"
	RuleConfirm         = "restore.confirm"
	RuleStepUp          = "restore.stepUpMaxAge"
	RuleAPIKeyStepUp    = "auth.apiKeys[].allowRestoreToOriginal"
	RuleApproverRole    = "restore.approval.approver"
	RuleApproverSelf    = "restore.approval.secondPerson"
	RuleApprovalExpired = "restore.approval.expiry"
)

// Violation is a refused request: the rule it breaks and a message safe to show the caller.
type Violation struct {
	Rule    string
	Kind    Kind
	Message string
}

func (v *Violation) Error() string { return v.Message + " (rule " + v.Rule + ")" }

// Is matches ErrBadInput or ErrForbidden by kind.
func (v *Violation) Is(target error) bool {
	return target == ErrBadInput && v.Kind == KindBadInput || target == ErrForbidden && v.Kind == KindForbidden
}

func badInput(rule, format string, a ...any) error {
	return &Violation{Rule: rule, Kind: KindBadInput, Message: fmt.Sprintf(format, a...)}
}

func forbidden(rule, format string, a ...any) error {
	return &Violation{Rule: rule, Kind: KindForbidden, Message: fmt.Sprintf(format, a...)}
}

// maxRecipients bounds one send's recipients.
const maxRecipients = 50

// Settings are the rules' configuration (FromConfig).
type Settings struct {
	MaxItemsPerAction int
	StepUpMaxAge      time.Duration
	// ClockSkew is how far ahead of now a JWT's auth_time may lie and still count: the skew
	// the JWT validation allows iat and nbf (auth.jwt.clockSkew). Later is refused.
	ClockSkew               time.Duration
	AllowAnyRecipient       bool
	AllowedRecipientDomains []string
	// DefaultApprovalExpiry applies to tenants without an entry.
	DefaultApprovalExpiry time.Duration
	// Tenants are the tenants' own rules, by tenant id.
	Tenants map[string]TenantSettings
}

// TenantSettings are one tenant's rules.
type TenantSettings struct {
	ApprovalRequired bool
	ApprovalExpiry   time.Duration
	RecipientDomains []string
}

// FromConfig reads the settings from a validated configuration (defaults applied).
func FromConfig(c *config.Config) Settings {
	r := c.Restore.RestoreActions.WithDefaults()
	s := Settings{MaxItemsPerAction: r.MaxItemsPerAction, StepUpMaxAge: r.StepUpMaxAge, AllowAnyRecipient: r.AllowAnyRecipient,
		AllowedRecipientDomains: r.AllowedRecipientDomains, DefaultApprovalExpiry: r.ApprovalExpiry, Tenants: map[string]TenantSettings{}}
	if c.Auth.JWT != nil {
		s.ClockSkew = c.Auth.JWT.ClockSkew
	}
	for _, t := range c.Tenants {
		s.Tenants[t.ID] = TenantSettings{ApprovalRequired: t.Restore.ApprovalRequired(),
			ApprovalExpiry: cmpDur(t.Restore.ApprovalExpiry, r.ApprovalExpiry), RecipientDomains: t.Restore.RecipientDomains}
	}
	return s
}

// Policy applies the settings. Safe for concurrent use (never changed after New).
type Policy struct {
	s       Settings
	allowed map[string]bool
}

// New checks s and returns the policy.
func New(s Settings) (*Policy, error) {
	switch {
	case s.MaxItemsPerAction <= 0:
		return nil, errors.New("policy: MaxItemsPerAction must be > 0")
	case s.StepUpMaxAge <= 0:
		return nil, errors.New("policy: StepUpMaxAge must be > 0")
	case s.DefaultApprovalExpiry <= 0:
		return nil, errors.New("policy: DefaultApprovalExpiry must be > 0")
	}
	p := &Policy{s: s, allowed: domainSet(s.AllowedRecipientDomains)}
	return p, nil
}

// CheckItems: 1 to restore.maxItemsPerAction items, none repeated.
func (p *Policy) CheckItems(ids []string) error {
	switch n := len(ids); {
	case n == 0:
		return badInput(RuleMaxItems, "itemIds is empty: give 1 to %d items", p.s.MaxItemsPerAction)
	case n > p.s.MaxItemsPerAction:
		return badInput(RuleMaxItems, "%d items: at most %d per action (restore.maxItemsPerAction)", n, p.s.MaxItemsPerAction)
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return badInput(RuleMaxItems, "itemIds names %q twice", id)
		}
		seen[id] = true
	}
	return nil
}

// CheckRecipients: 1 to 50 plain addresses, each in the organisation's own domains, the
// tenant's recipientDomains or restore.allowedRecipientDomains, unless restore.allowAnyRecipient.
// It returns the addresses as VBO should get them (the bare address, lower-cased domain).
func (p *Policy) CheckRecipients(tenant string, org Org, to []string) ([]string, error) {
	if len(to) == 0 || len(to) > maxRecipients {
		return nil, badInput(RuleRecipients, "to: give 1 to %d addresses (%d given)", maxRecipients, len(to))
	}
	tenantDomains := domainSet(p.s.Tenants[tenant].RecipientDomains)
	out := make([]string, 0, len(to))
	for i, raw := range to {
		addr, domain, err := parseAddress(raw)
		if err != nil {
			return nil, badInput(RuleRecipients, "to[%d]: %v", i, err)
		}
		if !p.s.AllowAnyRecipient && !org.Has(domain) && !tenantDomains[domain] && !p.allowed[domain] {
			return nil, badInput(RuleRecipients, "to[%d]: %s is not in the organisation's own domains (%s) nor in the domains the configuration allows (restore.allowedRecipientDomains, tenants[].restore.recipientDomains)",
				i, domain, strings.Join(org.Domains(), ", "))
		}
		out = append(out, addr)
	}
	return out, nil
}

// CheckTarget: restoreItemsTo's target is inside the same organisation: a mailbox or
// OneDrive owner address in its domains, or an https site URL whose host is one of its domains
// or its SharePoint hosts (<tenant>.sharepoint.com, <tenant>-my.sharepoint.com for its
// <tenant>.onmicrosoft.com). It returns the target as VBO should get it: the bare address that
// was checked (never a display name or comment around it, which another parser might read
// instead), or the trimmed URL.
func CheckTarget(org Org, target string) (string, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return "", badInput(RuleSameOrg, "target is empty: give a mailbox or OneDrive owner address, or a site URL, in the same organisation")
	}
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil || u.Scheme != "https" || u.User != nil || u.Host == "" || u.Port() != "" {
			return "", badInput(RuleSameOrg, "target: a site URL is https://host/path without credentials or port")
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if net.ParseIP(host) != nil || !org.HasSiteHost(host) {
			return "", badInput(RuleSameOrg, "target: site host %s is not in the organisation (%s)", host, strings.Join(org.SiteHosts(), ", "))
		}
		return target, nil
	}
	addr, domain, err := parseAddress(target)
	if err != nil {
		return "", badInput(RuleSameOrg, "target: %v", err)
	}
	if !org.Has(domain) {
		return "", badInput(RuleSameOrg, "target: %s is not in the organisation's own domains (%s)", domain, strings.Join(org.Domains(), ", "))
	}
	return addr, nil
}

// CheckConfirm: a restore to the original location needs confirm: true.
func CheckConfirm(confirm bool) error {
	if !confirm {
		return badInput(RuleConfirm, "confirm must be true: a restore to the original location overwrites or merges live Microsoft 365 data")
	}
	return nil
}

// CheckStepUp: fresh authentication for a destructive action. A JWT's auth_time must be within
// restore.stepUpMaxAge of now, and not later than now plus the clock skew (Settings.ClockSkew;
// a token without auth_time is never fresh); an API key needs allowRestoreToOriginal.
func (p *Policy) CheckStepUp(c auth.Credential, now time.Time) error {
	return p.stepUp(c, now, "restore to the original location", "")
}

// stepUp is CheckStepUp for what (the key's refusal) and, for the JWT's, " to "+why when why
// is not "" ("fresh authentication needed to approve: ...").
func (p *Policy) stepUp(c auth.Credential, now time.Time, what, why string) error {
	if why != "" {
		why = " to " + why
	}
	switch c.Kind {
	case auth.CredentialAPIKey:
		if !c.AllowRestoreToOriginal {
			return forbidden(RuleAPIKeyStepUp, "this API key may not %s: its configuration needs allowRestoreToOriginal: true", what)
		}
		return nil
	case auth.CredentialJWT:
		if c.AuthTime.IsZero() {
			return forbidden(RuleStepUp, "fresh authentication needed%s: the token has no auth_time; sign in again", why)
		}
		if ahead := c.AuthTime.Sub(now); ahead > p.s.ClockSkew {
			// Not a fresh sign-in: a forged claim or an IdP's clock far ahead, which would
			// otherwise stay "fresh" for as long as the time lies ahead.
			return forbidden(RuleStepUp, "fresh authentication needed%s: the token's auth_time is %s in the future, beyond the clock skew of %s (auth.jwt.clockSkew); sign in again",
				why, ahead.Truncate(time.Second), p.s.ClockSkew)
		}
		if age := now.Sub(c.AuthTime); age > p.s.StepUpMaxAge {
			return forbidden(RuleStepUp, "fresh authentication needed%s: signed in %s ago, at most %s (restore.stepUpMaxAge); sign in again",
				why, age.Truncate(time.Second), p.s.StepUpMaxAge)
		}
		return nil
	}
	return forbidden(RuleStepUp, "fresh authentication needed%s: unknown credential", why)
}

// ActionKind is a restore item action.
type ActionKind string

// Action kinds.
const (
	ActionDownload          ActionKind = "DOWNLOAD"
	ActionSend              ActionKind = "SEND"
	ActionRestoreTo         ActionKind = "RESTORE_TO"
	ActionRestoreToOriginal ActionKind = "RESTORE_TO_ORIGINAL"
)

// Action is what an action does, for Destructive.
type Action struct {
	Kind ActionKind
	// TeamsMembers and TeamsSettings are a Teams restore's restoreMembers/restoreSettings.
	TeamsMembers, TeamsSettings bool
}

// Destructive reports whether the action changes live data in place: a restore to the
// original location, and any Teams restore of members or settings (they change the live team).
func Destructive(a Action) bool {
	return a.Kind == ActionRestoreToOriginal || a.TeamsMembers || a.TeamsSettings
}

// CheckDestructive runs a destructive action's checks in order: confirm, then fresh
// authentication. Non-destructive actions pass.
func (p *Policy) CheckDestructive(a Action, confirm bool, c auth.Credential, now time.Time) error {
	if !Destructive(a) {
		return nil
	}
	if err := CheckConfirm(confirm); err != nil {
		return err
	}
	return p.CheckStepUp(c, now)
}

// ApprovalRequired reports whether tenant's destructive actions wait for a second person
// (tenants[].restore.approval: required). Provider admins' own actions ("" tenant) do not.
func (p *Policy) ApprovalRequired(tenant string) bool {
	return tenant != "" && p.s.Tenants[tenant].ApprovalRequired
}

// ApprovalExpiry is how long tenant's pending action waits.
func (p *Policy) ApprovalExpiry(tenant string) time.Duration {
	return cmpDur(p.s.Tenants[tenant].ApprovalExpiry, p.s.DefaultApprovalExpiry)
}

// Pending is an action waiting for approval, as the approval check needs it.
type Pending struct {
	Tenant    string
	Requester string // the requester's person (Actor.Person: JWT sub, an API key's person)
	ExpiresAt time.Time
}

// Approver is who asks to approve: their person (a JWT's sub; an API key's configured person,
// else apikey:<name>), role, tenant and how they authenticated.
type Approver struct {
	Person     string
	Role       auth.Role
	Tenant     string
	Credential auth.Credential
}

// CheckApprover: another person of the action's tenant, with TENANT_ADMIN, before the
// request expires, freshly authenticated. In that order:
//
//   - the role and tenant (restore.approval.approver);
//   - another person (restore.approval.secondPerson): persons are compared, so two API keys
//     held by one person (auth.apiKeys[].person) are one person, whatever their role;
//   - the deadline (restore.approval.expiry);
//   - the requester's own step-up rule, since approving runs a restore to the original
//     location: a JWT's auth_time within restore.stepUpMaxAge (restore.stepUpMaxAge), an API
//     key with allowRestoreToOriginal (auth.apiKeys[].allowRestoreToOriginal). A stolen,
//     long-lived session cannot approve.
func (p *Policy) CheckApprover(a Pending, approver Approver, now time.Time) error {
	switch {
	case approver.Role != auth.RoleTenantAdmin || approver.Tenant == "" || approver.Tenant != a.Tenant:
		return forbidden(RuleApproverRole, "only a TENANT_ADMIN of the action's tenant may approve it")
	case approver.Person == "" || approver.Person == a.Requester:
		return forbidden(RuleApproverSelf, "the requester may not approve their own restore: another TENANT_ADMIN of the tenant must")
	case !now.Before(a.ExpiresAt):
		return badInput(RuleApprovalExpired, "the approval request expired at %s: ask for the restore again", a.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return p.stepUp(approver.Credential, now, "approve a restore to the original location", "approve")
}

// Org is an organisation's own domains: VBO's officeName and names that are domain names, and
// restore.organizations[].domains.
type Org struct {
	domains map[string]bool
	// tenants are the <x> of its <x>.onmicrosoft.com domains (its SharePoint hosts).
	tenants []string
}

// NewOrg builds an organisation's domains from VBO's Organization.officeName, its names
// (name, and any other name VBO gives) and the configured domains. Values that are not domain
// names (a display name such as "Contoso Ltd") are skipped.
func NewOrg(officeName string, names []string, configured []string) Org {
	o := Org{domains: map[string]bool{}}
	for _, v := range append(append([]string{officeName}, names...), configured...) {
		d, ok := normDomain(v)
		if !ok || o.domains[d] {
			continue
		}
		o.domains[d] = true
		if t, ok := strings.CutSuffix(d, ".onmicrosoft.com"); ok && !strings.Contains(t, ".") {
			o.tenants = append(o.tenants, t)
		}
	}
	return o
}

// Has reports whether domain is one of the organisation's.
func (o Org) Has(domain string) bool {
	d, ok := normDomain(domain)
	return ok && o.domains[d]
}

// Domains lists the organisation's domains, sorted.
func (o Org) Domains() []string {
	out := make([]string, 0, len(o.domains))
	for d := range o.domains {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// HasSiteHost reports whether host serves the organisation's sites.
func (o Org) HasSiteHost(host string) bool {
	return slices.Contains(o.SiteHosts(), strings.ToLower(host))
}

// SiteHosts lists the hosts of the organisation's sites: its domains and its SharePoint hosts.
func (o Org) SiteHosts() []string {
	out := o.Domains()
	for _, t := range o.tenants {
		out = append(out, t+".sharepoint.com", t+"-my.sharepoint.com")
	}
	return out
}

// parseAddress reads one plain address ("a@b.com" or "Name <a@b.com>"), returning the bare
// address with its domain lower-cased, and the domain.
func parseAddress(raw string) (string, string, error) {
	if strings.ContainsAny(raw, ",;\r\n") {
		return "", "", errors.New("one address per entry")
	}
	a, err := mail.ParseAddress(strings.TrimSpace(raw))
	if err != nil {
		return "", "", fmt.Errorf("%q is not an email address", raw)
	}
	at := strings.LastIndexByte(a.Address, '@')
	d, ok := normDomain(a.Address[at+1:])
	if at <= 0 || !ok {
		return "", "", fmt.Errorf("%q has no valid domain", raw)
	}
	if !plainLocalPart(a.Address[:at]) {
		return "", "", fmt.Errorf("%q: the part before @ must be plain (letters, digits and .-_+'=&#$*/?^`{}|~), not quoted nor a relay path (%% or !)", raw)
	}
	return a.Address[:at] + "@" + d, d, nil
}

// plainLocalPart reports whether l is a dot-atom of RFC 5322 atext without the relay
// characters % and !: net/mail unquotes a quoted local part ("x@evil.example"@contoso.com
// becomes x@evil.example@contoso.com), and "%" and "!" route mail onwards on some servers, so
// the address VBO passes on could be read as another domain's.
func plainLocalPart(l string) bool {
	if l == "" || len(l) > 64 || strings.HasPrefix(l, ".") || strings.HasSuffix(l, ".") || strings.Contains(l, "..") {
		return false
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_+'=&#$*/?^`{}|~", r)) {
			return false
		}
	}
	return true
}

// normDomain lower-cases a domain name and checks it is one (ASCII labels, at least two).
func normDomain(v string) (string, bool) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return "", false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") ||
			strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return "", false
		}
	}
	return d, true
}

func domainSet(ds []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range ds {
		if d, ok := normDomain(v); ok {
			m[d] = true
		}
	}
	return m
}

func cmpDur(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}
