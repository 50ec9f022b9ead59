package actionlog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// Limits on what one record may carry (bad input gets ErrInvalid, never an unbounded row).
const (
	maxReasonRunes = 500
	maxTextBytes   = 2048
	maxDetailBytes = 64 << 10
)

// Begin appends the record of a step about to be taken and returns it. For KindStart it also
// creates the gateway session (open, VBO id unknown) whose id is the record's id.
//
// A step on an existing gateway session (every kind but START) goes on that session's chain
// (its tenant's), so a session's steps are ordered by position; the session must exist, be
// open, and belong to the actor's tenant (a provider admin, tenant "", may act on any): else
// ErrNotFound or ErrSessionClosed. Server, organisation and VBO session id default to the
// session's.
func (l *Log) Begin(ctx context.Context, e Entry) (Action, error) {
	if err := validateEntry(&e); err != nil {
		return Action{}, err
	}
	at := l.now().UTC()
	r := &record{ID: newID(), Record: recBegin, Kind: e.Kind, Actor: e.Actor, Reason: e.Reason, Server: e.Server,
		OrgID: e.OrganizationID, GwID: e.GatewaySessionID, VBOID: e.VBOSessionID, SessType: e.SessionType,
		Replica: l.replica, Detail: string(e.Detail), Status: StatusPending, AtNS: store.NS(at)}
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
			r.Server = firstNonEmpty(r.Server, s.Server)
			r.OrgID = firstNonEmpty(r.OrgID, s.OrganizationID)
			r.VBOID = firstNonEmpty(r.VBOID, s.VBOSessionID)
			r.SessType = firstNonEmpty(r.SessType, s.Type)
			return touchSession(ctx, tx, s.ID, r.AtNS)
		}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return Action{}, fmt.Errorf("actionlog: begin %s: %w", e.Kind, err)
	}
	return actionOf(r, nil), nil
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
		r := &record{ID: newID(), Tenant: b.Tenant, Record: recOutcome, RefID: b.ID, Kind: b.Kind, GwID: b.GwID,
			VBOID: firstNonEmpty(o.VBOSessionID, b.VBOID), Replica: "", Detail: string(o.Detail), Status: o.Status,
			Upstream: int64(o.UpstreamStatus), Error: o.Error, AtNS: at}
		if err := appendRecord(ctx, tx, r, func() error {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM restore_action WHERE record = ? AND ref_id = ?`, recOutcome, b.ID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrCompleted
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
	return actionOf(begin, out), nil
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
	case KindStart, KindBrowse, KindSearch, KindStop, KindReap:
	default:
		return bad("unknown kind %q", e.Kind)
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
		"sessionType": e.SessionType} {
		if err := checkText(name, v, maxTextBytes); err != nil {
			return err
		}
	}
	return checkDetail("detail", e.Detail)
}

func validateOutcome(o *Outcome) error {
	switch o.Status {
	case StatusSucceeded, StatusFailed:
	default:
		return fmt.Errorf("%w: outcome status %q (want SUCCEEDED or FAILED)", ErrInvalid, o.Status)
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

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
