package resolvers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
)

// The restore item actions (issue 25): download, send, restore to another location, restore
// to the original location, and the approval of the last. The resolvers check the caller's
// scope (the session's tenant and organisation, the item ids bound to that session) and the
// inputs' shape; RestoreItemActions (the front door service, cmd/internal/restore/frontdoor)
// checks the rules (restore/policy), records the action, calls VBO once and records VBO's
// answer.

// RestoreItemActions are the front door's item actions. A RestoreFrontDoor that does not
// implement it answers NOT_CONFIGURED for them. Errors are those of RestoreFrontDoor, plus
// *PolicyError for a rule the request breaks.
type RestoreItemActions interface {
	// ItemAction sends, restores elsewhere or restores to the original location.
	ItemAction(ctx context.Context, a RestoreActor, s *GatewaySession, req RestoreItemAction) (*model.RestoreActionResult, error)
	// Download records a DOWNLOAD and issues its one-time link.
	Download(ctx context.Context, a RestoreActor, s *GatewaySession, req RestoreItemAction) (*model.RestoreDownload, error)
	// Approve approves an action waiting for approval (its record id) and runs it.
	Approve(ctx context.Context, a RestoreActor, actionID string) (*model.RestoreActionResult, error)
	// PendingApprovals pages the actions waiting for approval: tenant's, or every tenant's
	// when all; after is the opaque position of the last one seen ("" : the start).
	PendingApprovals(ctx context.Context, tenant string, all bool, after string, limit int) ([]PendingApproval, error)
}

// PendingApproval is an action waiting for approval and its position in the list.
type PendingApproval struct {
	Action *model.RestoreAction
	// Position is opaque to the resolvers: the cursor seals it.
	Position string
}

// RestoreItemAction is a checked item action request.
type RestoreItemAction struct {
	Kind  model.RestoreActionKind // DOWNLOAD | SEND | RESTORE_TO | RESTORE_TO_ORIGINAL
	Items []RestoreItemRef        // 1..n, all of one list of the session
	// Org is the session's organisation as VBO names it (its own domains come from it).
	OrgName, OrgOfficeName string
	Reason                 string
	IdempotencyKey         string
	// SEND.
	To            []string
	Subject, Text string
	// RESTORE_TO.
	Target, Folder string
	// RESTORE_TO_ORIGINAL.
	Conflict                        model.RestoreConflict
	Confirm                         bool
	RestoreMembers, RestoreSettings bool
}

// PolicyError is a request a restore rule refuses: FORBIDDEN (Forbidden) or BAD_USER_INPUT,
// its message naming the rule.
type PolicyError struct {
	Msg       string
	Forbidden bool
}

func (e *PolicyError) Error() string { return e.Msg }

// Is makes a forbidding PolicyError an ErrForbidden.
func (e *PolicyError) Is(target error) bool { return e.Forbidden && target == ErrForbidden }

// Input bounds of the item actions.
const (
	maxIdempotencyKey = 200
	maxSubject        = 255
	maxSendText       = 10_000
	maxTarget         = 2048
	// MaxActionItemIDs bounds the ids one request may carry before the configured limit
	// (restore.maxItemsPerAction) is applied by the front door.
	MaxActionItemIDs = 10_000
)

// checkActionText validates an optional free text field: UTF-8, at most max characters, no
// control characters other than newline and tab when multiline.
func checkActionText(field, v string, maxRunes int, multiline bool) error {
	switch {
	case !utf8.ValidString(v):
		return &model.InputError{Msg: "must be UTF-8 text", Field: field}
	case utf8.RuneCountInString(v) > maxRunes:
		return &model.InputError{Msg: fmt.Sprintf("is at most %d characters", maxRunes), Field: field}
	}
	for _, r := range v {
		if (r < 0x20 && !(multiline && (r == '\n' || r == '\t'))) || r == 0x7f {
			return &model.InputError{Msg: "must not contain control characters", Field: field}
		}
	}
	return nil
}

// CheckIdempotencyKey validates an idempotency key: 1 to 200 printable characters.
func CheckIdempotencyKey(k string) error {
	if strings.TrimSpace(k) == "" {
		return &model.InputError{Msg: "is required (1 to 200 characters): a retry with the same key answers the first result", Field: "input.idempotencyKey"}
	}
	return checkActionText("input.idempotencyKey", k, maxIdempotencyKey, false)
}

// itemActions is the front door's item actions, or NOT_CONFIGURED.
func (r *Resolver) itemActions(ctx context.Context) (*auth.Principal, RestoreItemActions, error) {
	p, err := r.restorePrincipal(ctx)
	if err != nil {
		return nil, nil, err
	}
	acts, ok := r.Restore.(RestoreItemActions)
	if !ok {
		return nil, nil, ErrNotConfigured
	}
	return p, acts, nil
}

// prepareItemAction checks the common part of an item action: the role, the reason, the key,
// the session (in the caller's scope, open, started through the gateway), the item ids (of
// that session, one list) and the session's organisation. Anything out of scope is NOT_FOUND.
func (r *Resolver) prepareItemAction(ctx context.Context, p *auth.Principal, kind model.RestoreActionKind, what, sessionID string,
	itemIDs []string, reason *string, key string) (*GatewaySession, RestoreItemAction, error) {
	req := RestoreItemAction{Kind: kind, IdempotencyKey: key}
	if err := CheckRestoreRole(p.Role, what); err != nil {
		return nil, req, err
	}
	if reason != nil && *reason != "" {
		if err := CheckRestoreReason(*reason); err != nil {
			return nil, req, err
		}
		req.Reason = *reason
	}
	if err := CheckIdempotencyKey(key); err != nil {
		return nil, req, err
	}
	switch n := len(itemIDs); {
	case n == 0:
		return nil, req, &model.InputError{Msg: "is empty: give the ids of the items (RestoreItem.id) to act on", Field: "input.itemIds"}
	case n > MaxActionItemIDs:
		return nil, req, &model.InputError{Msg: fmt.Sprintf("has %d ids; at most %d", n, MaxActionItemIDs), Field: "input.itemIds"}
	}
	s, _, err := r.actionableSession(ctx, p, sessionID)
	if err != nil {
		return nil, req, err
	}
	if !s.Open || s.VBOSessionID == "" {
		return nil, req, ErrNotFound
	}
	for i, id := range itemIDs {
		it, err := DecodeRestoreItemID(r.Cursors, id, s.ID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, req, ErrNotFound
			}
			return nil, req, &model.InputError{Msg: fmt.Sprintf("itemIds[%d] is not a restore item id (take ids from the session's browse connections)", i), Field: "input.itemIds", Err: err}
		}
		if i > 0 && it.Ref != req.Items[0].Ref {
			return nil, req, &model.InputError{Msg: "the items of one action must come from one list (one folder, OneDrive, library or channel)", Field: "input.itemIds"}
		}
		req.Items = append(req.Items, it)
	}
	org, err := r.findOrg(ctx, s.Server, s.OrganizationID)
	if err != nil {
		return nil, req, err
	}
	req.OrgName, req.OrgOfficeName = org.Upstream.Name, org.Upstream.OfficeName
	return s, req, nil
}

func (r *Resolver) downloadRestoreItems(ctx context.Context, in model.RestoreItemsInput) (*model.RestoreDownload, error) {
	p, acts, err := r.itemActions(ctx)
	if err != nil {
		return nil, err
	}
	s, req, err := r.prepareItemAction(ctx, p, model.RestoreActionKindDownload, "download restore items", in.SessionID, in.ItemIds, in.Reason, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	return acts.Download(ctx, restoreActor(ctx, p), s, req)
}

func (r *Resolver) sendRestoreItems(ctx context.Context, in model.SendRestoreItemsInput) (*model.RestoreActionResult, error) {
	p, acts, err := r.itemActions(ctx)
	if err != nil {
		return nil, err
	}
	if len(in.To) == 0 || len(in.To) > 50 {
		return nil, &model.InputError{Msg: "give 1 to 50 recipients", Field: "input.to"}
	}
	for i, to := range in.To {
		if err := checkActionText(fmt.Sprintf("input.to[%d]", i), to, 320, false); err != nil {
			return nil, err
		}
	}
	s, req, err := r.prepareItemAction(ctx, p, model.RestoreActionKindSend, "send restore items", in.SessionID, in.ItemIds, in.Reason, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	req.To = in.To
	if in.Subject != nil {
		if err := checkActionText("input.subject", *in.Subject, maxSubject, false); err != nil {
			return nil, err
		}
		req.Subject = *in.Subject
	}
	if in.Text != nil {
		if err := checkActionText("input.text", *in.Text, maxSendText, true); err != nil {
			return nil, err
		}
		req.Text = *in.Text
	}
	return acts.ItemAction(ctx, restoreActor(ctx, p), s, req)
}

func (r *Resolver) restoreItemsTo(ctx context.Context, in model.RestoreItemsToInput) (*model.RestoreActionResult, error) {
	p, acts, err := r.itemActions(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkActionText("input.target", in.Target, maxTarget, false); err != nil {
		return nil, err
	}
	s, req, err := r.prepareItemAction(ctx, p, model.RestoreActionKindRestoreTo, "restore items to another location", in.SessionID, in.ItemIds, in.Reason, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	req.Target = strings.TrimSpace(in.Target)
	if in.Folder != nil {
		if err := checkActionText("input.folder", *in.Folder, maxTarget, false); err != nil {
			return nil, err
		}
		req.Folder = *in.Folder
	}
	return acts.ItemAction(ctx, restoreActor(ctx, p), s, req)
}

func (r *Resolver) restoreItemsToOriginal(ctx context.Context, in model.RestoreItemsToOriginalInput) (*model.RestoreActionResult, error) {
	p, acts, err := r.itemActions(ctx)
	if err != nil {
		return nil, err
	}
	if !in.Conflict.IsValid() {
		return nil, &model.InputError{Msg: "must be KEEP, OVERWRITE or MERGE", Field: "input.conflict"}
	}
	s, req, err := r.prepareItemAction(ctx, p, model.RestoreActionKindRestoreToOriginal, "restore items to their original location", in.SessionID, in.ItemIds, in.Reason, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	req.Conflict, req.Confirm = in.Conflict, in.Confirm
	req.RestoreMembers = in.RestoreMembers != nil && *in.RestoreMembers
	req.RestoreSettings = in.RestoreSettings != nil && *in.RestoreSettings
	return acts.ItemAction(ctx, restoreActor(ctx, p), s, req)
}

// maxActionID bounds a restore action id (the log writes 32 hex digits).
const maxActionID = 64

func (r *Resolver) approveRestoreAction(ctx context.Context, id string) (*model.RestoreActionResult, error) {
	p, acts, err := r.itemActions(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role != auth.RoleTenantAdmin {
		return nil, &RoleError{Action: "approve restores", Have: p.Role, Need: []auth.Role{auth.RoleTenantAdmin}}
	}
	if id == "" || len(id) > maxActionID || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, ErrNotFound // not an id the log could have written: missing like any other
	}
	return acts.Approve(ctx, restoreActor(ctx, p), id)
}

// approvalCursorKind names pendingRestoreApprovals cursors.
const approvalCursorKind = "rp"

func (r *Resolver) pendingRestoreApprovals(ctx context.Context, first *int, after *string) (*model.RestoreActionConnection, error) {
	p, acts, err := r.itemActions(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role != auth.RoleTenantAdmin && !p.IsAdmin() {
		return nil, &RoleError{Action: "list restores waiting for approval", Have: p.Role, Need: []auth.Role{auth.RoleTenantAdmin, auth.RoleProviderAdmin}}
	}
	size, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	owner := p.Tenant
	if p.IsAdmin() {
		owner = "*"
	}
	from := ""
	if after != nil && *after != "" {
		text, err := r.Cursors.DecodeKeyset(approvalCursorKind, *after)
		if err != nil {
			return nil, err
		}
		v, err := url.ParseQuery(text)
		if err != nil || v.Get("o") != owner {
			return nil, &model.InputError{Msg: "is not a cursor of your pending approvals", Field: "after"}
		}
		from = v.Get("p")
	}
	conn := &model.RestoreActionConnection{Edges: []*model.RestoreActionEdge{}, PageInfo: &model.PageInfo{HasPreviousPage: from != ""}}
	if size == 0 {
		return conn, nil
	}
	list, err := acts.PendingApprovals(ctx, p.Tenant, p.IsAdmin(), from, size+1)
	if err != nil {
		return nil, err
	}
	if len(list) > size {
		list, conn.PageInfo.HasNextPage = list[:size], true
	}
	for _, pa := range list {
		c := r.Cursors.EncodeKeyset(approvalCursorKind, url.Values{"o": {owner}, "p": {pa.Position}}.Encode())
		conn.Edges = append(conn.Edges, &model.RestoreActionEdge{Cursor: c, Node: pa.Action})
	}
	if n := len(conn.Edges); n > 0 {
		start, end := conn.Edges[0].Cursor, conn.Edges[n-1].Cursor
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	return conn, nil
}

// RestoreAction.events: VBO's archived item events of the action's session that
// resolvers/eventjoin joins to it among the session's item actions: the rule the watch rules'
// webhooks (actor, destructive) and the reaper's settling use, so an event shows under one
// action at most, the one the webhook names.
const (
	maxActionEvents  = 500
	actionEventsScan = 10_000
	// actionStepsScan bounds the session's steps paged for its item actions by a front door
	// that cannot list them alone (RestoreSessionItemActions; the gateway's can).
	actionStepsScan = 10_000
	actionStepsPage = 500
)

// actionEvents joins VBO's archived item events of obj's session to obj (see above). No VBO
// call: only the gateway's log and the archive are read; without the archive (or before the
// watch archived the session) the list is empty.
func (r *Resolver) actionEvents(ctx context.Context, obj *model.RestoreAction) ([]*model.RestoreEvent, error) {
	out := []*model.RestoreEvent{}
	if len(eventjoin.EventTypes(eventjoin.Kind(obj.Kind))) == 0 || obj.VBOSessionID == "" || r.Reads == nil || r.Reads.Reader == nil {
		return out, nil
	}
	acts, mine, err := r.sessionItemActions(ctx, obj)
	if err != nil {
		return nil, err
	}
	if len(acts) > eventjoin.MaxActions {
		return out, nil // too many to join (eventjoin.MaxActions)
	}
	set := eventjoin.NewSet(acts) // the items folded once for every event
	const batch = 1000
	for offset := 0; offset < actionEventsScan && len(out) < maxActionEvents; offset += batch {
		bySession, err := r.Reads.Reader.ArchivedEvents(ctx, obj.Server, []string{obj.VBOSessionID}, offset, batch, 0)
		if err != nil {
			return nil, err
		}
		list := bySession[obj.VBOSessionID]
		for i := range list {
			if set.Join(&list[i]) != mine {
				continue
			}
			out = append(out, &model.RestoreEvent{ServerName: obj.Server, SessionID: obj.VBOSessionID, Upstream: list[i]})
			if len(out) == maxActionEvents {
				break
			}
		}
		if len(list) < batch {
			break
		}
	}
	return out, nil
}

// RestoreSessionItemActions is implemented by a front door that lists a gateway session's item
// actions (DOWNLOAD, SEND, RESTORE_TO, RESTORE_TO_ORIGINAL) alone, oldest first, at most limit:
// RestoreAction.events reads them in one call. Without it, the session's steps are paged.
type RestoreSessionItemActions interface {
	SessionItemActions(ctx context.Context, gatewaySessionID string, limit int) ([]*model.RestoreAction, error)
}

// sessionItemActions are the item actions of obj's gateway session as eventjoin reads them,
// and obj's index among them (at most eventjoin.MaxActions+1 of them).
func (r *Resolver) sessionItemActions(ctx context.Context, obj *model.RestoreAction) ([]eventjoin.Action, int, error) {
	var acts []eventjoin.Action
	mine := -1
	add := func(a *model.RestoreAction) {
		if len(eventjoin.EventTypes(eventjoin.Kind(a.Kind))) == 0 || len(acts) > eventjoin.MaxActions {
			return
		}
		if a.ID == obj.ID {
			mine = len(acts)
		}
		acts = append(acts, joinInput(a))
	}
	if r.Restore != nil {
		gs, err := r.Restore.SessionsByVBO(ctx, [][2]string{{obj.Server, obj.VBOSessionID}})
		if err != nil {
			return nil, -1, err
		}
		if s := gs[[2]string{obj.Server, obj.VBOSessionID}]; s != nil {
			if err := r.eachSessionItemAction(ctx, s.ID, add); err != nil {
				return nil, -1, err
			}
		}
	}
	if mine < 0 && len(acts) <= eventjoin.MaxActions { // not read back with its session (or no session found): it joins still
		mine = len(acts)
		add(obj)
	}
	return acts, mine, nil
}

// eachSessionItemAction calls add with the item actions of gateway session id (then some).
func (r *Resolver) eachSessionItemAction(ctx context.Context, id string, add func(*model.RestoreAction)) error {
	if l, ok := r.Restore.(RestoreSessionItemActions); ok {
		list, err := l.SessionItemActions(ctx, id, eventjoin.MaxActions+1)
		if err != nil {
			return err
		}
		for _, a := range list {
			add(a)
		}
		return nil
	}
	n := 0
	for after, read := int64(0), 0; read < actionStepsScan && n <= eventjoin.MaxActions; {
		page, err := r.Restore.Actions(ctx, id, after, actionStepsPage)
		if err != nil {
			return err
		}
		for _, a := range page {
			if len(eventjoin.EventTypes(eventjoin.Kind(a.Kind))) > 0 {
				n++
			}
			add(a)
		}
		if len(page) < actionStepsPage {
			return nil
		}
		read += len(page)
		after = page[len(page)-1].Position
	}
	return nil
}

// joinInput is a as eventjoin reads it.
func joinInput(a *model.RestoreAction) eventjoin.Action {
	j := eventjoin.Action{ID: a.ID, Kind: eventjoin.Kind(a.Kind), At: a.StartTime, CompletedAt: a.EndTime,
		NeedsApproval: a.NeedsApproval, ApprovedAt: a.ApprovedAt, Items: make([]string, 0, len(a.Items))}
	for _, it := range a.Items {
		if it != nil && it.Name != nil {
			j.Items = append(j.Items, *it.Name)
		}
	}
	return j
}

// FormatApprovalPosition and ParseApprovalPosition are the front door's pending approvals
// positions: a time in Unix nanoseconds and a record id.
func FormatApprovalPosition(atNS int64, id string) string {
	return strconv.FormatInt(atNS, 10) + ":" + id
}

// ParseApprovalPosition opens FormatApprovalPosition's text ("" : the start).
func ParseApprovalPosition(s string) (int64, string, error) {
	if s == "" {
		return 0, "", nil
	}
	ns, id, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || n < 0 || len(id) > maxActionID {
		return 0, "", fmt.Errorf("%w: approvals cursor", gid.ErrInvalid)
	}
	return n, id, nil
}
