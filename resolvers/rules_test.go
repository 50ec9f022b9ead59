package resolvers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// fakeRules is an in-memory WatchRules keeping rules and deliveries by id, as the store does.
// It records every call that reached it, lists the owners asked for (every rule with
// overAnswer, to show the resolver does not rely on it), and fails a method with fail[method].
type fakeRules struct {
	rules      map[string]*model.WatchRule
	deliveries map[string]*model.WebhookDelivery
	overAnswer bool
	fail       map[string]error

	calls []string // "Method id" in order
	// What the last calls were given.
	owners      RuleOwners
	createOwner *string
	createdBy   string
	overlap     time.Duration
	first       int
	after       string
}

var _ WatchRules = (*fakeRules)(nil)

// The fixture's rules: one provider-wide, one per tenant, one of a tenant that no longer
// exists; and a delivery of each, plus one whose rule was deleted.
const (
	ruleProvider = "rule-provider"
	ruleContoso  = "rule-contoso"
	ruleTailspin = "rule-tailspin"
	ruleOrphan   = "rule-orphan" // its tenant "gone" is no longer configured
	ruleMissing  = "rule-nosuch"

	deliveryProvider = "wd-provider"
	deliveryContoso  = "wd-contoso"
	deliveryTailspin = "wd-tailspin"
	deliveryDeleted  = "wd-of-a-deleted-rule"
	deliveryMissing  = "wd-nosuch"
)

// ruleOfDelivery is the rule each fixture delivery belongs to.
var ruleOfDelivery = map[string]string{deliveryProvider: ruleProvider, deliveryContoso: ruleContoso,
	deliveryTailspin: ruleTailspin, deliveryDeleted: "rule-deleted", deliveryMissing: ruleMissing}

func newFakeRules() *fakeRules {
	f := &fakeRules{rules: map[string]*model.WatchRule{}, deliveries: map[string]*model.WebhookDelivery{}, fail: map[string]error{}}
	for id, tenant := range map[string]*string{ruleProvider: nil, ruleContoso: ptr("contoso"), ruleTailspin: ptr("tailspin"), ruleOrphan: ptr("gone")} {
		f.rules[id] = &model.WatchRule{ID: id, Name: id, URL: "https://hooks.example.net/" + id, On: model.WatchTriggerEnded, Tenant: tenant, Enabled: true}
	}
	for id, rule := range ruleOfDelivery {
		if id != deliveryMissing {
			f.deliveries[id] = &model.WebhookDelivery{ID: id, RuleID: rule, MessageID: "msg_" + id, Status: model.WebhookDeliveryStatusSucceeded}
		}
	}
	return f
}

func (f *fakeRules) called(method, arg string) error {
	f.calls = append(f.calls, strings.TrimSpace(method+" "+arg))
	return f.fail[method]
}

// reached reports whether method was called (with arg, when arg is not "").
func (f *fakeRules) reached(method, arg string) bool {
	return slices.ContainsFunc(f.calls, func(c string) bool {
		return c == method+" "+arg || arg == "" && strings.HasPrefix(c+" ", method+" ")
	})
}

func (f *fakeRules) List(_ context.Context, owners RuleOwners) ([]*model.WatchRule, error) {
	f.owners = owners
	if err := f.called("List", ""); err != nil {
		return nil, err
	}
	var out []*model.WatchRule
	for _, id := range slices.Sorted(maps.Keys(f.rules)) {
		r := f.rules[id]
		if f.overAnswer || owners.All || r.Tenant != nil && *r.Tenant == owners.Tenant {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeRules) Get(_ context.Context, id string) (*model.WatchRule, error) {
	if err := f.called("Get", id); err != nil {
		return nil, err
	}
	r, ok := f.rules[id]
	if !ok {
		return nil, ErrNotFound
	}
	c := *r
	return &c, nil
}

func (f *fakeRules) Create(_ context.Context, owner *string, createdBy string, in model.WatchRuleInput) (*model.WatchRuleCreated, error) {
	f.createOwner, f.createdBy = owner, createdBy
	if err := f.called("Create", in.Name); err != nil {
		return nil, err
	}
	r := &model.WatchRule{ID: "rule-new", Name: in.Name, URL: in.URL, On: in.On, Tenant: owner, CreatedBy: createdBy, Enabled: true}
	return &model.WatchRuleCreated{Rule: r, Secret: "whsec_c2VjcmV0"}, nil
}

func (f *fakeRules) Update(_ context.Context, id string, in model.WatchRuleInput) (*model.WatchRule, error) {
	if err := f.called("Update", id); err != nil {
		return nil, err
	}
	c := *f.rules[id]
	c.Name, c.URL, c.On = in.Name, in.URL, in.On
	return &c, nil
}

func (f *fakeRules) Delete(_ context.Context, id string) (bool, error) {
	if err := f.called("Delete", id); err != nil {
		return false, err
	}
	return true, nil
}

func (f *fakeRules) RotateSecret(_ context.Context, id string, overlap time.Duration) (*model.WatchRuleCreated, error) {
	f.overlap = overlap
	if err := f.called("RotateSecret", id); err != nil {
		return nil, err
	}
	return &model.WatchRuleCreated{Rule: f.rules[id], Secret: "whsec_bmV3"}, nil
}

func (f *fakeRules) Test(_ context.Context, id string) (*model.WebhookDelivery, error) {
	if err := f.called("Test", id); err != nil {
		return nil, err
	}
	return &model.WebhookDelivery{ID: "wd-test", RuleID: id, EventType: "webhook.test", Status: model.WebhookDeliveryStatusPending}, nil
}

// Deliveries answers up to first of the rule's deliveries after the key; the store's keys are
// "key-<id>".
func (f *fakeRules) Deliveries(_ context.Context, ruleID string, first int, after string) (*model.WebhookDeliveryConnection, error) {
	f.first, f.after = first, after
	if err := f.called("Deliveries", ruleID); err != nil {
		return nil, err
	}
	conn := &model.WebhookDeliveryConnection{PageInfo: &model.PageInfo{}}
	for _, id := range slices.Sorted(maps.Keys(f.deliveries)) {
		d := f.deliveries[id]
		if d.RuleID != ruleID || after != "" && "key-"+id <= after {
			continue
		}
		conn.TotalCount++
		if len(conn.Edges) < first {
			conn.Edges = append(conn.Edges, &model.WebhookDeliveryEdge{Cursor: "key-" + id, Node: d})
		}
	}
	return conn, nil
}

func (f *fakeRules) Delivery(_ context.Context, id string) (*model.WebhookDelivery, error) {
	if err := f.called("Delivery", id); err != nil {
		return nil, err
	}
	d, ok := f.deliveries[id]
	if !ok {
		return nil, ErrNotFound
	}
	return d, nil
}

func (f *fakeRules) Redeliver(_ context.Context, id string) (*model.WebhookDelivery, error) {
	if err := f.called("Redeliver", id); err != nil {
		return nil, err
	}
	return f.deliveries[id], nil
}

// fakeAudit is an AuditArchive that records the query it was given and answers a fixed report.
type fakeAudit struct {
	got   *AuditQuery
	calls int
	fail  error
	out   *model.RestoreAudit
}

func (f *fakeAudit) RestoreAudit(_ context.Context, q AuditQuery) (*model.RestoreAudit, error) {
	f.calls++
	f.got = &q
	if f.fail != nil {
		return nil, f.fail
	}
	return f.out, nil
}

// Principals of the rules fixture, besides admin and the tenant auditors contoso and tailspin.
var (
	contosoOrgs  = []auth.OrgRef{{Server: "syd1", OrgID: "c0a0-0001"}, {Server: "mel1", OrgID: "C0A0-0002"}}
	contosoAdmin = auth.NewTenantAdmin("admin@contoso", "contoso", contosoOrgs)
)

// tenantScopes is the fixture's tenant directory: what a provider admin's tenant rules are
// bounded by.
func tenantScopes(tenant string) (*auth.Principal, bool) {
	switch tenant {
	case "contoso":
		return auth.NewTenantAdmin("tenant:contoso", "contoso", contosoOrgs), true
	case "tailspin":
		return auth.NewTenantAdmin("tenant:tailspin", "tailspin", []auth.OrgRef{{Server: "akl1", OrgID: "t0a0-0001"}}), true
	}
	return nil, false
}

// rulesEnv is the fixture's resolver with the fake rules and audit archive wired.
func rulesEnv(t *testing.T) (*env, *fakeRules, *fakeAudit) {
	t.Helper()
	e := newEnv(t)
	rules, audit := newFakeRules(), &fakeAudit{out: &model.RestoreAudit{Rows: []*model.RestoreAuditRow{}}}
	e.r.Rules, e.r.Audit, e.r.TenantScope, e.r.TenantOf = rules, audit, tenantScopes, tenantOf
	return e, rules, audit
}

// tenantOf is tenantScopes reversed: the tenant owning an organisation.
func tenantOf(server, orgID string) (string, bool) {
	for _, t := range []string{"contoso", "tailspin"} {
		if p, _ := tenantScopes(t); p.CanSeeOrg(server, orgID) {
			return t, true
		}
	}
	return "", false
}

const allowed = "allowed"

// ruleInput is a valid definition (the service judges URL and predicates; the resolvers judge
// the owner and the filter's organisations).
func ruleInput(tenant *string, orgIDs ...string) model.WatchRuleInput {
	in := model.WatchRuleInput{Name: "unknown machines", URL: "https://hooks.example.net/x", On: model.WatchTriggerEnded, Tenant: tenant}
	if orgIDs != nil {
		in.Filter = &model.RestoreSessionFilter{OrganizationIds: orgIDs}
	}
	return in
}

// ruleOp is a rules field taking the id of a rule (or, for redeliverWebhook, a delivery).
type ruleOp struct {
	name string
	// change: the field changes the rule (a TENANT_AUDITOR may only read).
	change bool
	// method is the WatchRules method the field exists to call.
	method string
	call   func(r *Resolver, ctx context.Context, id string) (any, error)
}

var ruleOps = []ruleOp{
	{"updateWatchRule", true, "Update", func(r *Resolver, ctx context.Context, id string) (any, error) {
		return r.Mutation().UpdateWatchRule(ctx, id, ruleInput(nil))
	}},
	{"deleteWatchRule", true, "Delete", func(r *Resolver, ctx context.Context, id string) (any, error) {
		return r.Mutation().DeleteWatchRule(ctx, id)
	}},
	{"rotateWatchRuleSecret", true, "RotateSecret", func(r *Resolver, ctx context.Context, id string) (any, error) {
		return r.Mutation().RotateWatchRuleSecret(ctx, id, nil)
	}},
	{"testWatchRule", true, "Test", func(r *Resolver, ctx context.Context, id string) (any, error) {
		return r.Mutation().TestWatchRule(ctx, id)
	}},
	{"redeliverWebhook", true, "Redeliver", func(r *Resolver, ctx context.Context, id string) (any, error) {
		return r.Mutation().RedeliverWebhook(ctx, deliveryOf(id))
	}},
	{"webhookDeliveries", false, "Deliveries", func(r *Resolver, ctx context.Context, id string) (any, error) {
		return r.Query().WebhookDeliveries(ctx, id, nil, nil)
	}},
}

// deliveryOf is the fixture delivery of a rule.
func deliveryOf(rule string) string {
	for d, r := range ruleOfDelivery {
		if r == rule {
			return d
		}
	}
	panic("no delivery of " + rule)
}

// Every field that takes a rule's id, for each role and each owner: a rule outside the caller's
// reach answers exactly like a missing one (NOT_FOUND) and never reaches the service's changing
// call; a rule the caller may read but not change is FORBIDDEN.
func TestWatchRuleFieldsByRole(t *testing.T) {
	type want struct{ change, read string }
	ok := want{allowed, allowed}
	nf := want{CodeNotFound, CodeNotFound}
	anon := want{CodeUnauthenticated, CodeUnauthenticated}
	targets := []string{ruleProvider, ruleContoso, ruleTailspin, ruleMissing}
	tests := []struct {
		who  string
		p    *auth.Principal
		want map[string]want // by target rule
	}{
		{"provider admin", admin, map[string]want{ruleProvider: ok, ruleContoso: ok, ruleTailspin: ok, ruleMissing: nf}},
		{"tenant admin", contosoAdmin, map[string]want{ruleProvider: nf, ruleContoso: ok, ruleTailspin: nf, ruleMissing: nf}},
		{"tenant auditor", contoso, map[string]want{ruleProvider: nf, ruleContoso: {CodeForbidden, allowed}, ruleTailspin: nf, ruleMissing: nf}},
		{"another tenant's auditor", tailspin, map[string]want{ruleProvider: nf, ruleContoso: nf, ruleTailspin: {CodeForbidden, allowed}, ruleMissing: nf}},
		{"no principal", nil, map[string]want{ruleProvider: anon, ruleContoso: anon, ruleTailspin: anon, ruleMissing: anon}},
	}
	for _, op := range ruleOps {
		for _, tt := range tests {
			for _, target := range targets {
				t.Run(op.name+"/"+tt.who+"/"+target, func(t *testing.T) {
					e, rules, _ := rulesEnv(t)
					ctx := e.ctx(tt.p)
					w := tt.want[target].read
					if op.change {
						w = tt.want[target].change
					}
					got, err := op.call(e.r, ctx, target)
					arg := target
					if op.method == "Redeliver" {
						arg = deliveryOf(target)
					}
					if w == allowed {
						if err != nil {
							t.Fatalf("err = %v, want allowed", err)
						}
						if reflect.ValueOf(got).Kind() == reflect.Pointer && reflect.ValueOf(got).IsNil() {
							t.Fatalf("allowed but answered nil")
						}
						if !rules.reached(op.method, arg) {
							t.Errorf("calls %v: %s %s never reached the service", rules.calls, op.method, arg)
						}
						return
					}
					if c := e.code(err); c != w {
						t.Fatalf("err = %v (code %q), want %s", err, c, w)
					}
					if rules.reached(op.method, "") {
						t.Errorf("refused, yet the service's %s was called: %v", op.method, rules.calls)
					}
					if w == CodeNotFound {
						assertLikeMissing(t, e, ctx, err)
					}
					if _, msg := Classify(err); w == CodeForbidden && (!strings.Contains(msg, string(auth.RoleTenantAdmin)) ||
						!strings.Contains(msg, "your role ("+string(tt.p.Role)+")")) {
						t.Errorf("FORBIDDEN says %q: it names neither the caller's role nor the role needed", msg)
					}
					if w == CodeUnauthenticated && len(rules.calls) > 0 {
						t.Errorf("no principal, yet the service was asked: %v", rules.calls)
					}
				})
			}
		}
	}
}

// Ids the fields resolve to nothing: a delivery that does not exist or whose rule was deleted,
// and a rule whose tenant is gone (an admin may still delete it).
func TestWatchRuleFieldsDanglingIDs(t *testing.T) {
	tests := []struct {
		name string
		call func(r *Resolver, ctx context.Context) (any, error)
		want string
	}{
		{"redeliver a missing delivery", func(r *Resolver, ctx context.Context) (any, error) {
			return r.Mutation().RedeliverWebhook(ctx, deliveryMissing)
		}, CodeNotFound},
		{"redeliver a delivery of a deleted rule", func(r *Resolver, ctx context.Context) (any, error) {
			return r.Mutation().RedeliverWebhook(ctx, deliveryDeleted)
		}, CodeNotFound},
		{"delete a rule whose tenant is gone", func(r *Resolver, ctx context.Context) (any, error) {
			return r.Mutation().DeleteWatchRule(ctx, ruleOrphan)
		}, allowed},
		{"update a rule whose tenant is gone", func(r *Resolver, ctx context.Context) (any, error) {
			return r.Mutation().UpdateWatchRule(ctx, ruleOrphan, ruleInput(nil))
		}, CodeBadUserInput},
		{"deliveries of a missing rule", func(r *Resolver, ctx context.Context) (any, error) {
			return r.Query().WebhookDeliveries(ctx, ruleMissing, nil, nil)
		}, CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rules, _ := rulesEnv(t)
			_, err := tt.call(e.r, e.ctx(admin))
			if tt.want == allowed {
				if err != nil {
					t.Fatalf("err = %v, want allowed", err)
				}
				return
			}
			if c := e.code(err); c != tt.want {
				t.Fatalf("err = %v (code %q), want %s", err, c, tt.want)
			}
			for _, m := range []string{"Redeliver", "Update", "Deliveries"} {
				if rules.reached(m, "") {
					t.Errorf("refused, yet %s was called: %v", m, rules.calls)
				}
			}
		})
	}
}

// createWatchRule: who may create, who owns the rule, and the filter's organisations checked
// against the owner's scope (another tenant's organisation reads as unknown, like a missing one).
func TestCreateWatchRule(t *testing.T) {
	conSyd, conMel := orgGID("syd1", "c0a0-0001"), orgGID("mel1", "c0a0-0002")
	fabrikam, tailspinOrg, missing := orgGID("syd1", "f0a0-0001"), orgGID("akl1", "t0a0-0001"), orgGID("syd1", "dead-0001")
	const (
		notOwner   = "tenant: a tenant's rules belong to that tenant"
		unknownOrg = "filter.organizationIds: unknown organisation"
		badID      = "invalid id or cursor"
	)
	tests := []struct {
		name  string
		p     *auth.Principal
		in    model.WatchRuleInput
		want  string // allowed or a code
		msg   string // the message of a BAD_USER_INPUT
		owner *string
	}{
		{"admin: provider-wide", admin, ruleInput(nil), allowed, "", nil},
		{"admin: provider-wide, any organisation", admin, ruleInput(nil, fabrikam, tailspinOrg), allowed, "", nil},
		{"admin: for a tenant", admin, ruleInput(ptr("contoso"), conSyd, conMel), allowed, "", ptr("contoso")},
		{"admin: for a tenant, another tenant's organisation", admin, ruleInput(ptr("contoso"), conSyd, tailspinOrg), CodeBadUserInput, unknownOrg, nil},
		{"admin: for an unknown tenant", admin, ruleInput(ptr("nosuch")), CodeBadUserInput, "tenant: unknown tenant", nil},
		{"admin: for a tenant, a malformed organisation id", admin, ruleInput(ptr("contoso"), "not an id!"), CodeBadUserInput, badID, nil},
		{"tenant admin: owner implied", contosoAdmin, ruleInput(nil), allowed, "", ptr("contoso")},
		{"tenant admin: itself named", contosoAdmin, ruleInput(ptr("contoso"), conSyd), allowed, "", ptr("contoso")},
		{"tenant admin: its organisation, upper case", contosoAdmin, ruleInput(nil, orgGID("mel1", "C0A0-0002")), allowed, "", ptr("contoso")},
		{"tenant admin: for another tenant", contosoAdmin, ruleInput(ptr("tailspin")), CodeBadUserInput, notOwner, nil},
		{"tenant admin: for a tenant that does not exist (same answer)", contosoAdmin, ruleInput(ptr("nosuch")), CodeBadUserInput, notOwner, nil},
		{"tenant admin: another tenant's organisation on its server", contosoAdmin, ruleInput(nil, fabrikam), CodeBadUserInput, unknownOrg, nil},
		{"tenant admin: an organisation on another server", contosoAdmin, ruleInput(nil, tailspinOrg), CodeBadUserInput, unknownOrg, nil},
		{"tenant admin: a missing organisation (same answer)", contosoAdmin, ruleInput(nil, missing), CodeBadUserInput, unknownOrg, nil},
		{"tenant admin: a session's id as an organisation", contosoAdmin, ruleInput(nil, sessionGID("syd1", "x")), CodeBadUserInput, badID, nil},
		{"tenant auditor", contoso, ruleInput(nil), CodeForbidden, "", nil},
		{"tenant auditor naming its tenant", contoso, ruleInput(ptr("contoso")), CodeForbidden, "", nil},
		{"no principal", nil, ruleInput(nil), CodeUnauthenticated, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rules, _ := rulesEnv(t)
			ctx := e.ctx(tt.p)
			got, err := e.r.Mutation().CreateWatchRule(ctx, tt.in)
			if tt.want != allowed {
				if c := e.code(err); c != tt.want {
					t.Fatalf("err = %v (code %q), want %s", err, c, tt.want)
				}
				if tt.msg != "" {
					if m := e.present(ctx, err).Message; m != tt.msg {
						t.Errorf("message %q, want %q", m, tt.msg)
					}
				}
				if len(rules.calls) > 0 {
					t.Errorf("refused, yet the service was called: %v", rules.calls)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want allowed", err)
			}
			if got.Secret == "" || got.Rule == nil {
				t.Fatalf("got %+v, want the rule and its secret", got)
			}
			if !reflect.DeepEqual(rules.createOwner, tt.owner) {
				t.Errorf("owner %v, want %v", ownerName(rules.createOwner), ownerName(tt.owner))
			}
			if rules.createdBy != tt.p.Subject {
				t.Errorf("createdBy %q, want %q", rules.createdBy, tt.p.Subject)
			}
		})
	}
}

func ownerName(s *string) string {
	if s == nil {
		return "<provider-wide>"
	}
	return *s
}

// updateWatchRule: a rule's owner never changes, and the new filter is checked against the
// owner's scope (not the caller's: an admin cannot widen a tenant's rule).
func TestUpdateWatchRuleDefinition(t *testing.T) {
	const ownerFixed = "tenant: a rule's owner cannot change (delete it and create another)"
	tests := []struct {
		name string
		p    *auth.Principal
		id   string
		in   model.WatchRuleInput
		want string // allowed or the BAD_USER_INPUT message
	}{
		{"admin: tenant rule, owner restated", admin, ruleContoso, ruleInput(ptr("contoso")), allowed},
		{"admin: tenant rule, its organisation", admin, ruleContoso, ruleInput(nil, orgGID("syd1", "c0a0-0001")), allowed},
		{"admin: tenant rule, moved to another tenant", admin, ruleContoso, ruleInput(ptr("tailspin")), ownerFixed},
		{"admin: provider-wide rule, given a tenant", admin, ruleProvider, ruleInput(ptr("contoso")), ownerFixed},
		{"admin: provider-wide rule, any organisation", admin, ruleProvider, ruleInput(nil, orgGID("akl1", "t0a0-0001")), allowed},
		{"admin: tenant rule, another tenant's organisation", admin, ruleContoso, ruleInput(nil, orgGID("akl1", "t0a0-0001")), "filter.organizationIds: unknown organisation"},
		{"tenant admin: own rule, given away", contosoAdmin, ruleContoso, ruleInput(ptr("tailspin")), ownerFixed},
		{"tenant admin: own rule, another tenant's organisation", contosoAdmin, ruleContoso, ruleInput(nil, orgGID("syd1", "f0a0-0001")), "filter.organizationIds: unknown organisation"},
		{"tenant admin: own rule, its organisations", contosoAdmin, ruleContoso, ruleInput(nil, orgGID("syd1", "c0a0-0001"), orgGID("mel1", "c0a0-0002")), allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rules, _ := rulesEnv(t)
			ctx := e.ctx(tt.p)
			got, err := e.r.Mutation().UpdateWatchRule(ctx, tt.id, tt.in)
			if tt.want == allowed {
				if err != nil || got == nil || got.ID != tt.id {
					t.Fatalf("got %v, %v; want the rule updated", got, err)
				}
				return
			}
			if c := e.code(err); c != CodeBadUserInput {
				t.Fatalf("err = %v (code %q), want BAD_USER_INPUT", err, c)
			}
			if m := e.present(ctx, err).Message; m != tt.want {
				t.Errorf("message %q, want %q", m, tt.want)
			}
			if rules.reached("Update", "") {
				t.Errorf("refused, yet Update was called: %v", rules.calls)
			}
		})
	}
}

// rotateWatchRuleSecret's overlap: 24 hours by default, 0 to 168 accepted, anything else a
// clear error before the rule is looked at; the caller is checked before the arguments.
func TestRotateWatchRuleSecretOverlap(t *testing.T) {
	const msg = "overlapHours must be between 0 and 168"
	tests := []struct {
		name  string
		p     *auth.Principal
		hours *int
		want  time.Duration
		code  string
	}{
		{"default", admin, nil, 24 * time.Hour, ""},
		{"none", admin, ptr(0), 0, ""},
		{"a week", contosoAdmin, ptr(168), 168 * time.Hour, ""},
		{"negative", admin, ptr(-1), 0, CodeBadUserInput},
		{"over a week", contosoAdmin, ptr(169), 0, CodeBadUserInput},
		{"no principal, out of range", nil, ptr(1000), 0, CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rules, _ := rulesEnv(t)
			ctx := e.ctx(tt.p)
			got, err := e.r.Mutation().RotateWatchRuleSecret(ctx, ruleContoso, tt.hours)
			if tt.code != "" {
				if c := e.code(err); c != tt.code {
					t.Fatalf("err = %v (code %q), want %s", err, c, tt.code)
				}
				if tt.code == CodeBadUserInput && e.present(ctx, err).Message != msg {
					t.Errorf("message %q, want %q", e.present(ctx, err).Message, msg)
				}
				if len(rules.calls) > 0 {
					t.Errorf("refused, yet the service was called: %v", rules.calls)
				}
				return
			}
			if err != nil || got == nil || got.Secret == "" {
				t.Fatalf("got %v, %v", got, err)
			}
			if rules.overlap != tt.want {
				t.Errorf("overlap %v, want %v", rules.overlap, tt.want)
			}
		})
	}
}

// watchRules lists what the caller may read: everything for an admin, its tenant's rules for
// a tenant (never provider-wide or another tenant's), even from a service that over-answers.
func TestWatchRulesList(t *testing.T) {
	tests := []struct {
		name   string
		p      *auth.Principal
		owners RuleOwners
		want   []string
		code   string
	}{
		{"provider admin", admin, RuleOwners{All: true}, []string{ruleContoso, ruleOrphan, ruleProvider, ruleTailspin}, ""},
		{"tenant admin", contosoAdmin, RuleOwners{Tenant: "contoso"}, []string{ruleContoso}, ""},
		{"tenant auditor", contoso, RuleOwners{Tenant: "contoso"}, []string{ruleContoso}, ""},
		{"another tenant's auditor", tailspin, RuleOwners{Tenant: "tailspin"}, []string{ruleTailspin}, ""},
		{"a tenant with no rules", auth.NewTenantAdmin("x", "empty", nil), RuleOwners{Tenant: "empty"}, []string{}, ""},
		{"no principal", nil, RuleOwners{}, nil, CodeUnauthenticated},
	}
	for _, overAnswer := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/overAnswer=%v", tt.name, overAnswer), func(t *testing.T) {
				e, rules, _ := rulesEnv(t)
				rules.overAnswer = overAnswer
				got, err := e.r.Query().WatchRules(e.ctx(tt.p))
				if tt.code != "" {
					if c := e.code(err); c != tt.code {
						t.Fatalf("err = %v (code %q), want %s", err, c, tt.code)
					}
					if len(rules.calls) > 0 {
						t.Errorf("the service was asked: %v", rules.calls)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if rules.owners != tt.owners {
					t.Errorf("asked for %+v, want %+v", rules.owners, tt.owners)
				}
				ids := []string{}
				for _, r := range got {
					ids = append(ids, r.ID)
				}
				if !slices.Equal(ids, tt.want) {
					t.Errorf("listed %v, want %v", ids, tt.want)
				}
			})
		}
	}
}

// webhookDeliveries pages with sealed cursors: the store's keyset never reaches the client, the
// next page continues from the end cursor, and bad paging arguments are clear errors.
func TestWebhookDeliveriesPaging(t *testing.T) {
	e, rules, _ := rulesEnv(t)
	for i := range 3 {
		id := fmt.Sprintf("wd-contoso-%d", i)
		rules.deliveries[id] = &model.WebhookDelivery{ID: id, RuleID: ruleContoso}
	}
	ctx := e.ctx(contoso)
	page1, err := e.r.Query().WebhookDeliveries(ctx, ruleContoso, ptr(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rules.first != 2 || rules.after != "" {
		t.Errorf("the service got first=%d after=%q", rules.first, rules.after)
	}
	if len(page1.Edges) != 2 || page1.PageInfo.EndCursor == nil || page1.PageInfo.StartCursor == nil {
		t.Fatalf("page 1: %d edges, page info %+v", len(page1.Edges), page1.PageInfo)
	}
	for _, edge := range page1.Edges {
		if strings.HasPrefix(edge.Cursor, "key-") {
			t.Errorf("the store's key %q reached the client", edge.Cursor)
		}
	}
	if *page1.PageInfo.StartCursor != page1.Edges[0].Cursor || *page1.PageInfo.EndCursor != page1.Edges[1].Cursor {
		t.Errorf("page info cursors are not the edges' cursors")
	}
	page2, err := e.r.Query().WebhookDeliveries(ctx, ruleContoso, ptr(2), page1.PageInfo.EndCursor)
	if err != nil {
		t.Fatal(err)
	}
	if rules.after != "key-"+page1.Edges[1].Node.ID {
		t.Errorf("page 2 asked the store after %q, want after the last delivery of page 1 (%s)", rules.after, page1.Edges[1].Node.ID)
	}
	var seen []string
	for _, p := range []*model.WebhookDeliveryConnection{page1, page2} {
		for _, edge := range p.Edges {
			seen = append(seen, edge.Node.ID)
		}
	}
	if want := []string{deliveryContoso, "wd-contoso-0", "wd-contoso-1", "wd-contoso-2"}; !slices.Equal(seen, want) {
		t.Errorf("paged %v, want %v", seen, want)
	}
	empty, err := e.r.Query().WebhookDeliveries(ctx, ruleContoso, ptr(0), nil)
	if err != nil || len(empty.Edges) != 0 || empty.PageInfo.StartCursor != nil || empty.PageInfo.EndCursor != nil {
		t.Errorf("first: 0 answered %+v, %v; want no edges and no cursors", empty, err)
	}

	bad := []struct {
		name  string
		first *int
		after *string
		msg   string
	}{
		{"negative first", ptr(-1), nil, fmt.Sprintf("first must be between 0 and %d, got -1", model.MaxFirst)},
		{"first over the maximum", ptr(model.MaxFirst + 1), nil, fmt.Sprintf("first must be between 0 and %d, got %d", model.MaxFirst, model.MaxFirst+1)},
		{"a cursor of nothing", nil, ptr("garbage"), ""},
		{"the store's raw key", nil, ptr("key-" + deliveryContoso), ""},
		{"an offset cursor", nil, ptr(testCursors.EncodeOffset(3)), ""},
		{"another kind's keyset cursor", nil, ptr(testCursors.EncodeKeyset("xx", "key-"+deliveryContoso)), ""},
		{"a cursor sealed by another gateway", nil, ptr(gid.NewRandomCursors().EncodeKeyset(deliveryCursorKind, "key-a")), ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e, rules, _ := rulesEnv(t)
			ctx := e.ctx(contoso)
			_, err := e.r.Query().WebhookDeliveries(ctx, ruleContoso, tt.first, tt.after)
			if c := e.code(err); c != CodeBadUserInput {
				t.Fatalf("err = %v (code %q), want BAD_USER_INPUT", err, c)
			}
			if m := e.present(ctx, err).Message; tt.msg != "" && m != tt.msg {
				t.Errorf("message %q, want %q", m, tt.msg)
			}
			if rules.reached("Deliveries", "") {
				t.Errorf("the store was asked: %v", rules.calls)
			}
		})
	}
}

// What the service answers reaches the client under the gateway's codes: its not-found and
// input errors as such, anything else masked as INTERNAL without its text.
func TestWatchRuleServiceErrors(t *testing.T) {
	const secret = "pq: connection to 10.0.0.5 failed password=hunter2"
	tests := []struct {
		name   string
		method string
		err    error
		call   func(r *Resolver, ctx context.Context) (any, error)
		code   string
		msg    string
	}{
		{"create: the definition refused", "Create", &model.InputError{Msg: "url: must be https"},
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().CreateWatchRule(ctx, ruleInput(nil))
			}, CodeBadUserInput, "url: must be https"},
		{"create: the store fails", "Create", fmt.Errorf("watch rules: create: %w", errors.New(secret)),
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().CreateWatchRule(ctx, ruleInput(nil))
			}, CodeInternal, "internal error (request id req-1)"},
		{"update: the rule deleted meanwhile", "Update", ErrNotFound,
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().UpdateWatchRule(ctx, ruleContoso, ruleInput(nil))
			}, CodeNotFound, "not found"},
		{"update: the definition refused", "Update", &model.InputError{Msg: "minItems: ENDED rules only"},
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().UpdateWatchRule(ctx, ruleContoso, ruleInput(nil))
			}, CodeBadUserInput, "minItems: ENDED rules only"},
		{"get: the store fails", "Get", errors.New(secret),
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().DeleteWatchRule(ctx, ruleContoso)
			}, CodeInternal, "internal error (request id req-1)"},
		{"delete: the store fails", "Delete", errors.New(secret),
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().DeleteWatchRule(ctx, ruleContoso)
			}, CodeInternal, "internal error (request id req-1)"},
		{"rotate: the rule deleted meanwhile", "RotateSecret", ErrNotFound,
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().RotateWatchRuleSecret(ctx, ruleContoso, nil)
			}, CodeNotFound, "not found"},
		{"test: out of time", "Test", fmt.Errorf("watch rules: test: %w", context.DeadlineExceeded),
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().TestWatchRule(ctx, ruleContoso)
			}, CodeUpstreamTimeout, "the request deadline passed"},
		{"deliveries: a cursor the store refuses", "Deliveries", &model.InputError{Msg: "after: invalid cursor"},
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Query().WebhookDeliveries(ctx, ruleContoso, nil, nil)
			}, CodeBadUserInput, "after: invalid cursor"},
		{"delivery: the store fails", "Delivery", errors.New(secret),
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().RedeliverWebhook(ctx, deliveryContoso)
			}, CodeInternal, "internal error (request id req-1)"},
		{"redeliver: the delivery pruned meanwhile", "Redeliver", ErrNotFound,
			func(r *Resolver, ctx context.Context) (any, error) {
				return r.Mutation().RedeliverWebhook(ctx, deliveryContoso)
			}, CodeNotFound, "not found"},
		{"list: the store fails", "List", errors.New(secret),
			func(r *Resolver, ctx context.Context) (any, error) { return r.Query().WatchRules(ctx) },
			CodeInternal, "internal error (request id req-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rules, _ := rulesEnv(t)
			rules.fail[tt.method] = tt.err
			ctx := e.ctx(contosoAdmin)
			_, err := tt.call(e.r, ctx)
			if !rules.reached(tt.method, "") {
				t.Fatalf("the case never reached %s: %v (calls %v)", tt.method, err, rules.calls)
			}
			got := e.present(ctx, err)
			if got.Extensions["code"] != tt.code || got.Message != tt.msg {
				t.Errorf("presented as %v %q, want %s %q", got.Extensions["code"], got.Message, tt.code, tt.msg)
			}
			if strings.Contains(got.Message, "hunter2") {
				t.Errorf("the store's text reached the client: %q", got.Message)
			}
		})
	}
}

// Without a store every rules field and the report answer NOT_CONFIGURED, after the caller is
// known (no principal: UNAUTHENTICATED).
func TestWatchRulesNotConfigured(t *testing.T) {
	calls := map[string]func(r *Resolver, ctx context.Context) (any, error){
		"createWatchRule": func(r *Resolver, ctx context.Context) (any, error) {
			return r.Mutation().CreateWatchRule(ctx, ruleInput(nil))
		},
		"watchRules": func(r *Resolver, ctx context.Context) (any, error) { return r.Query().WatchRules(ctx) },
		"restoreAudit": func(r *Resolver, ctx context.Context) (any, error) {
			return r.Query().RestoreAudit(ctx, t0.Add(-time.Hour), t0, nil, nil)
		},
	}
	for _, op := range ruleOps {
		calls[op.name] = func(r *Resolver, ctx context.Context) (any, error) { return op.call(r, ctx, ruleContoso) }
	}
	for name, call := range calls {
		for _, p := range []*auth.Principal{admin, contosoAdmin, nil} {
			want := CodeNotConfigured
			if p == nil {
				want = CodeUnauthenticated
			}
			t.Run(fmt.Sprintf("%s/%v", name, p != nil), func(t *testing.T) {
				e := newEnv(t)
				_, err := call(e.r, e.ctx(p))
				if c := e.code(err); c != want {
					t.Errorf("err = %v (code %q), want %s", err, c, want)
				}
			})
		}
	}
}

// restoreAudit hands the archive the caller's scope: every server for an admin, a tenant's
// servers and organisations only (whatever its filter names); with the archive's coverage
// naming the servers as the gateway knows them.
func TestRestoreAuditScope(t *testing.T) {
	from, to := t0.Add(-24*time.Hour), t0
	conSyd, fabrikam, tail := [2]string{"syd1", "C0A0-0001"}, [2]string{"syd1", "f0a0-0001"}, [2]string{"akl1", "t0a0-0001"}
	tests := []struct {
		name    string
		p       *auth.Principal
		servers []string // the filter's
		want    []string
		sees    [][2]string
		blind   [][2]string
	}{
		{"provider admin", admin, nil, []string{"syd1", "mel1", "akl1"}, [][2]string{conSyd, fabrikam, tail, {"syd1", ""}}, nil},
		{"provider admin, one server", admin, []string{"akl1"}, []string{"akl1"}, nil, nil},
		{"tenant admin", contosoAdmin, nil, []string{"syd1", "mel1"}, [][2]string{conSyd, {"mel1", "c0a0-0002"}}, [][2]string{fabrikam, tail, {"syd1", ""}}},
		{"tenant auditor", contoso, nil, []string{"syd1", "mel1"}, [][2]string{conSyd}, [][2]string{fabrikam, tail}},
		{"tenant, another tenant's server", contoso, []string{"akl1"}, nil, nil, [][2]string{tail}},
		{"tenant, its server and an unknown one", contoso, []string{"mel1", "nosuch"}, []string{"mel1"}, nil, nil},
		{"another tenant", tailspin, nil, []string{"akl1"}, [][2]string{tail}, [][2]string{conSyd, fabrikam}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, audit := rulesEnv(t)
			audit.out = &model.RestoreAudit{Rows: []*model.RestoreAuditRow{}, Coverage: []*model.RestoreAuditCoverage{
				{Server: &model.VboServer{Name: "syd1"}}, {Server: &model.VboServer{Name: "gone"}}}}
			var filter *model.RestoreSessionFilter
			if tt.servers != nil {
				filter = &model.RestoreSessionFilter{Servers: tt.servers}
			}
			res, err := e.r.Query().RestoreAudit(e.ctx(tt.p), from.In(time.FixedZone("NZ", 13*3600)), to, filter, []model.RestoreAuditDimension{model.RestoreAuditDimensionDay})
			if err != nil {
				t.Fatal(err)
			}
			q := audit.got
			if !slices.Equal(q.Servers, tt.want) {
				t.Errorf("servers %v, want %v", q.Servers, tt.want)
			}
			if !q.From.Equal(from) || q.From.Location() != time.UTC || !q.To.Equal(to) {
				t.Errorf("window %v..%v, want %v..%v in UTC", q.From, q.To, from, to)
			}
			if q.Filter != filter || !slices.Equal(q.GroupBy, []model.RestoreAuditDimension{model.RestoreAuditDimensionDay}) {
				t.Errorf("filter %v, groupBy %v not passed on", q.Filter, q.GroupBy)
			}
			for _, o := range tt.sees {
				if !q.InScope(o[0], o[1]) {
					t.Errorf("%v out of scope, want in", o)
				}
			}
			for _, o := range tt.blind {
				if q.InScope(o[0], o[1]) {
					t.Errorf("%v in scope, want out", o)
				}
			}
			if c := res.Coverage[0].Server; c.Name != "syd1" || c.APIVersion != "v6" {
				t.Errorf("coverage server %+v, want syd1 as the gateway knows it", c)
			}
			if c := res.Coverage[1].Server; c.Name != "gone" {
				t.Errorf("a server the gateway no longer has: %+v", c)
			}
		})
	}
}

// restoreAudit's arguments: each mistake is a clear BAD_USER_INPUT and the archive is not asked.
func TestRestoreAuditArguments(t *testing.T) {
	from, to := t0.Add(-24*time.Hour), t0
	after := from.Add(time.Hour)
	day, org := model.RestoreAuditDimensionDay, model.RestoreAuditDimensionOrganization
	tests := []struct {
		name     string
		p        *auth.Principal
		from, to time.Time
		filter   *model.RestoreSessionFilter
		groupBy  []model.RestoreAuditDimension
		code     string
		msg      string
	}{
		{"from equals to", admin, to, to, nil, nil, CodeBadUserInput, "from must be before to"},
		{"from after to", contoso, to, from, nil, nil, CodeBadUserInput, "from must be before to"},
		{"over five years", admin, to.Add(-MaxAuditSpan - time.Second), to, nil, nil, CodeBadUserInput, "from and to may be at most five years apart"},
		{"five years exactly", admin, to.Add(-MaxAuditSpan), to, nil, nil, "", ""},
		{"a dimension twice", admin, from, to, nil, []model.RestoreAuditDimension{day, org, day}, CodeBadUserInput, "groupBy: DAY given twice (each dimension at most once)"},
		{"an unknown dimension", contoso, from, to, nil, []model.RestoreAuditDimension{"WEEKDAY"}, CodeBadUserInput, `groupBy: unknown dimension "WEEKDAY"`},
		{"every dimension once", admin, from, to, nil, model.AllRestoreAuditDimension, "", ""},
		{"tenant: every dimension but TENANT", contoso, from, to, nil,
			slices.DeleteFunc(slices.Clone(model.AllRestoreAuditDimension), func(d model.RestoreAuditDimension) bool { return d == model.RestoreAuditDimensionTenant }), "", ""},
		{"tenant auditor: TENANT", contoso, from, to, nil, []model.RestoreAuditDimension{model.RestoreAuditDimensionTenant}, CodeForbidden,
			"your role (TENANT_AUDITOR) may not group the restore audit by TENANT: it needs PROVIDER_ADMIN"},
		{"tenant admin: TENANT among others", contosoAdmin, from, to, nil, []model.RestoreAuditDimension{day, model.RestoreAuditDimensionTenant}, CodeForbidden,
			"your role (TENANT_ADMIN) may not group the restore audit by TENANT: it needs PROVIDER_ADMIN"},
		{"filter window backwards", contoso, from, to, &model.RestoreSessionFilter{StartTimeFrom: &after, StartTimeTo: &from}, nil,
			CodeBadUserInput, "filter.startTimeFrom is after filter.startTimeTo"},
		{"admin: an unknown server", admin, from, to, &model.RestoreSessionFilter{Servers: []string{"syd1", "nosuch"}}, nil,
			CodeBadUserInput, `filter.servers names an unknown server ("nosuch"); the servers are syd1, mel1, akl1`},
		{"tenant: an unknown server narrows", contoso, from, to, &model.RestoreSessionFilter{Servers: []string{"nosuch"}}, nil, "", ""},
		{"no principal", nil, from, to, nil, nil, CodeUnauthenticated, "authentication required"},
		{"no principal, bad window", nil, to, from, nil, nil, CodeUnauthenticated, "authentication required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, audit := rulesEnv(t)
			ctx := e.ctx(tt.p)
			res, err := e.r.Query().RestoreAudit(ctx, tt.from, tt.to, tt.filter, tt.groupBy)
			if tt.code == "" {
				if err != nil || res == nil || audit.calls != 1 {
					t.Fatalf("got %v, %v after %d archive calls; want the report", res, err, audit.calls)
				}
				return
			}
			got := e.present(ctx, err)
			if got.Extensions["code"] != tt.code || got.Message != tt.msg {
				t.Errorf("presented as %v %q, want %s %q", got.Extensions["code"], got.Message, tt.code, tt.msg)
			}
			if audit.calls > 0 {
				t.Errorf("refused, yet the archive was asked")
			}
		})
	}
}

// Grouped by TENANT, a provider admin's query carries the resolver's TenantOf (the archive
// names each organisation's tenant with it); other queries carry none; a resolver without one
// refuses the grouping as its own fault (INTERNAL), not the caller's.
func TestRestoreAuditTenantOf(t *testing.T) {
	from, to := t0.Add(-24*time.Hour), t0
	byTenant := []model.RestoreAuditDimension{model.RestoreAuditDimensionTenant}
	e, _, audit := rulesEnv(t)
	if _, err := e.r.Query().RestoreAudit(e.ctx(admin), from, to, nil, byTenant); err != nil {
		t.Fatal(err)
	}
	if audit.got.TenantOf == nil {
		t.Fatal("grouped by TENANT without TenantOf")
	}
	if got, ok := audit.got.TenantOf("mel1", "C0A0-0002"); got != "contoso" || !ok {
		t.Errorf("TenantOf = %q, %v: not the resolver's", got, ok)
	}
	if _, err := e.r.Query().RestoreAudit(e.ctx(admin), from, to, nil, []model.RestoreAuditDimension{model.RestoreAuditDimensionDay}); err != nil {
		t.Fatal(err)
	}
	if audit.got.TenantOf != nil {
		t.Error("TenantOf handed over without TENANT")
	}
	e.r.TenantOf = nil
	ctx := e.ctx(admin)
	_, err := e.r.Query().RestoreAudit(ctx, from, to, nil, byTenant)
	if got := e.present(ctx, err); got.Extensions["code"] != CodeInternal || audit.calls != 2 {
		t.Errorf("no TenantOf: %v %q after %d archive calls", got.Extensions["code"], got.Message, audit.calls)
	}
}

// The archive's errors: a report it refuses (too many rows) is the client's to fix; a failing
// database is masked.
func TestRestoreAuditArchiveErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
		msg  string
	}{
		{"too many rows", &model.InputError{Msg: "the report has more than 100000 rows: group by fewer dimensions or narrow from/to"},
			CodeBadUserInput, "the report has more than 100000 rows: group by fewer dimensions or narrow from/to"},
		{"the database fails", fmt.Errorf("restore audit: %w", errors.New("disk I/O error at /var/lib/gw.db")), CodeInternal, "internal error (request id req-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, audit := rulesEnv(t)
			audit.fail = tt.err
			ctx := e.ctx(contoso)
			res, err := e.r.Query().RestoreAudit(ctx, t0.Add(-time.Hour), t0, nil, nil)
			if res != nil {
				t.Errorf("a report alongside an error: %+v", res)
			}
			got := e.present(ctx, err)
			if got.Extensions["code"] != tt.code || got.Message != tt.msg {
				t.Errorf("presented as %v %q, want %s %q", got.Extensions["code"], got.Message, tt.code, tt.msg)
			}
		})
	}
}
