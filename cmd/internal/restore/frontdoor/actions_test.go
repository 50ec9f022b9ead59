package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/download"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/policy"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

const actSecret = "pw-never-recorded"

// actVBO is fakeVBO with the item actions: it records each action with the credentials it
// was given, answers v6 counts (async false) or v8 {sessionId} with statistics that advance by
// the items restored, after lag reads.
type actVBO struct {
	*fakeVBO
	async  bool
	failed int64 // items VBO fails per restore
	lag    int   // statistics reads before a v8 restore shows
	amu    sync.Mutex
	stats  upstream.RestoreStatistics
	owed   []int64 // restored counts not shown yet, and their remaining lag
	lags   []int
	passwd []string
}

func (f *actVBO) SaveItems(_ context.Context, id string, items upstream.ActionItems) (*upstream.Download, error) {
	f.record(fmt.Sprintf("save %s %d", id, len(items.IDs)))
	return nil, errors.New("not served")
}

func (f *actVBO) SendItems(_ context.Context, id string, items upstream.ActionItems, o upstream.SendOptions) (*upstream.Response, error) {
	f.record(fmt.Sprintf("send %s %d %s", id, len(items.IDs), strings.Join(o.To, ";")))
	return resp(204), nil
}

func (f *actVBO) restore(call string, n int, creds upstream.RestoreCredentials) (*upstream.RestoreResult, *upstream.Response, error) {
	f.record(call)
	f.amu.Lock()
	defer f.amu.Unlock()
	f.passwd = append(f.passwd, creds.UserPassword)
	ok := int64(n) - f.failed
	if !f.async {
		return &upstream.RestoreResult{Created: ok, Failed: f.failed}, resp(200), nil
	}
	f.owed, f.lags = append(f.owed, int64(n)), append(f.lags, f.lag)
	return &upstream.RestoreResult{Async: true, SessionID: "vbo-session"}, resp(200), nil
}

func (f *actVBO) RestoreItemsTo(_ context.Context, id string, items upstream.ActionItems, to upstream.RestoreTarget) (*upstream.RestoreResult, *upstream.Response, error) {
	return f.restore("restoreTo "+to.Mailbox, len(items.IDs), *to.Credentials)
}

func (f *actVBO) RestoreItemsToOriginal(_ context.Context, id string, items upstream.ActionItems, o upstream.RestoreOriginalOptions) (*upstream.RestoreResult, *upstream.Response, error) {
	return f.restore("restore "+string(o.Conflict), len(items.IDs), o.Credentials)
}

func (f *actVBO) RestoreSessionStatistics(_ context.Context, id string) (*upstream.RestoreStatistics, *upstream.Response, error) {
	if !f.async {
		return nil, nil, upstream.ErrUnsupported
	}
	f.amu.Lock()
	defer f.amu.Unlock()
	for i := 0; i < len(f.owed); i++ {
		if f.lags[i] > 0 {
			f.lags[i]--
			continue
		}
		f.stats.Restored += f.owed[i] - f.failed
		f.stats.Failed += f.failed
		f.owed, f.lags = append(f.owed[:i], f.owed[i+1:]...), append(f.lags[:i], f.lags[i+1:]...)
		i--
	}
	st := f.stats
	return &st, resp(200), nil
}

func (f *actVBO) passwords() []string {
	f.amu.Lock()
	defer f.amu.Unlock()
	return append([]string(nil), f.passwd...)
}

type actEnv struct {
	*env
	avbo *actVBO
	gs   *resolvers.GatewaySession
}

// newActEnv is newEnv with the item actions: tenant t1 wants approval when approval is set;
// the organisation is contoso.onmicrosoft.com with user credentials; an open session.
func newActEnv(t *testing.T, approval bool, tune func(*actVBO)) *actEnv {
	t.Helper()
	av := &actVBO{fakeVBO: &fakeVBO{}}
	if tune != nil {
		tune(av)
	}
	set := policy.Settings{MaxItemsPerAction: 5, StepUpMaxAge: 10 * time.Minute, DefaultApprovalExpiry: time.Hour,
		Tenants: map[string]policy.TenantSettings{"t1": {ApprovalRequired: approval}}}
	pol, err := policy.New(set)
	if err != nil {
		t.Fatal(err)
	}
	creds := config.M365Credentials{UserName: "restore@contoso.com"}
	e := newEnv(t, func(o *Options) {
		o.Server = func(name string) (Upstream, bool) { return av, name == "syd1" }
		o.Policy = pol
		o.Organizations = func(server, id, name string) (OrgSettings, bool) {
			return OrgSettings{Credentials: creds.WithSecrets("", "", actSecret)}, true
		}
		o.StatisticsInterval = time.Millisecond
		o.StatisticsPolls = 3
	})
	e.vbo = av.fakeVBO
	_, gs, err := e.svc.Start(ctx, operator("ann"), startReq())
	if err != nil {
		t.Fatal(err)
	}
	return &actEnv{env: e, avbo: av, gs: gs}
}

func (e *actEnv) req(kind model.RestoreActionKind, key string, n int) resolvers.RestoreItemAction {
	r := resolvers.RestoreItemAction{Kind: kind, IdempotencyKey: key, OrgName: "Contoso", OrgOfficeName: "contoso.onmicrosoft.com"}
	for i := range n {
		r.Items = append(r.Items, resolvers.RestoreItemRef{GatewaySessionID: e.gs.ID, Kind: model.RestoreItemKindMailItem,
			Ref: upstream.BrowseRef{Kind: upstream.BrowseMailItems, ContainerID: "mb", ParentID: "inbox"}, Upstream: fmt.Sprint("m", i), Name: fmt.Sprint("Mail ", i)})
	}
	return r
}

func (e *actEnv) itemCalls() []string {
	var out []string
	for _, c := range e.avbo.Calls() {
		if !strings.HasPrefix(c, "explore") {
			out = append(out, c)
		}
	}
	return out
}

func freshJWT(e *actEnv) auth.Credential {
	return auth.Credential{Kind: auth.CredentialJWT, AuthTime: e.clk.Now().Add(-time.Minute)}
}

// TestItemActionRulesBeforeRecord: every refusal comes before the record and VBO, names its
// rule, and is FORBIDDEN or BAD_USER_INPUT as the policy says.
func TestItemActionRulesBeforeRecord(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, false, nil)
	stale := auth.Credential{Kind: auth.CredentialJWT, AuthTime: e.clk.Now().Add(-time.Hour)}
	keyNoFlag := auth.Credential{Kind: auth.CredentialAPIKey}
	cases := []struct {
		name      string
		cred      auth.Credential
		req       func() resolvers.RestoreItemAction
		rule      string
		forbidden bool
	}{
		{"send to a foreign domain", freshJWT(e), func() resolvers.RestoreItemAction {
			r := e.req(model.RestoreActionKindSend, "k1", 1)
			r.To = []string{"x@evil.example"}
			return r
		}, policy.RuleRecipients, false},
		{"restore to another organisation", freshJWT(e), func() resolvers.RestoreItemAction {
			r := e.req(model.RestoreActionKindRestoreTo, "k2", 1)
			r.Target = "x@fabrikam.com"
			return r
		}, policy.RuleSameOrg, false},
		{"too many items", freshJWT(e), func() resolvers.RestoreItemAction { return e.req(model.RestoreActionKindRestoreTo, "k3", 6) }, policy.RuleMaxItems, false},
		{"no confirm", freshJWT(e), func() resolvers.RestoreItemAction {
			return e.req(model.RestoreActionKindRestoreToOriginal, "k4", 1)
		}, policy.RuleConfirm, false},
		{"stale JWT", stale, func() resolvers.RestoreItemAction {
			r := e.req(model.RestoreActionKindRestoreToOriginal, "k5", 1)
			r.Confirm, r.Conflict = true, model.RestoreConflictKeep
			return r
		}, policy.RuleStepUp, true},
		{"API key without the flag", keyNoFlag, func() resolvers.RestoreItemAction {
			r := e.req(model.RestoreActionKindRestoreToOriginal, "k6", 1)
			r.Confirm, r.Conflict = true, model.RestoreConflictKeep
			return r
		}, policy.RuleAPIKeyStepUp, true},
	}
	for _, tc := range cases {
		a := operator("ann")
		a.Credential = tc.cred
		_, err := e.svc.ItemAction(ctx, a, e.gs, tc.req())
		var pe *resolvers.PolicyError
		if !errors.As(err, &pe) || pe.Forbidden != tc.forbidden || !strings.Contains(pe.Msg, tc.rule) {
			t.Errorf("%s: %v, want a policy error naming %s (forbidden %v)", tc.name, err, tc.rule, tc.forbidden)
		}
	}
	if calls := e.itemCalls(); len(calls) != 0 {
		t.Fatalf("VBO called: %v", calls)
	}
	for _, a := range e.actions(t, e.gs.ID) {
		if a.Kind.ItemAction() {
			t.Fatalf("a refused action was recorded: %+v", a)
		}
	}
}

// TestItemActionOutcomes: v6 counts and v8 statistics differences make the state; a v8
// restore still running after the polls answers RUNNING and stays PENDING in the log.
func TestItemActionOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tune   func(*actVBO)
		n      int
		state  model.RestoreActionState
		status actionlog.Status
		counts *model.RestoreCounts
	}{
		{"v6 all restored", nil, 3, model.RestoreActionStateSucceeded, actionlog.StatusSucceeded, &model.RestoreCounts{Created: 3}},
		{"v6 some failed", func(v *actVBO) { v.failed = 1 }, 3, model.RestoreActionStatePartial, actionlog.StatusPartial, &model.RestoreCounts{Created: 2, Failed: 1}},
		{"v6 all failed", func(v *actVBO) { v.failed = 2 }, 2, model.RestoreActionStateFailed, actionlog.StatusFailed, &model.RestoreCounts{Failed: 2}},
		{"v8 settles after a lag", func(v *actVBO) { v.async, v.lag = true, 1 }, 2, model.RestoreActionStateSucceeded, actionlog.StatusSucceeded, &model.RestoreCounts{Created: 2}},
		{"v8 partial", func(v *actVBO) { v.async, v.failed = true, 1 }, 2, model.RestoreActionStatePartial, actionlog.StatusPartial, &model.RestoreCounts{Created: 1, Failed: 1}},
		{"v8 still running", func(v *actVBO) { v.async, v.lag = true, 10 }, 2, model.RestoreActionStateRunning, actionlog.StatusPending, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newActEnv(t, false, tc.tune)
			r := e.req(model.RestoreActionKindRestoreTo, "k", tc.n)
			r.Target = "bob@contoso.onmicrosoft.com"
			res, err := e.svc.ItemAction(ctx, operator("ann"), e.gs, r)
			if err != nil {
				t.Fatal(err)
			}
			if res.State != tc.state || fmt.Sprint(res.Counts) != fmt.Sprint(tc.counts) {
				t.Fatalf("state %s counts %+v, want %s %+v", res.State, res.Counts, tc.state, tc.counts)
			}
			got, err := e.log.Action(ctx, res.Action.ID)
			if err != nil || got.Status != tc.status || got.Target != r.Target || len(got.Items) != tc.n || got.Items[0].Name != "Mail 0" {
				t.Fatalf("recorded %+v (%v)", got, err)
			}
			if pw := e.avbo.passwords(); len(pw) != 1 || pw[0] != actSecret {
				t.Fatalf("VBO got credentials %q", pw)
			}
			if strings.Contains(fmt.Sprintf("%+v", got), actSecret) {
				t.Fatal("the secret is in the record")
			}
		})
	}
}

// TestItemActionIdempotent: racing retries with one key call VBO once and answer one action.
func TestItemActionIdempotent(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, false, nil)
	r := e.req(model.RestoreActionKindSend, "same", 1)
	r.To = []string{"ann@contoso.onmicrosoft.com"}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.svc.ItemAction(ctx, operator("ann"), e.gs, r)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = res.Action.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("answers name different actions: %v", ids)
		}
	}
	if calls := e.itemCalls(); len(calls) != 1 {
		t.Fatalf("VBO calls %v, want one send", calls)
	}
	// The same key for another kind of action is refused.
	r2 := e.req(model.RestoreActionKindRestoreTo, "same", 1)
	r2.Target = "bob@contoso.onmicrosoft.com"
	if _, err := e.svc.ItemAction(ctx, operator("ann"), e.gs, r2); err == nil || !strings.Contains(err.Error(), "another restore action") {
		t.Fatalf("key reused for another action: %v", err)
	}
}

// TestApproval: a restore to the original location waits; its requester and other tenants
// cannot approve; another tenant admin runs it once with the requester's intent; an expired
// request fails.
func TestApproval(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, true, nil)
	requester := operator("ann")
	requester.Role, requester.Credential = auth.RoleTenantAdmin, freshJWT(e)
	r := e.req(model.RestoreActionKindRestoreToOriginal, "orig", 2)
	for i := range r.Items { // OneDrive documents: VBO's documentAction carries the conflict
		r.Items[i].Kind, r.Items[i].Ref = model.RestoreItemKindDriveDocument, upstream.BrowseRef{Kind: upstream.BrowseDriveDocuments, ContainerID: "od"}
	}
	r.Confirm, r.Conflict = true, model.RestoreConflictOverwrite
	res, err := e.svc.ItemAction(ctx, requester, e.gs, r)
	if err != nil || res.State != model.RestoreActionStatePendingApproval {
		t.Fatalf("%+v %v", res, err)
	}
	if calls := e.itemCalls(); len(calls) != 0 {
		t.Fatalf("VBO called before approval: %v", calls)
	}
	pend, err := e.svc.PendingApprovals(ctx, "t1", false, "", 10)
	if err != nil || len(pend) != 1 || pend[0].Action.ID != res.Action.ID {
		t.Fatalf("pending %+v %v", pend, err)
	}
	if all, err := e.svc.PendingApprovals(ctx, "", true, "", 10); err != nil || len(all) != 1 {
		t.Fatalf("every tenant's pending %+v %v", all, err)
	}
	var pe *resolvers.PolicyError
	if _, err := e.svc.Approve(ctx, requester, res.Action.ID); !errors.As(err, &pe) || !pe.Forbidden || !strings.Contains(pe.Msg, policy.RuleApproverSelf) {
		t.Fatalf("self approval: %v", err)
	}
	stranger := operator("eve")
	stranger.Tenant, stranger.Role, stranger.Credential = "t2", auth.RoleTenantAdmin, freshJWT(e)
	if _, err := e.svc.Approve(ctx, stranger, res.Action.ID); !errors.Is(err, resolvers.ErrNotFound) {
		t.Fatalf("another tenant's approval: %v", err)
	}
	approver := operator("bob")
	approver.Role, approver.Credential = auth.RoleTenantAdmin, freshJWT(e)
	done, err := e.svc.Approve(ctx, approver, res.Action.ID)
	if err != nil || done.State != model.RestoreActionStateSucceeded || show(done.Action.ApprovedBy) != "bob" || done.Counts.Created != 2 {
		t.Fatalf("approved %+v %v", done, err)
	}
	if calls := e.itemCalls(); len(calls) != 1 || calls[0] != "restore Overwrite" {
		t.Fatalf("VBO calls %v, want one restore with the requester's conflict", calls)
	}
	if _, err := e.svc.Approve(ctx, approver, res.Action.ID); err == nil {
		t.Fatal("a second approval was accepted")
	}

	// Expired: refused, and the action fails.
	r.IdempotencyKey = "orig-2"
	res, err = e.svc.ItemAction(ctx, requester, e.gs, r)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(2 * time.Hour)
	if _, err := e.svc.Approve(ctx, approver, res.Action.ID); !errors.As(err, &pe) || !strings.Contains(pe.Msg, policy.RuleApprovalExpired) {
		t.Fatalf("expired approval: %v", err)
	}
	if got, _ := e.log.Action(ctx, res.Action.ID); got.Status != actionlog.StatusFailed {
		t.Fatalf("expired action %s, want FAILED", got.Status)
	}
}

func show(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestHostileRestoreToTarget: restoreItemsTo hands VBO (and the record) the bare address the
// policy checked, never the caller's display name or comment around it.
func TestHostileRestoreToTarget(t *testing.T) {
	t.Parallel()
	for i, target := range []string{`"thief@evil.example" <bob@contoso.onmicrosoft.com>`, "bob@contoso.onmicrosoft.com (thief@evil.example)"} {
		e := newActEnv(t, false, nil)
		r := e.req(model.RestoreActionKindRestoreTo, fmt.Sprint("k", i), 1)
		r.Target = target
		res, err := e.svc.ItemAction(ctx, operator("ann"), e.gs, r)
		if err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		if calls := e.itemCalls(); len(calls) != 1 || calls[0] != "restoreTo bob@contoso.onmicrosoft.com" {
			t.Errorf("%q: VBO got %q", target, calls)
		}
		if got, err := e.log.Action(ctx, res.Action.ID); err != nil || got.Target != "bob@contoso.onmicrosoft.com" {
			t.Errorf("%q: recorded target %q (%v)", target, got.Target, err)
		}
	}
}

// TestHostileDownloadAfterStop: a link issued before its session was stopped fetches nothing
// from VBO afterwards (VBO's own stop may have failed or be slower than the link).
func TestHostileDownloadAfterStop(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, false, nil)
	r := e.req(model.RestoreActionKindDownload, "dl", 1)
	act, err := e.log.Begin(ctx, actionlog.Entry{Actor: actorOf(operator("ann")), Kind: actionlog.KindDownload, GatewaySessionID: e.gs.ID,
		Items: []actionlog.Item{{ID: r.Items[0].Upstream}}})
	if err != nil {
		t.Fatal(err)
	}
	src := []byte(`{"server":"syd1","vboSessionId":"` + e.gs.VBOSessionID + `","ref":{},"ids":["m0"]}`)
	open := DownloadOpener(func(name string) (Upstream, bool) { return e.avbo, name == "syd1" }, e.log)
	saves := func() (n int) {
		for _, c := range e.itemCalls() {
			if strings.HasPrefix(c, "save ") {
				n++
			}
		}
		return n
	}
	if _, err := open.Open(ctx, download.Claim{ActionID: act.ID, Source: src}); err == nil || saves() != 1 {
		t.Fatalf("open session: %v, %d saves; want VBO's error and one save", err, saves())
	}
	if err := e.svc.Stop(ctx, operator("ann"), e.gs); err != nil {
		t.Fatal(err)
	}
	if _, err := open.Open(ctx, download.Claim{ActionID: act.ID, Source: src}); err == nil || saves() != 1 {
		t.Fatalf("after stop: %v, %d saves; want a refusal and no save", err, saves())
	}
}

// TestHostileKeyReusedOtherConflict: a key reused for a restore to the original location that
// asks another conflict choice (or Teams members/settings) is refused, not answered with the
// first restore's result (which would report a restore that was never done).
func TestHostileKeyReusedOtherConflict(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, false, nil)
	a := operator("ann")
	a.Credential = freshJWT(e)
	r := e.req(model.RestoreActionKindRestoreToOriginal, "orig", 1)
	r.Confirm, r.Conflict = true, model.RestoreConflictKeep
	if _, err := e.svc.ItemAction(ctx, a, e.gs, r); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ItemAction(ctx, a, e.gs, r); err != nil {
		t.Fatalf("a plain retry: %v", err)
	}
	r.Conflict = model.RestoreConflictOverwrite
	if _, err := e.svc.ItemAction(ctx, a, e.gs, r); err == nil || !strings.Contains(err.Error(), "another restore action") {
		t.Fatalf("key reused with another conflict: %v", err)
	}
	if calls := e.itemCalls(); len(calls) != 1 {
		t.Fatalf("VBO calls %v, want one restore", calls)
	}
}

// TestHostileApproveConcurrently: two tenant admins approving at once run the restore once.
func TestHostileApproveConcurrently(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, true, nil)
	requester := operator("ann")
	requester.Role, requester.Credential = auth.RoleTenantAdmin, freshJWT(e)
	r := e.req(model.RestoreActionKindRestoreToOriginal, "orig", 1)
	r.Confirm, r.Conflict = true, model.RestoreConflictKeep
	res, err := e.svc.ItemAction(ctx, requester, e.gs, r)
	if err != nil || res.State != model.RestoreActionStatePendingApproval {
		t.Fatalf("%+v %v", res, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, who := range []string{"bob", "cy", "dee", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := operator(who)
			a.Role, a.Credential = auth.RoleTenantAdmin, freshJWT(e)
			if _, err := e.svc.Approve(ctx, a, res.Action.ID); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if calls := e.itemCalls(); ok != 1 || len(calls) != 1 {
		t.Fatalf("%d approvals accepted, VBO calls %v; want one of each", ok, calls)
	}
}

// TestHostileApproveAfterStop: an approval after the session was stopped runs nothing and
// fails the action.
func TestHostileApproveAfterStop(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, true, nil)
	requester := operator("ann")
	requester.Role, requester.Credential = auth.RoleTenantAdmin, freshJWT(e)
	r := e.req(model.RestoreActionKindRestoreToOriginal, "orig", 1)
	r.Confirm, r.Conflict = true, model.RestoreConflictKeep
	res, err := e.svc.ItemAction(ctx, requester, e.gs, r)
	if err != nil || res.State != model.RestoreActionStatePendingApproval {
		t.Fatalf("%+v %v", res, err)
	}
	if err := e.svc.Stop(ctx, requester, e.gs); err != nil {
		t.Fatal(err)
	}
	approver := operator("bob")
	approver.Role, approver.Credential = auth.RoleTenantAdmin, freshJWT(e)
	done, err := e.svc.Approve(ctx, approver, res.Action.ID)
	if err != nil || done.State != model.RestoreActionStateFailed {
		t.Fatalf("approved after stop: %+v %v", done, err)
	}
	for _, c := range e.itemCalls() {
		if strings.HasPrefix(c, "restore") {
			t.Fatalf("VBO restored after the stop: %v", e.itemCalls())
		}
	}
}

// TestApproverStepUpAndPerson: the approver is held to the requester's step-up rule (a JWT's
// auth_time within restore.stepUpMaxAge, an API key with allowRestoreToOriginal) and must be
// another person (persons, not keys, are compared: the edge gives two keys of one person the
// same RestoreActor.Person). Every refusal names its rule, records no approval and calls VBO
// not at all; the action still waits and the next good approval runs it.
func TestApproverStepUpAndPerson(t *testing.T) {
	t.Parallel()
	admin := func(person string, c auth.Credential) resolvers.RestoreActor {
		a := operator(person)
		a.Role, a.Credential = auth.RoleTenantAdmin, c
		return a
	}
	key := auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: true}
	for _, tc := range []struct {
		name      string
		requester func(e *actEnv) resolvers.RestoreActor
		refused   func(e *actEnv) resolvers.RestoreActor // "" rule: none refused
		rule      string
		forbidden bool
		approver  func(e *actEnv) resolvers.RestoreActor
	}{
		{"stale JWT, then fresh", func(e *actEnv) resolvers.RestoreActor { return admin("ann", freshJWT(e)) },
			func(e *actEnv) resolvers.RestoreActor {
				return admin("bob", auth.Credential{Kind: auth.CredentialJWT, AuthTime: e.clk.Now().Add(-11 * time.Minute)})
			}, policy.RuleStepUp, true,
			func(e *actEnv) resolvers.RestoreActor { return admin("bob", freshJWT(e)) }},
		{"JWT without auth_time", func(e *actEnv) resolvers.RestoreActor { return admin("ann", freshJWT(e)) },
			func(*actEnv) resolvers.RestoreActor { return admin("bob", auth.Credential{Kind: auth.CredentialJWT}) }, policy.RuleStepUp, true,
			func(e *actEnv) resolvers.RestoreActor { return admin("bob", freshJWT(e)) }},
		{"API key without the flag, then one with it", func(e *actEnv) resolvers.RestoreActor { return admin("ann", freshJWT(e)) },
			func(*actEnv) resolvers.RestoreActor {
				return admin("apikey:bob-1", auth.Credential{Kind: auth.CredentialAPIKey})
			},
			policy.RuleAPIKeyStepUp, true,
			func(*actEnv) resolvers.RestoreActor { return admin("apikey:bob-2", key) }},
		{"the requester's second key (one person), then another person's key", func(*actEnv) resolvers.RestoreActor { return admin("ann", key) },
			func(*actEnv) resolvers.RestoreActor { return admin("ann", key) }, policy.RuleApproverSelf, true,
			func(*actEnv) resolvers.RestoreActor { return admin("bob", key) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newActEnv(t, true, nil)
			r := e.req(model.RestoreActionKindRestoreToOriginal, "orig", 1)
			r.Confirm, r.Conflict = true, model.RestoreConflictKeep
			res, err := e.svc.ItemAction(ctx, tc.requester(e), e.gs, r)
			if err != nil || res.State != model.RestoreActionStatePendingApproval {
				t.Fatalf("%+v %v", res, err)
			}
			var pe *resolvers.PolicyError
			_, err = e.svc.Approve(ctx, tc.refused(e), res.Action.ID)
			if !errors.As(err, &pe) || pe.Forbidden != tc.forbidden || !strings.Contains(pe.Msg, "(rule "+tc.rule+")") {
				t.Fatalf("refused approver: %v, want a refusal naming %s", err, tc.rule)
			}
			if got, _ := e.log.Action(ctx, res.Action.ID); got.Status != actionlog.StatusPendingApproval || got.Approval != nil {
				t.Fatalf("after the refusal the action is %s approved %+v, want still waiting", got.Status, got.Approval)
			}
			if calls := e.itemCalls(); len(calls) != 0 {
				t.Fatalf("VBO called for a refused approval: %v", calls)
			}
			good := tc.approver(e)
			done, err := e.svc.Approve(ctx, good, res.Action.ID)
			if err != nil || done.State != model.RestoreActionStateSucceeded || show(done.Action.ApprovedBy) != good.Person {
				t.Fatalf("approved by %s: %+v %v", good.Person, done, err)
			}
			if calls := e.itemCalls(); len(calls) != 1 {
				t.Fatalf("VBO calls %v, want one restore", calls)
			}
		})
	}
}
