package actionlog

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// Limits on what one record may carry (bad input gets ErrInvalid, never an unbounded row).
const (
	maxReasonRunes = 500
	maxTextBytes   = 2048
	maxDetailBytes = 64 << 10
	maxItems       = 1000
	maxRecipients  = 100
	// The items and recipients of one record together, as stored (JSON): each item and address
	// within maxTextBytes still made megabytes of one row (and of every page reading it).
	maxItemsBytes      = 1 << 20
	maxRecipientsBytes = 64 << 10
)

// Begin appends the record of a step about to be taken and returns it. For KindStart it also
// creates the gateway session (open, VBO id unknown) whose id is the record's id; a KindStop
// or KindReap closes the session at once (its Closed time comes with the outcome), so no step
// begins on a session after its stop's record.
//
// A step on an existing gateway session (every kind but START) goes on that session's chain
// (its tenant's), so a session's steps are ordered by position; the session must exist, be
// open, and belong to the actor's tenant (a provider admin, tenant "", may act on any): else
// ErrNotFound or ErrSessionClosed. Server, organisation, VBO session id and type default to
// the session's; naming others is ErrInvalid.
func (l *Log) Begin(ctx context.Context, e Entry) (Action, error) {
	if err := validateEntry(&e); err != nil {
		return Action{}, err
	}
	at := l.now().UTC()
	if !e.ApprovalUntil.IsZero() && !e.ApprovalUntil.After(at) {
		return Action{}, fmt.Errorf("%w: approval deadline %v is not in the future", ErrInvalid, e.ApprovalUntil)
	}
	r := &record{ID: newID(), Record: recBegin, Kind: e.Kind, Actor: e.Actor, Reason: e.Reason, Server: e.Server,
		OrgID: e.OrganizationID, GwID: e.GatewaySessionID, VBOID: e.VBOSessionID, SessType: e.SessionType,
		Replica: l.replica, Detail: string(e.Detail), Status: StatusPending, AtNS: store.NS(at),
		ItemCount: int64(len(e.Items)), Target: e.Target, Destructive: e.Destructive, IdemKey: e.IdempotencyKey}
	if len(e.Items) > 0 {
		if r.Items = mustJSON(e.Items); len(r.Items) > maxItemsBytes {
			return Action{}, fmt.Errorf("%w: items take more than %d bytes together", ErrInvalid, maxItemsBytes)
		}
	}
	if len(e.Recipients) > 0 {
		if r.Recipients = mustJSON(e.Recipients); len(r.Recipients) > maxRecipientsBytes {
			return Action{}, fmt.Errorf("%w: recipients take more than %d bytes together", ErrInvalid, maxRecipientsBytes)
		}
	}
	if !e.ApprovalUntil.IsZero() {
		r.ApprovalUntil = store.NS(e.ApprovalUntil)
	}
	err := l.st.InTx(ctx, func(tx store.Tx) error {
		r.Tenant = e.Actor.Tenant
		if e.Kind == KindStart {
			r.GwID = r.ID
		} else {
			s, err := getSession(ctx, tx, e.GatewaySessionID)
			if err != nil {
				return err
			}
			if e.Actor.Tenant != "" && e.Actor.Tenant != s.Actor.Tenant {
				return fmt.Errorf("actionlog: gateway session %s: %w", e.GatewaySessionID, ErrNotFound)
			}
			r.Tenant = s.Actor.Tenant
		}
		if err := appendRecord(ctx, tx, r, func() error {
			// Under the chain's lock: a retry racing the first call waits for it, then finds it.
			if e.IdempotencyKey != "" {
				if id, err := idByKey(ctx, tx, e.Actor, e.IdempotencyKey); err != nil || id != "" {
					return cmpOr(err, &duplicate{id: id})
				}
			}
			if e.Kind == KindStart {
				return insertSession(ctx, tx, r)
			}
			// Read again under the chain's lock: the session's steps are serialised with it.
			s, err := getSession(ctx, tx, e.GatewaySessionID)
			if err != nil {
				return err
			}
			if !s.Open {
				return fmt.Errorf("actionlog: gateway session %s: %w", s.ID, ErrSessionClosed)
			}
			for name, v := range map[string][2]string{"server": {r.Server, s.Server}, "organizationId": {r.OrgID, s.OrganizationID},
				"vboSessionId": {r.VBOID, s.VBOSessionID}, "sessionType": {r.SessType, s.Type}} {
				if v[0] != "" && v[1] != "" && v[0] != v[1] {
					return fmt.Errorf("%w: %s %q is not gateway session %s's", ErrInvalid, name, v[0], s.ID)
				}
			}
			r.Server = cmp.Or(r.Server, s.Server)
			r.OrgID = cmp.Or(r.OrgID, s.OrganizationID)
			r.VBOID = cmp.Or(r.VBOID, s.VBOSessionID)
			r.SessType = cmp.Or(r.SessType, s.Type)
			if e.Kind == KindStop || e.Kind == KindReap {
				// A stop closes the session whatever VBO answers: from its record on, no other
				// step (a browse, a second stop) may begin on it (closed_ns comes with the outcome).
				if err := closingSession(ctx, tx, s.ID); err != nil {
					return err
				}
			}
			return touchSession(ctx, tx, s.ID, r.AtNS)
		}); err != nil {
			return err
		}
		return nil
	})
	var dup *duplicate
	if errors.As(err, &dup) {
		return l.duplicate(ctx, dup.id, &e)
	}
	if err != nil && e.IdempotencyKey != "" {
		// The same key begun at once on another chain (a provider admin on two tenants'
		// sessions) loses on the unique index: it is a duplicate all the same.
		if id, kerr := idByKey(ctx, l.st, e.Actor, e.IdempotencyKey); kerr == nil && id != "" {
			return l.duplicate(ctx, id, &e)
		}
	}
	if err != nil {
		return Action{}, fmt.Errorf("actionlog: begin %s: %w", e.Kind, err)
	}
	return actionOf(r, nil, nil), nil
}

// duplicate carries the id of the action an idempotency key was first used for.
type duplicate struct{ id string }

func (d *duplicate) Error() string { return "duplicate of " + d.id }

// duplicate answers a Begin whose key was used before: the first action with ErrDuplicate, or
// ErrKeyReused when the key was used for another request: another kind of step, another
// session, other items, target or recipients, or another destructiveness (answering the first
// action's result for those would report a restore that was never done).
func (l *Log) duplicate(ctx context.Context, id string, e *Entry) (Action, error) {
	a, err := l.Action(ctx, id)
	if err != nil {
		return Action{}, err
	}
	if a.Kind != e.Kind || (e.Kind != KindStart && a.GatewaySessionID != e.GatewaySessionID) ||
		!slices.Equal(a.Items, e.Items) || a.Target != e.Target || !slices.Equal(a.Recipients, e.Recipients) ||
		a.Destructive != e.Destructive {
		return Action{}, fmt.Errorf("actionlog: begin %s: key %q: %w", e.Kind, e.IdempotencyKey, ErrKeyReused)
	}
	return a, fmt.Errorf("actionlog: begin %s: key %q: %w", e.Kind, e.IdempotencyKey, ErrDuplicate)
}

func idByKey(ctx context.Context, q store.Querier, a Actor, key string) (string, error) {
	var id string
	err := q.QueryRow(ctx, `SELECT id FROM restore_action WHERE actor_tenant = ? AND person = ? AND idempotency_key = ? AND record = ?`,
		a.Tenant, a.Person, key, recBegin).Scan(&id)
	if store.IsNoRows(err) {
		return "", nil
	}
	return id, err
}

func cmpOr(err error, other error) error {
	if err != nil {
		return err
	}
	return other
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only []Item and []string are marshalled
	}
	return string(b)
}

// Complete appends the outcome of a begun step. For a successful START it sets the session's
// VBO id; for STOP/REAP (and a failed START) it closes the session. Any step touches the
// session's last activity. A step has one outcome: completing it again is ErrCompleted.
func (l *Log) Complete(ctx context.Context, beginID string, o Outcome) (Action, error) {
	if err := validateOutcome(&o); err != nil {
		return Action{}, err
	}
	at := store.NS(l.now())
	var begin, out *record
	err := l.st.InTx(ctx, func(tx store.Tx) error {
		b, err := getBegin(ctx, tx, beginID)
		if err != nil {
			return err
		}
		if b.Kind == KindStart && o.Status == StatusSucceeded && o.VBOSessionID == "" {
			return fmt.Errorf("%w: a successful START needs VBO's session id", ErrInvalid)
		}
		if b.Kind == KindApprove {
			return fmt.Errorf("record %s: an approval is complete as written: %w", b.ID, ErrInvalid)
		}
		r := &record{ID: newID(), Tenant: b.Tenant, Record: recOutcome, RefID: b.ID, Kind: b.Kind, GwID: b.GwID,
			VBOID: cmp.Or(o.VBOSessionID, b.VBOID), Replica: "", Detail: string(o.Detail), Status: o.Status,
			Upstream: int64(o.UpstreamStatus), Error: o.Error, AtNS: at, Bytes: o.Bytes, SHA256: o.SHA256}
		if o.Counts != nil {
			r.HasCounts, r.Counts = true, *o.Counts
		}
		if err := appendRecord(ctx, tx, r, func() error {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM restore_action WHERE record = ? AND ref_id = ?`, recOutcome, b.ID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrCompleted
			}
			if b.ApprovalUntil != 0 && o.Status != StatusFailed {
				if _, err := approvalOf(ctx, tx, b.ID); err != nil {
					return err
				}
			}
			return completeSession(ctx, tx, b, r)
		}); err != nil {
			return err
		}
		begin, out = b, r
		return nil
	})
	if err != nil {
		return Action{}, fmt.Errorf("actionlog: complete %s: %w", beginID, err)
	}
	var ap *record
	if begin.ApprovalUntil != 0 && o.Status != StatusFailed {
		ap, _ = approvalOf(ctx, l.st, begin.ID)
	}
	return actionOf(begin, out, ap), nil
}

// approvalOf returns the APPROVE record of action id, ErrNotApproved when there is none.
func approvalOf(ctx context.Context, q store.Querier, id string) (*record, error) {
	r, err := scanRecord(q.QueryRow(ctx, `SELECT `+recordCols+` FROM restore_action WHERE ref_id = ? AND record = ? AND kind = ?`,
		id, recBegin, string(KindApprove)))
	if store.IsNoRows(err) {
		return nil, fmt.Errorf("action %s: %w", id, ErrNotApproved)
	}
	return r, err
}

// Approve records approver's approval of action actionID, awaiting it (begun with an
// ApprovalUntil, not approved, not completed): an APPROVE record (its RefID the action) and
// its outcome, on the action's chain. The approver must be of the requester's tenant (else
// ErrNotFound: another tenant's action reads as missing) and another person
// (ErrSelfApproval); past the deadline it is ErrApprovalExpired. Whether the approver's role
// may approve is the caller's to check. Two approvals at once: one wins, the other gets
// ErrNotAwaitingApproval.
func (l *Log) Approve(ctx context.Context, actionID string, approver Actor) (Action, error) {
	if approver.Person == "" {
		return Action{}, fmt.Errorf("%w: approver.person is required", ErrInvalid)
	}
	for name, v := range map[string]string{"approver.person": approver.Person, "approver.displayName": approver.DisplayName,
		"approver.role": approver.Role, "approver.tenant": approver.Tenant, "approver.clientAddr": approver.ClientAddr,
		"approver.userAgent": approver.UserAgent, "approver.requestId": approver.RequestID} {
		if err := checkText(name, v, maxTextBytes); err != nil {
			return Action{}, err
		}
	}
	at := store.NS(l.now())
	err := l.st.InTx(ctx, func(tx store.Tx) error {
		b, err := getBegin(ctx, tx, actionID)
		if err != nil {
			return err
		}
		if approver.Tenant != b.Actor.Tenant {
			return fmt.Errorf("record %s: %w", actionID, ErrNotFound)
		}
		if b.ApprovalUntil == 0 {
			return fmt.Errorf("action %s needs no approval: %w", actionID, ErrNotAwaitingApproval)
		}
		if approver.Person == b.Actor.Person {
			return ErrSelfApproval
		}
		r := &record{ID: newID(), Tenant: b.Tenant, Record: recBegin, RefID: b.ID, Kind: KindApprove, Actor: approver,
			Server: b.Server, OrgID: b.OrgID, GwID: b.GwID, VBOID: b.VBOID, Replica: l.replica, Status: StatusPending, AtNS: at}
		err = appendRecord(ctx, tx, r, func() error {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM restore_action WHERE ref_id = ? AND (record = ? OR kind = ?)`,
				b.ID, recOutcome, string(KindApprove)).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("action %s is approved or completed: %w", actionID, ErrNotAwaitingApproval)
			}
			if at > b.ApprovalUntil {
				return fmt.Errorf("action %s waited until %v: %w", actionID, store.FromNS(b.ApprovalUntil), ErrApprovalExpired)
			}
			return nil
		})
		if err != nil {
			return err
		}
		done := &record{ID: newID(), Tenant: b.Tenant, Record: recOutcome, RefID: r.ID, Kind: KindApprove, GwID: b.GwID,
			VBOID: b.VBOID, Status: StatusSucceeded, AtNS: at}
		if err := appendRecord(ctx, tx, done, nil); err != nil {
			return err
		}
		if b.GwID != "" {
			return touchSession(ctx, tx, b.GwID, at)
		}
		return nil
	})
	if err != nil {
		return Action{}, fmt.Errorf("actionlog: approve %s: %w", actionID, err)
	}
	return l.Action(ctx, actionID)
}

// appendRecord appends r to its chain (r.Tenant) in tx: it locks the chain's head (creating it
// on the chain's first record), sets r's position and prev_hash, runs then (which reads and
// writes under that lock; an error rolls everything back), seals r's hash, inserts it and
// moves the head.
//
// Appends to one chain are serialised by the head row's lock: on PostgreSQL the UPDATE holds
// the row until commit, so a second replica's append waits and then reads the new head (READ
// COMMITTED re-reads the updated row); on SQLite the single writer's IMMEDIATE transaction
// already orders them. UNIQUE (tenant, position) is the backstop: a fork cannot commit.
func appendRecord(ctx context.Context, tx store.Tx, r *record, then func() error) error {
	if _, err := tx.Exec(ctx, `INSERT INTO restore_chain_head (tenant, position, hash) VALUES (?, 0, '') ON CONFLICT (tenant) DO NOTHING`, r.Tenant); err != nil {
		return fmt.Errorf("chain head: %w", err)
	}
	if err := tx.QueryRow(ctx, `UPDATE restore_chain_head SET position = position + 1 WHERE tenant = ? RETURNING position, hash`,
		r.Tenant).Scan(&r.Position, &r.PrevHash); err != nil {
		return fmt.Errorf("chain head: %w", err)
	}
	if then != nil {
		if err := then(); err != nil {
			return err
		}
	}
	r.Hash = r.digest()
	if _, err := tx.Exec(ctx, `INSERT INTO restore_action (`+recordCols+`) VALUES (`+placeholders(len(recordColList))+`)`, r.args()...); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE restore_chain_head SET hash = ? WHERE tenant = ?`, r.Hash, r.Tenant); err != nil {
		return fmt.Errorf("chain head: %w", err)
	}
	return nil
}

func getBegin(ctx context.Context, q store.Querier, id string) (*record, error) {
	r, err := scanRecord(q.QueryRow(ctx, `SELECT `+recordCols+` FROM restore_action WHERE id = ? AND record = ?`, id, recBegin))
	if store.IsNoRows(err) {
		return nil, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	return r, err
}

func validateEntry(e *Entry) error {
	bad := func(f string, args ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrInvalid}, args...)...) }
	switch e.Kind {
	case KindStart, KindBrowse, KindSearch, KindStop, KindReap, KindDownload, KindSend, KindRestoreTo, KindRestoreToOriginal:
	case KindApprove:
		return bad("an APPROVE is recorded by Approve")
	default:
		return bad("unknown kind %q", e.Kind)
	}
	if e.Kind == KindRestoreToOriginal {
		e.Destructive = true
	}
	if !e.Kind.ItemAction() && (len(e.Items) > 0 || e.Target != "" || len(e.Recipients) > 0 || !e.ApprovalUntil.IsZero()) {
		return bad("items, target, recipients and approval belong to item actions, not %s", e.Kind)
	}
	switch {
	case e.Kind == KindSend && len(e.Recipients) == 0:
		return bad("a SEND needs recipients")
	case e.Kind == KindRestoreTo && e.Target == "":
		return bad("a RESTORE_TO needs a target")
	case len(e.Items) > maxItems:
		return bad("more than %d items", maxItems)
	case len(e.Recipients) > maxRecipients:
		return bad("more than %d recipients", maxRecipients)
	}
	for i, it := range e.Items {
		if it.ID == "" {
			return bad("items[%d].id is required", i)
		}
		for name, v := range map[string]string{"id": it.ID, "name": it.Name, "type": it.Type} {
			if err := checkText(fmt.Sprintf("items[%d].%s", i, name), v, maxTextBytes); err != nil {
				return err
			}
		}
	}
	for i, to := range e.Recipients {
		if to == "" {
			return bad("recipients[%d] is empty", i)
		}
		if err := checkText(fmt.Sprintf("recipients[%d]", i), to, maxTextBytes); err != nil {
			return err
		}
	}
	if e.Actor.Person == "" {
		return bad("actor.person is required")
	}
	if e.Kind == KindStart {
		if strings.TrimSpace(e.Reason) == "" {
			return bad("a START needs a reason")
		}
		if e.Server == "" || e.OrganizationID == "" {
			return bad("a START needs a server and an organization")
		}
		if e.GatewaySessionID != "" {
			return bad("a START's gateway session id is assigned by Begin")
		}
	} else if e.GatewaySessionID == "" {
		return bad("a %s needs a gateway session id", e.Kind)
	}
	if utf8.RuneCountInString(e.Reason) > maxReasonRunes {
		return bad("reason is longer than %d characters", maxReasonRunes)
	}
	for name, v := range map[string]string{"actor.person": e.Actor.Person, "actor.displayName": e.Actor.DisplayName,
		"actor.role": e.Actor.Role, "actor.tenant": e.Actor.Tenant, "actor.clientAddr": e.Actor.ClientAddr,
		"actor.userAgent": e.Actor.UserAgent, "actor.requestId": e.Actor.RequestID, "reason": e.Reason, "server": e.Server,
		"organizationId": e.OrganizationID, "gatewaySessionId": e.GatewaySessionID, "vboSessionId": e.VBOSessionID,
		"sessionType": e.SessionType, "target": e.Target, "idempotencyKey": e.IdempotencyKey} {
		if err := checkText(name, v, maxTextBytes); err != nil {
			return err
		}
	}
	return checkDetail("detail", e.Detail)
}

func validateOutcome(o *Outcome) error {
	switch o.Status {
	case StatusSucceeded, StatusFailed, StatusPartial:
	default:
		return fmt.Errorf("%w: outcome status %q (want SUCCEEDED, PARTIAL or FAILED)", ErrInvalid, o.Status)
	}
	if o.Bytes < 0 {
		return fmt.Errorf("%w: bytes %d", ErrInvalid, o.Bytes)
	}
	if c := o.Counts; c != nil && (c.Created < 0 || c.Merged < 0 || c.Skipped < 0 || c.Failed < 0) {
		return fmt.Errorf("%w: negative counts %+v", ErrInvalid, *c)
	}
	if o.SHA256 != "" {
		if d, err := hex.DecodeString(o.SHA256); err != nil || len(d) != sha256.Size || strings.ToLower(o.SHA256) != o.SHA256 {
			return fmt.Errorf("%w: sha256 must be 64 lowercase hex digits", ErrInvalid)
		}
	}
	if o.UpstreamStatus < 0 || o.UpstreamStatus > 999 {
		return fmt.Errorf("%w: upstream status %d", ErrInvalid, o.UpstreamStatus)
	}
	if err := checkText("vboSessionId", o.VBOSessionID, maxTextBytes); err != nil {
		return err
	}
	if err := checkText("error", o.Error, maxTextBytes); err != nil {
		return err
	}
	return checkDetail("detail", o.Detail)
}

// checkText refuses what a TEXT column on either engine cannot keep faithfully (invalid UTF-8,
// NUL) and text past max bytes.
func checkText(name, v string, max int) error {
	switch {
	case len(v) > max:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, name, max)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("%w: %s contains a NUL character", ErrInvalid, name)
	}
	return nil
}

func checkDetail(name string, d json.RawMessage) error {
	if len(d) == 0 {
		return nil
	}
	if len(d) > maxDetailBytes {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, name, maxDetailBytes)
	}
	if !json.Valid(d) {
		return fmt.Errorf("%w: %s is not JSON", ErrInvalid, name)
	}
	return checkText(name, string(d), maxDetailBytes)
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
