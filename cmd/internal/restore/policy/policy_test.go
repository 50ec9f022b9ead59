package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/policy"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

func newPolicy(t *testing.T, mod func(*policy.Settings)) *policy.Policy {
	t.Helper()
	s := policy.Settings{MaxItemsPerAction: 3, StepUpMaxAge: 10 * time.Minute, DefaultApprovalExpiry: 24 * time.Hour,
		AllowedRecipientDomains: []string{"Partner.example"},
		Tenants: map[string]policy.TenantSettings{
			"t1": {ApprovalRequired: true, ApprovalExpiry: time.Hour, RecipientDomains: []string{"t1-friends.example"}},
			"t2": {},
		}}
	if mod != nil {
		mod(&s)
	}
	p, err := policy.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// contoso is an organisation as VBO names it: officeName contoso.onmicrosoft.com, a display
// name that is not a domain, and a configured custom domain.
var contoso = policy.NewOrg("contoso.onmicrosoft.com", []string{"Contoso Ltd", "CONTOSO.com."}, []string{"contoso.co.uk"})

// wantViolation checks err is a *Violation of rule and kind, matching the kind's sentinel.
func wantViolation(t *testing.T, what string, err error, rule string, kind policy.Kind) {
	t.Helper()
	var v *policy.Violation
	if !errors.As(err, &v) {
		t.Errorf("%s: %v, want a violation of %s", what, err, rule)
		return
	}
	if v.Rule != rule || v.Kind != kind || !strings.Contains(err.Error(), rule) {
		t.Errorf("%s: violation %+v, want rule %s kind %d", what, v, rule, kind)
	}
	sentinel, other := policy.ErrBadInput, policy.ErrForbidden
	if kind == policy.KindForbidden {
		sentinel, other = other, sentinel
	}
	if !errors.Is(err, sentinel) || errors.Is(err, other) {
		t.Errorf("%s: errors.Is does not follow the kind", what)
	}
}

func TestOrgDomains(t *testing.T) {
	t.Parallel()
	if got, want := contoso.Domains(), []string{"contoso.co.uk", "contoso.com", "contoso.onmicrosoft.com"}; !slices.Equal(got, want) {
		t.Errorf("domains %v, want %v", got, want)
	}
	if !slices.Contains(contoso.SiteHosts(), "contoso-my.sharepoint.com") || !contoso.HasSiteHost("CONTOSO.sharepoint.com") {
		t.Errorf("site hosts %v", contoso.SiteHosts())
	}
	if contoso.Has("evilcontoso.com") || contoso.Has("mail.contoso.com") {
		t.Error("a look-alike or a subdomain counted as the organisation's")
	}
}

func TestCheckRecipients(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil)
	for _, tc := range []struct {
		name, tenant string
		to           []string
		ok           bool
		want         []string
	}{
		{"own domains", "t2", []string{"a@contoso.com", "Bob <B@Contoso.Onmicrosoft.com>", "c@CONTOSO.CO.UK"}, true,
			[]string{"a@contoso.com", "B@contoso.onmicrosoft.com", "c@contoso.co.uk"}},
		{"allowed by the provider", "t2", []string{"x@partner.example"}, true, []string{"x@partner.example"}},
		{"allowed by the tenant", "t1", []string{"x@t1-friends.example"}, true, []string{"x@t1-friends.example"}},
		{"another tenant's domain", "t2", []string{"x@t1-friends.example"}, false, nil},
		{"foreign domain", "t2", []string{"a@contoso.com", "thief@evil.example"}, false, nil},
		{"subdomain", "t2", []string{"a@mail.contoso.com"}, false, nil},
		{"look-alike", "t2", []string{"a@contoso.com.evil.example"}, false, nil},
		{"two in one entry", "t2", []string{"a@contoso.com, thief@evil.example"}, false, nil},
		{"not an address", "t2", []string{"contoso.com"}, false, nil},
		{"header injection", "t2", []string{"a@contoso.com\r\nBcc: thief@evil.example"}, false, nil},
		{"none", "t2", nil, false, nil},
		{"too many", "t2", slices.Repeat([]string{"a@contoso.com"}, 51), false, nil},
	} {
		got, err := p.CheckRecipients(tc.tenant, contoso, tc.to)
		if tc.ok {
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
			}
			continue
		}
		wantViolation(t, tc.name, err, policy.RuleRecipients, policy.KindBadInput)
	}
	anyone := newPolicy(t, func(s *policy.Settings) { s.AllowAnyRecipient = true })
	if _, err := anyone.CheckRecipients("t2", contoso, []string{"x@anywhere.example"}); err != nil {
		t.Errorf("allowAnyRecipient: %v", err)
	}
	if _, err := anyone.CheckRecipients("t2", contoso, []string{"not an address"}); err == nil {
		t.Error("allowAnyRecipient let a non-address through")
	}
}

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"user@contoso.com", true},
		{"Owner <owner@contoso.onmicrosoft.com>", true},
		{"https://contoso.sharepoint.com/sites/finance", true},
		{"https://contoso-my.sharepoint.com/personal/a_contoso_com", true},
		{"https://CONTOSO.sharepoint.com./sites/x", true},
		{"user@fabrikam.com", false},
		{"https://fabrikam.sharepoint.com/sites/x", false},
		{"https://contoso.sharepoint.com@evil.example/sites/x", false},
		{"http://contoso.sharepoint.com/sites/x", false},
		{"https://contoso.sharepoint.com:8443/sites/x", false},
		{"https://10.0.0.1/sites/x", false},
		{"https://evilcontoso.sharepoint.com/", false},
		{"", false},
		{"contoso", false},
	} {
		_, err := policy.CheckTarget(contoso, tc.target)
		if tc.ok && err != nil {
			t.Errorf("%q: %v", tc.target, err)
		}
		if !tc.ok {
			wantViolation(t, tc.target, err, policy.RuleSameOrg, policy.KindBadInput)
		}
	}
}

func TestCheckItems(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil)
	if err := p.CheckItems([]string{"a", "b", "c"}); err != nil {
		t.Error(err)
	}
	wantViolation(t, "none", p.CheckItems(nil), policy.RuleMaxItems, policy.KindBadInput)
	wantViolation(t, "four", p.CheckItems([]string{"a", "b", "c", "d"}), policy.RuleMaxItems, policy.KindBadInput)
	wantViolation(t, "repeated", p.CheckItems([]string{"a", "a"}), policy.RuleMaxItems, policy.KindBadInput)
}

func TestCheckDestructive(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fresh := auth.Credential{Kind: auth.CredentialJWT, AuthTime: now.Add(-9 * time.Minute)}
	stale := auth.Credential{Kind: auth.CredentialJWT, AuthTime: now.Add(-11 * time.Minute)}
	original := policy.Action{Kind: policy.ActionRestoreToOriginal}
	for _, tc := range []struct {
		name    string
		a       policy.Action
		confirm bool
		cred    auth.Credential
		rule    string // "" = allowed
		kind    policy.Kind
	}{
		{"fresh JWT, confirmed", original, true, fresh, "", 0},
		{"not confirmed (checked first)", original, false, stale, policy.RuleConfirm, policy.KindBadInput},
		{"stale JWT", original, true, stale, policy.RuleStepUp, policy.KindForbidden},
		{"JWT without auth_time", original, true, auth.Credential{Kind: auth.CredentialJWT}, policy.RuleStepUp, policy.KindForbidden},
		{"API key without the flag", original, true, auth.Credential{Kind: auth.CredentialAPIKey}, policy.RuleAPIKeyStepUp, policy.KindForbidden},
		{"API key with the flag", original, true, auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: true}, "", 0},
		{"no credential", original, true, auth.Credential{}, policy.RuleStepUp, policy.KindForbidden},
		{"Teams members elsewhere is destructive", policy.Action{Kind: policy.ActionRestoreTo, TeamsMembers: true}, false, fresh, policy.RuleConfirm, policy.KindBadInput},
		{"Teams settings, stale", policy.Action{Kind: policy.ActionRestoreTo, TeamsSettings: true}, true, stale, policy.RuleStepUp, policy.KindForbidden},
		{"download is not destructive", policy.Action{Kind: policy.ActionDownload}, false, auth.Credential{}, "", 0},
		{"send is not destructive", policy.Action{Kind: policy.ActionSend}, false, auth.Credential{}, "", 0},
	} {
		err := p.CheckDestructive(tc.a, tc.confirm, tc.cred, now)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		wantViolation(t, tc.name, err, tc.rule, tc.kind)
	}
}

func TestApproval(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil)
	if !p.ApprovalRequired("t1") || p.ApprovalRequired("t2") || p.ApprovalRequired("") || p.ApprovalRequired("unknown") {
		t.Error("ApprovalRequired does not follow the tenants' entries")
	}
	if p.ApprovalExpiry("t1") != time.Hour || p.ApprovalExpiry("t2") != 24*time.Hour {
		t.Errorf("expiry %s %s", p.ApprovalExpiry("t1"), p.ApprovalExpiry("t2"))
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	pending := policy.Pending{Tenant: "t1", Requester: "alice", ExpiresAt: now.Add(time.Minute)}
	fresh := auth.Credential{Kind: auth.CredentialJWT, AuthTime: now.Add(-9 * time.Minute)}
	stale := auth.Credential{Kind: auth.CredentialJWT, AuthTime: now.Add(-11 * time.Minute)}
	key := auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: true}
	admin := func(person, tenant string, c auth.Credential) policy.Approver {
		return policy.Approver{Person: person, Role: auth.RoleTenantAdmin, Tenant: tenant, Credential: c}
	}
	for _, tc := range []struct {
		name     string
		approver policy.Approver
		at       time.Time
		rule     string // "" = allowed
		kind     policy.Kind
		msg      string // the message says this too
	}{
		{"another admin of the tenant, fresh", admin("bob", "t1", fresh), now, "", 0, ""},
		{"another admin's key with the flag", admin("apikey:bob-key", "t1", key), now, "", 0, ""},
		{"the requester", admin("alice", "t1", fresh), now, policy.RuleApproverSelf, policy.KindForbidden, "their own restore"},
		// A second key of the requester's: the edge names its person, the persons are equal.
		{"the requester's second key", admin("alice", "t1", key), now, policy.RuleApproverSelf, policy.KindForbidden, "their own restore"},
		{"the requester, stale (self before step-up)", admin("alice", "t1", stale), now, policy.RuleApproverSelf, policy.KindForbidden, ""},
		{"no person", admin("", "t1", fresh), now, policy.RuleApproverSelf, policy.KindForbidden, ""},
		{"an auditor", policy.Approver{Person: "carol", Role: auth.RoleTenantAuditor, Tenant: "t1", Credential: fresh}, now, policy.RuleApproverRole, policy.KindForbidden, "TENANT_ADMIN"},
		{"an operator", policy.Approver{Person: "carol", Role: auth.RoleRestoreOperator, Tenant: "t1", Credential: key}, now, policy.RuleApproverRole, policy.KindForbidden, ""},
		{"an admin of another tenant", admin("bob", "t2", fresh), now, policy.RuleApproverRole, policy.KindForbidden, ""},
		{"a provider admin", policy.Approver{Person: "ops", Role: auth.RoleProviderAdmin, Credential: fresh}, now, policy.RuleApproverRole, policy.KindForbidden, ""},
		{"nobody", policy.Approver{}, now, policy.RuleApproverRole, policy.KindForbidden, ""},
		{"expired", admin("bob", "t1", fresh), now.Add(time.Minute), policy.RuleApprovalExpired, policy.KindBadInput, "expired"},
		{"expired, stale (expiry before step-up)", admin("bob", "t1", stale), now.Add(time.Minute), policy.RuleApprovalExpired, policy.KindBadInput, ""},
		// The requester's step-up rule holds for the approver: same knob, same rule names.
		{"stale JWT", admin("bob", "t1", stale), now, policy.RuleStepUp, policy.KindForbidden,
			"fresh authentication needed to approve: signed in 11m0s ago, at most 10m0s (restore.stepUpMaxAge); sign in again"},
		{"JWT without auth_time", admin("bob", "t1", auth.Credential{Kind: auth.CredentialJWT}), now, policy.RuleStepUp, policy.KindForbidden, "no auth_time; sign in again"},
		{"API key without the flag", admin("apikey:bob-key", "t1", auth.Credential{Kind: auth.CredentialAPIKey}), now, policy.RuleAPIKeyStepUp, policy.KindForbidden,
			"this API key may not approve a restore to the original location: its configuration needs allowRestoreToOriginal: true"},
		{"no credential", admin("bob", "t1", auth.Credential{}), now, policy.RuleStepUp, policy.KindForbidden, ""},
	} {
		err := p.CheckApprover(pending, tc.approver, tc.at)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		wantViolation(t, tc.name, err, tc.rule, tc.kind)
		if err != nil && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.msg)
		}
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	c := &config.Config{Tenants: []config.Tenant{
		{ID: "t1", Restore: config.TenantRestore{Approval: config.ApprovalRequired, RecipientDomains: []string{"a.example"}}},
		{ID: "t2", Restore: config.TenantRestore{ApprovalExpiry: time.Hour}},
	}}
	c.Restore.MaxItemsPerAction = 7
	s := policy.FromConfig(c)
	if s.MaxItemsPerAction != 7 || s.StepUpMaxAge != config.DefaultStepUpMaxAge || !s.Tenants["t1"].ApprovalRequired ||
		s.Tenants["t1"].ApprovalExpiry != config.DefaultApprovalExpiry || s.Tenants["t2"].ApprovalExpiry != time.Hour {
		t.Errorf("settings %+v", s)
	}
	if _, err := policy.New(s); err != nil {
		t.Error(err)
	}
	if _, err := policy.New(policy.Settings{}); err == nil {
		t.Error("New with zero settings: built")
	}
}

// TestHostileAddresses: an address whose parsed form differs from what another parser would
// read is refused, and a target passes on as the bare address that was checked, never the
// caller's text (a display name or comment VBO or Exchange might read instead).
func TestHostileAddresses(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil)
	for _, raw := range []string{
		`"thief@evil.example"@contoso.com`, // net/mail unquotes it to thief@evil.example@contoso.com
		`"a b"@contoso.com`,
		`"a\"b"@contoso.com`,
		`thief%evil.example@contoso.com`, // the percent hack relays to evil.example
		`evil.example!thief@contoso.com`, // a bang path
	} {
		_, err := p.CheckRecipients("t2", contoso, []string{raw})
		wantViolation(t, "recipient "+raw, err, policy.RuleRecipients, policy.KindBadInput)
		_, err = policy.CheckTarget(contoso, raw)
		wantViolation(t, "target "+raw, err, policy.RuleSameOrg, policy.KindBadInput)
	}
	for raw, want := range map[string]string{
		"Owner <Owner@CONTOSO.onmicrosoft.com>":   "Owner@contoso.onmicrosoft.com",
		`"thief@evil.example" <bob@contoso.com>`:  "bob@contoso.com",
		"bob@contoso.com (thief@evil.example)":    "bob@contoso.com",
		"  Bob@CONTOSO.com ":                      "Bob@contoso.com",
		"https://contoso.sharepoint.com/sites/x ": "https://contoso.sharepoint.com/sites/x",
	} {
		got, err := policy.CheckTarget(contoso, raw)
		if err != nil || got != want {
			t.Errorf("target %q: %q, %v; want %q", raw, got, err, want)
		}
	}
}

// A JWT whose auth_time lies in the future (beyond the clock skew the JWT validation allows
// iat and nbf, auth.jwt.clockSkew) is not fresh authentication: an IdP clock far ahead, or a
// forged claim, would otherwise pass restore.stepUpMaxAge for as long as the time lies ahead.
// The requester's check and the approver's refuse it alike, under the step-up rule.
func TestStepUpAuthTimeInFuture(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, func(s *policy.Settings) { s.ClockSkew = 30 * time.Second })
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	pending := policy.Pending{Tenant: "t1", Requester: "alice", ExpiresAt: now.Add(time.Minute)}
	original := policy.Action{Kind: policy.ActionRestoreToOriginal}
	checks := []struct {
		name  string
		check func(auth.Credential) error
		why   string // the refusal's wording
	}{
		{"requester", func(c auth.Credential) error { return p.CheckStepUp(c, now) }, "fresh authentication needed: "},
		{"destructive action", func(c auth.Credential) error { return p.CheckDestructive(original, true, c, now) }, "fresh authentication needed: "},
		{"approver", func(c auth.Credential) error {
			return p.CheckApprover(pending, policy.Approver{Person: "bob", Role: auth.RoleTenantAdmin, Tenant: "t1", Credential: c}, now)
		}, "fresh authentication needed to approve: "},
	}
	for _, tc := range []struct {
		name     string
		authTime time.Time
		refused  bool
	}{
		{"now", now, false},
		{"within the clock skew ahead", now.Add(29 * time.Second), false},
		{"at the clock skew", now.Add(30 * time.Second), false},
		{"beyond the clock skew", now.Add(31 * time.Second), true},
		{"an hour ahead", now.Add(time.Hour), true},
		{"a year ahead", now.AddDate(1, 0, 0), true},
	} {
		for _, c := range checks {
			name := tc.name + ", " + c.name
			err := c.check(auth.Credential{Kind: auth.CredentialJWT, AuthTime: tc.authTime})
			if !tc.refused {
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				continue
			}
			wantViolation(t, name, err, policy.RuleStepUp, policy.KindForbidden)
			if err != nil && (!strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), "in the future")) {
				t.Errorf("%s: %q does not say %q and that auth_time is in the future", name, err, c.why)
			}
		}
	}
}

// FromConfig takes the step-up check's clock skew from the JWT validation's (auth.jwt.clockSkew).
func TestFromConfigClockSkew(t *testing.T) {
	t.Parallel()
	c := &config.Config{}
	if s := policy.FromConfig(c); s.ClockSkew != 0 {
		t.Errorf("no JWT configured: clock skew %s, want 0", s.ClockSkew)
	}
	c.Auth.JWT = &config.JWT{ClockSkew: 45 * time.Second}
	if s := policy.FromConfig(c); s.ClockSkew != 45*time.Second {
		t.Errorf("clock skew %s, want auth.jwt.clockSkew's 45s", s.ClockSkew)
	}
}
