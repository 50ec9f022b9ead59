package frontdoor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/download"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/policy"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The item actions (issue 25): download, send, restore to another location, restore to the
// original location, and the approval of the last. Each follows the front door's order:
//
//  1. the role (RESTORE_OPERATOR, TENANT_ADMIN, PROVIDER_ADMIN; approval: TENANT_ADMIN) and the
//     per-person step budget;
//  2. the rules of restore/policy, in the policy's order: the items (restore.maxItemsPerAction),
//     where the data goes (recipients in the organisation's domains or the allowed ones; a
//     restoreItemsTo target inside the organisation), then for a destructive action confirm and
//     fresh authentication (a JWT's auth_time within restore.stepUpMaxAge, an API key's
//     allowRestoreToOriginal), then whether the tenant wants a second person's approval;
//  3. the record (actionlog.Begin) with the items, target or recipients and the idempotency key:
//     a key this person already used answers the first action's result and calls VBO no more;
//  4. VBO, once (never retried: a lost answer is recorded as "outcome unknown");
//  5. the outcome recorded (actionlog.Complete), whatever became of the caller's request.
//
// v6 restores answer their counts at once. v8 answers a session id and the outcome shows in the
// session's Statistics, which are the session's running totals: the front door reads them
// before the restore and then up to Options.StatisticsPolls times after it, and the action's
// counts are the difference. A restore VBO has not finished by then is answered RUNNING and
// its record stays PENDING until the reaper settles it from the session's statistics or the
// archived item events, or gives up (settle.go).
//
// Microsoft 365 credentials come from the configuration only (restore.organizations[]); they
// are revealed when VBO's request body is built and never reach the log, an error or the store.

// ActionUpstream is one VBO server's client as the item actions use it (*upstream.Client).
type ActionUpstream interface {
	SaveItems(ctx context.Context, sessionID string, items upstream.ActionItems) (*upstream.Download, error)
	SendItems(ctx context.Context, sessionID string, items upstream.ActionItems, opts upstream.SendOptions) (*upstream.Response, error)
	RestoreItemsTo(ctx context.Context, sessionID string, items upstream.ActionItems, to upstream.RestoreTarget) (*upstream.RestoreResult, *upstream.Response, error)
	RestoreItemsToOriginal(ctx context.Context, sessionID string, items upstream.ActionItems, opts upstream.RestoreOriginalOptions) (*upstream.RestoreResult, *upstream.Response, error)
	RestoreSessionStatistics(ctx context.Context, sessionID string) (*upstream.RestoreStatistics, *upstream.Response, error)
}

// Downloads issues the one-time links (*download.Service) and sweeps the expired ones.
type Downloads interface {
	Issue(ctx context.Context, r download.Request) (download.Ticket, error)
	Sweep(ctx context.Context, limit int) (int, error)
}

// OrgSettings are an organisation's restore settings from the configuration.
type OrgSettings struct {
	// Domains are its own domains besides those VBO names.
	Domains []string
	// Credentials sign restores into Microsoft 365 (nil: none configured).
	Credentials *config.M365Credentials
}

// Defaults of the v8 statistics follow-up.
const (
	defaultStatisticsPolls    = 10
	defaultStatisticsInterval = 200 * time.Millisecond
	// sweepBatch bounds the expired download links one reaper run completes.
	sweepBatch = 500
)

var _ resolvers.RestoreItemActions = (*Service)(nil)

// intent is what an item action asks, as recorded in its begin record's detail: enough to run
// it later (an approved restore runs with the requester's intent), never a secret.
type intent struct {
	Ref             upstream.BrowseRef `json:"ref"`
	IDs             []string           `json:"ids"`
	To              []string           `json:"to,omitempty"`
	Subject         string             `json:"subject,omitempty"`
	Target          string             `json:"target,omitempty"`
	Folder          string             `json:"folder,omitempty"`
	Conflict        string             `json:"conflict,omitempty"`
	RestoreMembers  bool               `json:"restoreMembers,omitempty"`
	RestoreSettings bool               `json:"restoreSettings,omitempty"`
	OrgName         string             `json:"orgName,omitempty"`
	// OneDrive is a restoreItemsTo OneDrive target as found in the session (id, name, URL).
	OneDrive [3]string `json:"oneDrive,omitempty"`
	// text is the mail's body text: passed to VBO, not recorded.
	text string
}

// verbs says which actions VBO offers on the items of each list (upstream's path table).
var verbs = map[upstream.BrowseKind]map[model.RestoreActionKind]bool{
	upstream.BrowseMailItems:      {model.RestoreActionKindDownload: true, model.RestoreActionKindSend: true, model.RestoreActionKindRestoreTo: true, model.RestoreActionKindRestoreToOriginal: true},
	upstream.BrowseDriveDocuments: {model.RestoreActionKindDownload: true, model.RestoreActionKindSend: true, model.RestoreActionKindRestoreTo: true, model.RestoreActionKindRestoreToOriginal: true},
	upstream.BrowseSiteDocuments:  {model.RestoreActionKindDownload: true, model.RestoreActionKindSend: true, model.RestoreActionKindRestoreTo: true, model.RestoreActionKindRestoreToOriginal: true},
	upstream.BrowseSiteItems:      {model.RestoreActionKindRestoreTo: true, model.RestoreActionKindRestoreToOriginal: true},
	upstream.BrowseTeamFiles:      {model.RestoreActionKindDownload: true, model.RestoreActionKindSend: true, model.RestoreActionKindRestoreToOriginal: true},
	upstream.BrowsePosts:          {model.RestoreActionKindDownload: true, model.RestoreActionKindSend: true},
	upstream.BrowseTeams:          {model.RestoreActionKindRestoreToOriginal: true},
}

var logKinds = map[model.RestoreActionKind]actionlog.Kind{
	model.RestoreActionKindDownload: actionlog.KindDownload, model.RestoreActionKindSend: actionlog.KindSend,
	model.RestoreActionKindRestoreTo: actionlog.KindRestoreTo, model.RestoreActionKindRestoreToOriginal: actionlog.KindRestoreToOriginal,
}

var actionNames = map[model.RestoreActionKind]string{
	model.RestoreActionKindDownload: "download", model.RestoreActionKindSend: "send",
	model.RestoreActionKindRestoreTo: "restore to another location", model.RestoreActionKindRestoreToOriginal: "restore to the original location",
}

// policyErr maps a policy violation to the resolvers' answer (FORBIDDEN or BAD_USER_INPUT,
// naming the rule); other errors pass.
func policyErr(err error) error {
	var v *policy.Violation
	if errors.As(err, &v) {
		return &resolvers.PolicyError{Msg: v.Error(), Forbidden: v.Kind == policy.KindForbidden}
	}
	return err
}

// actionClient is gs's server as an ActionUpstream.
func (s *Service) actionClient(server string) (ActionUpstream, error) {
	c, ok := s.o.Server(server)
	if !ok {
		return nil, resolvers.ErrNotFound
	}
	ac, ok := c.(ActionUpstream)
	if !ok {
		return nil, resolvers.ErrNotConfigured
	}
	return ac, nil
}

func (s *Service) policyOn() error {
	if s.o.Policy == nil {
		return resolvers.ErrNotConfigured
	}
	return nil
}

// org is the session's organisation's own domains and settings.
func (s *Service) org(gs *resolvers.GatewaySession, name, officeName string) (policy.Org, OrgSettings) {
	var set OrgSettings
	if s.o.Organizations != nil {
		set, _ = s.o.Organizations(gs.Server, gs.OrganizationID, name)
	}
	return policy.NewOrg(officeName, []string{name}, set.Domains), set
}

// check runs the rules of req before anything is recorded, and returns the entry to record.
func (s *Service) check(a resolvers.RestoreActor, gs *resolvers.GatewaySession, req resolvers.RestoreItemAction) (actionlog.Entry, intent, OrgSettings, error) {
	var in intent
	if err := s.policyOn(); err != nil {
		return actionlog.Entry{}, in, OrgSettings{}, err
	}
	name := actionNames[req.Kind]
	kind, ok := logKinds[req.Kind]
	if !ok || len(req.Items) == 0 {
		return actionlog.Entry{}, in, OrgSettings{}, &model.InputError{Msg: "unknown restore action"}
	}
	if err := resolvers.CheckRestoreRole(a.Role, name+" restore items"); err != nil {
		return actionlog.Entry{}, in, OrgSettings{}, err
	}
	ref := req.Items[0].Ref
	in = intent{Ref: ref, Subject: req.Subject, Target: req.Target, Folder: req.Folder, OrgName: req.OrgName, text: req.Text}
	items := make([]actionlog.Item, 0, len(req.Items))
	for _, it := range req.Items {
		in.IDs = append(in.IDs, it.Upstream)
		items = append(items, actionlog.Item{ID: it.Upstream, Name: it.Name, Type: string(it.Kind)})
	}
	if err := s.o.Policy.CheckItems(in.IDs); err != nil {
		return actionlog.Entry{}, in, OrgSettings{}, policyErr(err)
	}
	if !verbs[ref.Kind][req.Kind] {
		return actionlog.Entry{}, in, OrgSettings{}, &model.InputError{Msg: fmt.Sprintf("VBO offers no %s for %s items", name, req.Items[0].Kind), Field: "input.itemIds"}
	}
	org, set := s.org(gs, req.OrgName, req.OrgOfficeName)
	e := actionlog.Entry{Actor: actorOf(a), Kind: kind, Reason: req.Reason, GatewaySessionID: gs.ID, Items: items,
		IdempotencyKey: req.IdempotencyKey}
	summary := fmt.Sprintf("%s %d item(s) of %s", name, len(items), describe(ref))
	switch req.Kind {
	case model.RestoreActionKindSend:
		to, err := s.o.Policy.CheckRecipients(a.Tenant, org, req.To)
		if err != nil {
			return e, in, set, policyErr(err)
		}
		in.To, e.Recipients = to, to
		summary += " to " + strings.Join(to, ", ")
	case model.RestoreActionKindRestoreTo:
		t, err := policy.CheckTarget(org, req.Target)
		if err != nil {
			return e, in, set, policyErr(err)
		}
		// VBO gets (and the record keeps) the target as checked, not the caller's text.
		req.Target, in.Target = t, t
		if set.Credentials == nil {
			return e, in, set, &model.InputError{Msg: "no Microsoft 365 restore credentials are configured for this organisation (restore.organizations[].credentials)"}
		}
		e.Target = req.Target
		if req.Folder != "" {
			e.Target += " (folder " + req.Folder + ")"
		}
		summary += " to " + e.Target
	case model.RestoreActionKindRestoreToOriginal:
		if (req.RestoreMembers || req.RestoreSettings) && ref.Kind != upstream.BrowseTeams {
			return e, in, set, &model.InputError{Msg: "restoreMembers and restoreSettings apply to a team's restore only", Field: "input.restoreMembers"}
		}
		pa := policy.Action{Kind: policy.ActionRestoreToOriginal, TeamsMembers: req.RestoreMembers, TeamsSettings: req.RestoreSettings}
		if err := s.o.Policy.CheckDestructive(pa, req.Confirm, a.Credential, s.o.Now()); err != nil {
			return e, in, set, policyErr(err)
		}
		if _, err := conflictOf(ref.Kind, req.Conflict); err != nil {
			return e, in, set, err
		}
		if set.Credentials == nil {
			return e, in, set, &model.InputError{Msg: "no Microsoft 365 restore credentials are configured for this organisation (restore.organizations[].credentials)"}
		}
		in.Conflict, in.RestoreMembers, in.RestoreSettings = string(req.Conflict), req.RestoreMembers, req.RestoreSettings
		e.Destructive = true
		if s.o.Policy.ApprovalRequired(a.Tenant) {
			e.ApprovalUntil = s.o.Now().Add(s.o.Policy.ApprovalExpiry(a.Tenant))
		}
		summary += fmt.Sprintf(" (conflict %s", req.Conflict)
		if req.RestoreMembers {
			summary += ", members"
		}
		if req.RestoreSettings {
			summary += ", settings"
		}
		summary += ")"
	}
	e.Detail = detail(map[string]any{"summary": summary, "intent": in})
	return e, in, set, nil
}

// errKeyReused answers an idempotency key used before for another request.
func errKeyReused() error {
	return &model.InputError{Msg: "was already used for another restore action: use a new key for a new action", Field: "input.idempotencyKey"}
}

// begin records e: a duplicate key answers the first action (dup true).
func (s *Service) begin(ctx context.Context, e actionlog.Entry) (actionlog.Action, bool, error) {
	act, err := s.o.Log.Begin(ctx, e)
	switch {
	case errors.Is(err, actionlog.ErrDuplicate):
		return act, true, nil
	case errors.Is(err, actionlog.ErrKeyReused):
		return act, false, errKeyReused()
	case errors.Is(err, actionlog.ErrSessionClosed), errors.Is(err, actionlog.ErrNotFound):
		return act, false, resolvers.ErrNotFound
	case err != nil:
		return act, false, fmt.Errorf("frontdoor: record the %s: %w", e.Kind, err)
	}
	return act, false, nil
}

// ItemAction sends, restores elsewhere or restores to the original location (see above).
func (s *Service) ItemAction(ctx context.Context, a resolvers.RestoreActor, gs *resolvers.GatewaySession, req resolvers.RestoreItemAction) (*model.RestoreActionResult, error) {
	if req.Kind == model.RestoreActionKindDownload {
		return nil, &model.InputError{Msg: "downloads are prepared by downloadRestoreItems"}
	}
	c, err := s.actionClient(gs.Server)
	if err != nil {
		return nil, err
	}
	if !gs.Open || gs.VBOSessionID == "" {
		return nil, resolvers.ErrNotFound
	}
	e, in, set, err := s.check(a, gs, req)
	if err != nil {
		return nil, err
	}
	if err := s.allow(a); err != nil {
		return nil, err
	}
	if wl, _ := upstream.WorkloadOf(in.Ref.Kind); req.Kind == model.RestoreActionKindRestoreTo && wl == upstream.WorkloadOneDrive && !strings.Contains(in.Target, "://") {
		// The target OneDrive is named by its owner's address: find it in the session first
		// (read-only pages, before anything is recorded).
		if in.OneDrive, err = s.findOneDrive(ctx, c, gs.VBOSessionID, in.Target); err != nil {
			return nil, err
		}
		e.Detail = detail(map[string]any{"summary": summaryOf(e.Detail), "intent": in})
	}
	act, dup, err := s.begin(ctx, e)
	if err != nil {
		return nil, err
	}
	if dup && summaryOf(act.Detail) != summaryOf(e.Detail) {
		// The log compares items, target and recipients; the summary also says the conflict
		// choice and Teams members/settings: another request under an old key is refused.
		return nil, errKeyReused()
	}
	if dup || act.Status == actionlog.StatusPendingApproval {
		return resultOf(act), nil
	}
	return s.run(ctx, c, gs.VBOSessionID, act, req.Kind, in, set)
}

// run calls VBO once for a recorded action and records the outcome.
func (s *Service) run(ctx context.Context, c ActionUpstream, vboID string, act actionlog.Action, kind model.RestoreActionKind, in intent, set OrgSettings) (*model.RestoreActionResult, error) {
	items := upstream.ActionItems{Ref: in.Ref, IDs: in.IDs}
	var before *upstream.RestoreStatistics
	if kind == model.RestoreActionKindRestoreTo || kind == model.RestoreActionKindRestoreToOriginal {
		before, _, _ = c.RestoreSessionStatistics(ctx, vboID) // v8 only; v6 answers ErrUnsupported without a call
	}
	var res *upstream.RestoreResult
	var resp *upstream.Response
	var err error
	switch kind {
	case model.RestoreActionKindSend:
		resp, err = c.SendItems(ctx, vboID, items, upstream.SendOptions{To: in.To, Subject: in.Subject, Text: in.text})
	case model.RestoreActionKindRestoreTo:
		res, resp, err = c.RestoreItemsTo(ctx, vboID, items, target(in, set))
	case model.RestoreActionKindRestoreToOriginal:
		opts := upstream.RestoreOriginalOptions{Credentials: credentials(set.Credentials), RestoreMembers: in.RestoreMembers, RestoreSettings: in.RestoreSettings}
		opts.Conflict, _ = conflictOf(in.Ref.Kind, model.RestoreConflict(in.Conflict))
		if set.Credentials != nil {
			opts.ImpersonationAccountName = set.Credentials.ImpersonationAccountName
		}
		res, resp, err = c.RestoreItemsToOriginal(ctx, vboID, items, opts)
	}
	out := outcome(resp, err)
	var warnings []string
	if err == nil && res != nil {
		counts, settled := actionlog.Counts{Created: res.Created, Merged: res.Merged, Skipped: res.Skipped, Failed: res.Failed}, true
		if res.Async {
			counts, settled = s.follow(ctx, c, res.SessionID, before, len(in.IDs))
		}
		warnings = append(append(warnings, res.Warnings...), res.Exceptions...)
		if !settled {
			// VBO is still working: the record stays PENDING; the answer says RUNNING.
			a := act
			a.VBOSessionID = cmp.Or(a.VBOSessionID, res.SessionID)
			r := resultOf(a)
			r.Warnings = append(r.Warnings, "VBO is still restoring (v8 answers asynchronously): the counts show in the session's statistics and events")
			return r, nil
		}
		withCounts(&out, counts)
		out.Detail = detail(map[string]any{"warnings": nonNil(warnings), "async": res.Async})
	}
	done, cerr := s.complete(ctx, act.ID, out)
	if errors.Is(cerr, actionlog.ErrCompleted) {
		// The reaper settled it meanwhile (settle.go): its outcome is the record's.
		done, cerr = s.o.Log.Action(ctx, act.ID)
	}
	if cerr != nil {
		return nil, fmt.Errorf("frontdoor: record the %s's outcome: %w", act.Kind, cerr)
	}
	if err != nil {
		return nil, err
	}
	return resultOf(done), nil
}

// target builds restoreItemsTo's target for the workload of in.Ref.
func target(in intent, set OrgSettings) upstream.RestoreTarget {
	creds := credentials(set.Credentials)
	to := upstream.RestoreTarget{Folder: in.Folder, Credentials: &creds}
	wl, _ := upstream.WorkloadOf(in.Ref.Kind)
	switch wl {
	case upstream.WorkloadExchange:
		to.Mailbox = in.Target
	case upstream.WorkloadSharePoint:
		to.SiteURL = in.Target
	case upstream.WorkloadOneDrive:
		to.OneDriveID, to.OneDriveName, to.OneDriveURL = in.OneDrive[0], in.OneDrive[1], in.OneDrive[2]
		if to.OneDriveID == "" && to.OneDriveURL == "" {
			to.OneDriveURL = in.Target
		}
	}
	return to
}

// maxTargetPages bounds the OneDrive pages findOneDrive reads (500 each).
const maxTargetPages = 20

// findOneDrive finds the OneDrive of owner address addr among the session's OneDrives (by the
// address, or the personal site URL SharePoint derives from it): BAD_USER_INPUT when none.
func (s *Service) findOneDrive(ctx context.Context, c ActionUpstream, vboID, addr string) ([3]string, error) {
	b, ok := any(c).(Upstream)
	if !ok {
		return [3]string{}, resolvers.ErrNotConfigured
	}
	// VBO lists a OneDrive by name and URL; SharePoint names a person's OneDrive
	// .../personal/<address with every character outside [a-z0-9] as _>.
	personal := "/personal/" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(addr))
	const page = 500
	for i := range maxTargetPages {
		p, _, err := b.Browse(ctx, vboID, upstream.BrowseRef{Kind: upstream.BrowseOneDrives}, upstream.ListOptions{Offset: i * page, Limit: page})
		if err != nil {
			return [3]string{}, err
		}
		for _, d := range p.Results {
			if strings.EqualFold(d.Email, addr) || personal != "" && strings.HasSuffix(strings.ToLower(strings.TrimRight(d.URL, "/")), personal) {
				return [3]string{d.ID, d.Name, d.URL}, nil
			}
		}
		if len(p.Results) < page {
			break
		}
	}
	return [3]string{}, &model.InputError{Msg: fmt.Sprintf("the organisation's backup has no OneDrive of %s", addr), Field: "input.target"}
}

// summaryOf reads the summary back from a detail.
func summaryOf(d json.RawMessage) string {
	var v struct {
		Summary string `json:"summary"`
	}
	_ = json.Unmarshal(d, &v)
	return v.Summary
}

// follow reads v8's session statistics until they account for n more items than before (at
// most Options.StatisticsPolls reads); the counts are the difference.
func (s *Service) follow(ctx context.Context, c ActionUpstream, sessionID string, before *upstream.RestoreStatistics, n int) (actionlog.Counts, bool) {
	var b upstream.RestoreStatistics
	if before != nil {
		b = *before
	}
	for i := range s.o.StatisticsPolls {
		if i > 0 {
			select {
			case <-ctx.Done():
				return actionlog.Counts{}, false
			case <-time.After(s.o.StatisticsInterval):
			}
		}
		st, _, err := c.RestoreSessionStatistics(ctx, sessionID)
		if err != nil || st == nil {
			continue
		}
		if d, ok := statsSince(st, b, max(n, 1)); ok {
			return d, true
		}
		// fewer than n more, or another reading of the totals: wait for the next
	}
	return actionlog.Counts{}, false
}

// statsSince is what v8's session totals st count beyond base: ok when no count went backwards
// and together they account for at least n items.
func statsSince(st *upstream.RestoreStatistics, base upstream.RestoreStatistics, n int) (actionlog.Counts, bool) {
	d := actionlog.Counts{Created: st.Restored - base.Restored, Failed: st.Failed - base.Failed, Skipped: st.Skipped - base.Skipped}
	if d.Created < 0 || d.Failed < 0 || d.Skipped < 0 || d.Created+d.Failed+d.Skipped < int64(n) {
		return actionlog.Counts{}, false
	}
	return d, true
}

// withCounts gives o VBO's counts c and the status they make (FAILED says so in o.Error).
func withCounts(o *actionlog.Outcome, c actionlog.Counts) {
	o.Counts, o.Status = &c, statusOf(c)
	if o.Status == actionlog.StatusFailed {
		o.Error = "VBO restored none of the items"
	}
}

// statusOf is an action's status from VBO's counts: every item done SUCCEEDED, none FAILED,
// some PARTIAL.
func statusOf(c actionlog.Counts) actionlog.Status {
	done, bad := c.Created+c.Merged, c.Failed+c.Skipped
	switch {
	case bad == 0:
		return actionlog.StatusSucceeded
	case done == 0 && c.Failed > 0:
		return actionlog.StatusFailed
	}
	return actionlog.StatusPartial
}

// conflictOf maps the schema's conflict to VBO's for the workload (BAD_USER_INPUT when the
// workload has no such choice).
func conflictOf(kind upstream.BrowseKind, c model.RestoreConflict) (upstream.Conflict, error) {
	var v upstream.Conflict
	switch c {
	case model.RestoreConflictKeep:
		v = upstream.ConflictKeep
	case model.RestoreConflictOverwrite:
		v = upstream.ConflictOverwrite
	case model.RestoreConflictMerge:
		v = upstream.ConflictMerge
	default:
		return "", &model.InputError{Msg: "must be KEEP, OVERWRITE or MERGE", Field: "input.conflict"}
	}
	switch {
	case kind == upstream.BrowseDriveDocuments && v == upstream.ConflictMerge:
		return "", &model.InputError{Msg: "OneDrive restores keep or overwrite, not merge", Field: "input.conflict"}
	case (kind == upstream.BrowseSiteDocuments || kind == upstream.BrowseSiteItems) && v == upstream.ConflictKeep:
		return "", &model.InputError{Msg: "SharePoint restores overwrite or merge the last version, not keep", Field: "input.conflict"}
	case kind == upstream.BrowseMailItems:
		return "", nil // Exchange adds restored items: VBO has no choice to make
	}
	return v, nil
}

// credentials are an organisation's configured credentials as VBO's body takes them: the only
// place their secrets are revealed.
func credentials(m *config.M365Credentials) upstream.RestoreCredentials {
	if m == nil {
		return upstream.RestoreCredentials{}
	}
	if m.IsApplication() {
		return upstream.RestoreCredentials{ApplicationID: m.ApplicationID, ApplicationCertificate: m.Certificate().Reveal(),
			ApplicationCertificatePassword: m.CertificatePassword().Reveal(), ImpersonationAccountName: m.ImpersonationAccountName}
	}
	return upstream.RestoreCredentials{UserName: m.UserName, UserPassword: m.Password().Reveal()}
}

// Download records a DOWNLOAD and issues its one-time link; the link's fetch calls VBO and
// completes the record (DownloadOpener, DownloadRecorder). A key already used for a download
// is refused: the first link was shown once and is not kept.
func (s *Service) Download(ctx context.Context, a resolvers.RestoreActor, gs *resolvers.GatewaySession, req resolvers.RestoreItemAction) (*model.RestoreDownload, error) {
	if s.o.Downloads == nil {
		return nil, resolvers.ErrNotConfigured
	}
	if _, err := s.actionClient(gs.Server); err != nil {
		return nil, err
	}
	if !gs.Open || gs.VBOSessionID == "" {
		return nil, resolvers.ErrNotFound
	}
	req.Kind = model.RestoreActionKindDownload
	e, in, _, err := s.check(a, gs, req)
	if err != nil {
		return nil, err
	}
	if err := s.allow(a); err != nil {
		return nil, err
	}
	act, dup, err := s.begin(ctx, e)
	if err != nil {
		return nil, err
	}
	if dup {
		return nil, &model.InputError{Msg: fmt.Sprintf("already prepared download %s; its link is shown once: use it, or ask again with a new key", act.ID), Field: "input.idempotencyKey"}
	}
	src, err := json.Marshal(downloadSource{Server: gs.Server, VBOSessionID: gs.VBOSessionID, Ref: in.Ref, IDs: in.IDs})
	if err == nil {
		var t download.Ticket
		t, err = s.o.Downloads.Issue(ctx, download.Request{Binding: download.Binding{Tenant: a.Tenant, Person: a.Person}, ActionID: act.ID, Source: src})
		if err == nil {
			return &model.RestoreDownload{URL: t.Path, ExpiresAt: t.ExpiresAt, Action: actionModel(act)}, nil
		}
	}
	if _, cerr := s.complete(ctx, act.ID, actionlog.Outcome{Status: actionlog.StatusFailed, Error: "the download link could not be issued"}); cerr != nil {
		s.o.Logger.ErrorContext(ctx, "restore front door: recording a failed download link", "action", act.ID, "err", cerr)
	}
	return nil, fmt.Errorf("frontdoor: issue the download link: %w", err)
}

// downloadSource is a download link's descriptor: what to ask VBO for, never a secret.
type downloadSource struct {
	Server       string             `json:"server"`
	VBOSessionID string             `json:"vboSessionId"`
	Ref          upstream.BrowseRef `json:"ref"`
	IDs          []string           `json:"ids"`
}

// ErrDownloadSessionClosed: the link's restore session was stopped (or reaped) after the link
// was issued; VBO is not asked.
var ErrDownloadSessionClosed = errors.New("frontdoor: the download's restore session is closed")

// DownloadOpener turns a claimed link's descriptor into VBO's streamed save (one call), while
// the action's gateway session is still open in log: a link outlives neither a stop nor the
// reaper, whatever VBO did with its own session.
func DownloadOpener(server func(name string) (Upstream, bool), log Log) download.Opener {
	return download.OpenerFunc(func(ctx context.Context, cl download.Claim) (download.Body, error) {
		var src downloadSource
		if err := json.Unmarshal(cl.Source, &src); err != nil {
			return download.Body{}, fmt.Errorf("frontdoor: download source: %w", err)
		}
		act, err := log.Action(ctx, cl.ActionID)
		if err != nil {
			return download.Body{}, fmt.Errorf("frontdoor: download action: %w", err)
		}
		gs, err := log.Session(ctx, act.GatewaySessionID)
		if err != nil {
			return download.Body{}, fmt.Errorf("frontdoor: download session: %w", err)
		}
		if !gs.Open || gs.VBOSessionID != src.VBOSessionID {
			return download.Body{}, ErrDownloadSessionClosed
		}
		c, ok := server(src.Server)
		if !ok {
			return download.Body{}, fmt.Errorf("frontdoor: download source: unknown server %q", src.Server)
		}
		ac, ok := c.(ActionUpstream)
		if !ok {
			return download.Body{}, errors.New("frontdoor: the server's client has no item actions")
		}
		d, err := ac.SaveItems(ctx, src.VBOSessionID, upstream.ActionItems{Ref: src.Ref, IDs: src.IDs})
		if err != nil {
			return download.Body{}, err
		}
		return download.Body{ReadCloser: d.Body, ContentType: d.ContentType, FileName: d.FileName, Length: d.Length}, nil
	})
}

// DownloadRecorder completes a DOWNLOAD's record with what was sent.
func DownloadRecorder(log Log) download.Recorder {
	return download.RecorderFunc(func(ctx context.Context, f download.Finished) error {
		o := actionlog.Outcome{Status: actionlog.StatusSucceeded, Bytes: f.Bytes, SHA256: f.SHA256, UpstreamStatus: 0}
		if f.Status != download.StatusSucceeded {
			o.Status, o.Error = actionlog.StatusFailed, cmp.Or(f.Reason, "the download failed")
		}
		_, err := log.Complete(ctx, f.ActionID, o)
		return err
	})
}

// Approve approves a restore waiting for approval and runs it with the requester's recorded
// intent: another person (a.Person: two API keys of one person are one) who is a TENANT_ADMIN
// of the action's tenant, before it expires, freshly authenticated like the requester (a JWT's
// auth_time within restore.stepUpMaxAge, an API key with allowRestoreToOriginal): see
// policy.CheckApprover. An expired request is completed as FAILED; a session closed meanwhile
// fails the action.
func (s *Service) Approve(ctx context.Context, a resolvers.RestoreActor, actionID string) (*model.RestoreActionResult, error) {
	if err := s.policyOn(); err != nil {
		return nil, err
	}
	act, err := s.o.Log.Action(ctx, actionID)
	if errors.Is(err, actionlog.ErrNotFound) || err == nil && act.Actor.Tenant != a.Tenant {
		return nil, resolvers.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if act.ApprovalUntil == nil || act.Status != actionlog.StatusPendingApproval {
		return nil, &model.InputError{Msg: "this restore action is not waiting for approval"}
	}
	approver := policy.Approver{Person: a.Person, Role: a.Role, Tenant: a.Tenant, Credential: a.Credential}
	if err := s.o.Policy.CheckApprover(policy.Pending{Tenant: act.Actor.Tenant, Requester: act.Actor.Person, ExpiresAt: *act.ApprovalUntil}, approver, s.o.Now()); err != nil {
		var v *policy.Violation
		if errors.As(err, &v) && v.Rule == policy.RuleApprovalExpired {
			_, _ = s.complete(ctx, act.ID, actionlog.Outcome{Status: actionlog.StatusFailed, Error: "the approval request expired"})
		}
		return nil, policyErr(err)
	}
	if err := s.allow(a); err != nil {
		return nil, err
	}
	if _, err := s.o.Log.Approve(ctx, actionID, actorOf(a)); err != nil {
		switch {
		case errors.Is(err, actionlog.ErrSelfApproval):
			return nil, &resolvers.PolicyError{Msg: "the requester may not approve their own restore: another TENANT_ADMIN of the tenant must (rule " + policy.RuleApproverSelf + ")", Forbidden: true}
		case errors.Is(err, actionlog.ErrApprovalExpired):
			return nil, &resolvers.PolicyError{Msg: "the approval request expired (rule " + policy.RuleApprovalExpired + ")"}
		case errors.Is(err, actionlog.ErrNotAwaitingApproval):
			return nil, &model.InputError{Msg: "this restore action is not waiting for approval"}
		case errors.Is(err, actionlog.ErrNotFound):
			return nil, resolvers.ErrNotFound
		}
		return nil, fmt.Errorf("frontdoor: record the approval: %w", err)
	}
	var d struct {
		Intent intent `json:"intent"`
	}
	_ = json.Unmarshal(act.Detail, &d)
	gs, err := s.o.Log.Session(ctx, act.GatewaySessionID)
	c, cerr := s.actionClient(act.Server)
	if err != nil || cerr != nil || !gs.Open || gs.VBOSessionID == "" {
		done, cerr := s.complete(ctx, act.ID, actionlog.Outcome{Status: actionlog.StatusFailed,
			Error: "the restore session was closed before the approval: start a new session and ask again"})
		if cerr != nil {
			return nil, fmt.Errorf("frontdoor: record the %s's outcome: %w", act.Kind, cerr)
		}
		return resultOf(done), nil
	}
	act, err = s.o.Log.Action(ctx, actionID)
	if err != nil {
		return nil, err
	}
	_, set := s.org(gatewaySession(gs), d.Intent.OrgName, "")
	return s.run(ctx, c, gs.VBOSessionID, act, model.RestoreActionKindRestoreToOriginal, d.Intent, set)
}

// PendingApprovals pages the actions waiting for approval (see resolvers.RestoreItemActions).
func (s *Service) PendingApprovals(ctx context.Context, tenant string, all bool, after string, limit int) ([]resolvers.PendingApproval, error) {
	var list []actionlog.Action
	var err error
	if all {
		ns, id, perr := resolvers.ParseApprovalPosition(after)
		if perr != nil {
			return nil, perr
		}
		list, err = s.o.Log.AwaitingApprovalAll(ctx, ns, id, limit)
	} else {
		var pos int64
		if after != "" {
			if _, perr := fmt.Sscan(after, &pos); perr != nil || pos < 0 {
				return nil, &model.InputError{Msg: "invalid cursor", Field: "after"}
			}
		}
		list, err = s.o.Log.AwaitingApproval(ctx, tenant, pos, limit)
	}
	if err != nil {
		return nil, err
	}
	out := make([]resolvers.PendingApproval, len(list))
	for i, a := range list {
		pos := fmt.Sprint(a.Position)
		if all {
			pos = resolvers.FormatApprovalPosition(store.NS(a.At), a.ID)
		}
		out[i] = resolvers.PendingApproval{Action: actionModel(a), Position: pos}
	}
	return out, nil
}

// resultOf is a recorded action as a RestoreActionResult.
func resultOf(a actionlog.Action) *model.RestoreActionResult {
	r := &model.RestoreActionResult{Action: actionModel(a), Warnings: []string{}}
	switch a.Status {
	case actionlog.StatusPendingApproval:
		r.State = model.RestoreActionStatePendingApproval
	case actionlog.StatusPending:
		r.State = model.RestoreActionStateRunning
	case actionlog.StatusSucceeded:
		r.State = model.RestoreActionStateSucceeded
	case actionlog.StatusPartial:
		r.State = model.RestoreActionStatePartial
	default:
		r.State = model.RestoreActionStateFailed
	}
	r.Counts = r.Action.Counts
	var d struct {
		Warnings []string `json:"warnings"`
	}
	_ = json.Unmarshal(a.OutcomeDetail, &d)
	r.Warnings = append(r.Warnings, d.Warnings...)
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
