package actionlog

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

const sessionCols = `id, tenant, person, display_name, role, client_addr, user_agent, request_id, reason, server, org_id,
	session_type, vbo_session_id, is_open, started_ns, last_activity_ns, closed_ns, replica`

func scanSession(r store.Row) (Session, error) {
	var s Session
	var started, last int64
	var closed sql.NullInt64
	err := r.Scan(&s.ID, &s.Actor.Tenant, &s.Actor.Person, &s.Actor.DisplayName, &s.Actor.Role, &s.Actor.ClientAddr,
		&s.Actor.UserAgent, &s.Actor.RequestID, &s.Reason, &s.Server, &s.OrganizationID, &s.Type, &s.VBOSessionID, &s.Open,
		&started, &last, &closed, &s.Replica)
	s.Started, s.LastActivity, s.Closed = store.FromNS(started), store.FromNS(last), store.TimePtr(closed)
	return s, err
}

func getSession(ctx context.Context, q store.Querier, id string) (Session, error) {
	s, err := scanSession(q.QueryRow(ctx, `SELECT `+sessionCols+` FROM restore_gateway_session WHERE id = ?`, id))
	if store.IsNoRows(err) {
		return s, fmt.Errorf("gateway session %s: %w", id, ErrNotFound)
	}
	return s, err
}

// insertSession opens the gateway session of START record r.
func insertSession(ctx context.Context, tx store.Tx, r *record) error {
	a := r.Actor
	_, err := tx.Exec(ctx, `INSERT INTO restore_gateway_session (id, tenant, person, display_name, role, client_addr, user_agent,
		request_id, reason, server, org_id, session_type, vbo_session_id, is_open, started_ns, last_activity_ns, replica)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)`,
		r.ID, r.Tenant, a.Person, a.DisplayName, a.Role, a.ClientAddr, a.UserAgent, a.RequestID, r.Reason, r.Server, r.OrgID,
		r.SessType, true, r.AtNS, r.AtNS, r.Replica)
	return err
}

func touchSession(ctx context.Context, tx store.Tx, id string, atNS int64) error {
	_, err := tx.Exec(ctx, `UPDATE restore_gateway_session SET last_activity_ns = ? WHERE id = ? AND last_activity_ns < ?`, atNS, id, atNS)
	return err
}

// closingSession closes gateway session id as its stop is begun (closed_ns: the outcome's).
func closingSession(ctx context.Context, tx store.Tx, id string) error {
	_, err := tx.Exec(ctx, `UPDATE restore_gateway_session SET is_open = ? WHERE id = ?`, false, id)
	return err
}

// completeSession applies outcome o of begin record b to b's gateway session.
func completeSession(ctx context.Context, tx store.Tx, b, o *record) error {
	if b.GwID == "" {
		return nil
	}
	closeIt := b.Kind == KindStop || b.Kind == KindReap || (b.Kind == KindStart && o.Status != StatusSucceeded)
	if b.Kind == KindStart && o.Status == StatusSucceeded {
		if _, err := tx.Exec(ctx, `UPDATE restore_gateway_session SET vbo_session_id = ? WHERE id = ?`, o.VBOID, b.GwID); err != nil {
			return err
		}
	}
	if closeIt {
		if _, err := tx.Exec(ctx, `UPDATE restore_gateway_session SET is_open = ?, closed_ns = ? WHERE id = ? AND closed_ns IS NULL`,
			false, o.AtNS, b.GwID); err != nil {
			return err
		}
	}
	return touchSession(ctx, tx, b.GwID, o.AtNS)
}

// Session returns a gateway session by its id.
func (l *Log) Session(ctx context.Context, id string) (Session, error) {
	s, err := getSession(ctx, l.st, id)
	if err != nil {
		return Session{}, fmt.Errorf("actionlog: %w", err)
	}
	return s, nil
}

// SessionByVBO returns the gateway session that opened VBO session vboID on server.
func (l *Log) SessionByVBO(ctx context.Context, server, vboID string) (Session, error) {
	m, err := l.SessionsByVBO(ctx, [][2]string{{server, vboID}})
	if err != nil {
		return Session{}, err
	}
	s, ok := m[[2]string{server, vboID}]
	if !ok {
		return Session{}, fmt.Errorf("actionlog: VBO session %s on %s: %w", vboID, server, ErrNotFound)
	}
	return s, nil
}

// vboBatch is how many keys one SessionsByVBO statement carries.
const vboBatch = 200

// SessionsByVBO returns the gateway sessions of many VBO sessions at once (a loader's batch),
// keyed by {server, VBO id}; missing keys were not started through the gateway. One query per
// 200 keys.
func (l *Log) SessionsByVBO(ctx context.Context, keys [][2]string) (map[[2]string]Session, error) {
	out := make(map[[2]string]Session, len(keys))
	want := make([][2]string, 0, len(keys))
	seen := make(map[[2]string]bool, len(keys))
	for _, k := range keys {
		if k[1] == "" || seen[k] {
			continue
		}
		seen[k] = true
		want = append(want, k)
	}
	for len(want) > 0 {
		chunk := want[:min(len(want), vboBatch)]
		want = want[len(chunk):]
		var cond []byte
		args := make([]any, 0, 2*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				cond = append(cond, " OR "...)
			}
			cond = append(cond, "(server = ? AND vbo_session_id = ?)"...)
			args = append(args, k[0], k[1])
		}
		rows, err := l.st.Query(ctx, `SELECT `+sessionCols+` FROM restore_gateway_session WHERE `+string(cond), args...)
		if err != nil {
			return nil, fmt.Errorf("actionlog: sessions by VBO id: %w", err)
		}
		list, err := store.Collect(rows, scanSession)
		if err != nil {
			return nil, fmt.Errorf("actionlog: sessions by VBO id: %w", err)
		}
		for _, s := range list {
			out[[2]string{s.Server, s.VBOSessionID}] = s
		}
	}
	return out, nil
}

// OpenSessions counts a person's open gateway sessions (maxOpenSessionsPerPerson).
func (l *Log) OpenSessions(ctx context.Context, tenant, person string) (int, error) {
	var n int
	if err := l.st.QueryRow(ctx, `SELECT COUNT(*) FROM restore_gateway_session WHERE tenant = ? AND person = ? AND is_open`,
		tenant, person).Scan(&n); err != nil {
		return 0, fmt.Errorf("actionlog: open sessions: %w", err)
	}
	return n, nil
}

// MaxIdleSessions bounds one IdleSessions answer: the reaper stops those and asks again.
const MaxIdleSessions = 500

// IdleSessions lists open sessions whose last activity is before idleBefore, or opened by a
// replica not in alive (nil: ignore replicas), least recently active first, at most
// MaxIdleSessions.
func (l *Log) IdleSessions(ctx context.Context, idleBefore time.Time, alive []string) ([]Session, error) {
	where := `last_activity_ns < ?`
	args := []any{store.NS(idleBefore)}
	if alive != nil {
		if len(alive) == 0 {
			where = `TRUE`
			args = nil
		} else {
			where += ` OR replica NOT IN (` + placeholders(len(alive)) + `)`
			for _, a := range alive {
				args = append(args, a)
			}
		}
	}
	rows, err := l.st.Query(ctx, `SELECT `+sessionCols+` FROM restore_gateway_session WHERE is_open AND (`+where+`)
		ORDER BY last_activity_ns, id LIMIT `+fmt.Sprint(MaxIdleSessions), args...)
	if err != nil {
		return nil, fmt.Errorf("actionlog: idle sessions: %w", err)
	}
	list, err := store.Collect(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("actionlog: idle sessions: %w", err)
	}
	return list, nil
}

// MaxActionsPage bounds one Actions page.
const MaxActionsPage = 500

// outcomeCols are the outcome's columns (o) merged into an action (NULL when there is none),
// and the approval's (p).
const outcomeCols = `o.id, o.vbo_session_id, o.detail, o.status, o.upstream_status, o.error, o.at_ns, o.has_counts,
	o.created_n, o.merged_n, o.skipped_n, o.failed_n, o.bytes, o.sha256,
	p.id, p.actor_tenant, p.person, p.display_name, p.role, p.client_addr, p.user_agent, p.request_id, p.at_ns,
	c.vbo_session_id`

type outcomeScan struct {
	id, vbo, detail, status, errText, sha sql.NullString
	upstream, at, bytes                   sql.NullInt64
	hasCounts                             sql.NullBool
	counts                                [4]sql.NullInt64
	pID, pTenant, pPerson, pName, pRole   sql.NullString
	pAddr, pAgent, pReq                   sql.NullString
	pAt                                   sql.NullInt64
	claimVBO                              sql.NullString // a START's claim (claim.go)
}

func (o *outcomeScan) dest() []any {
	return []any{&o.id, &o.vbo, &o.detail, &o.status, &o.upstream, &o.errText, &o.at, &o.hasCounts,
		&o.counts[0], &o.counts[1], &o.counts[2], &o.counts[3], &o.bytes, &o.sha,
		&o.pID, &o.pTenant, &o.pPerson, &o.pName, &o.pRole, &o.pAddr, &o.pAgent, &o.pReq, &o.pAt, &o.claimVBO}
}

func (o *outcomeScan) records() (out, approval *record) {
	if o.id.Valid {
		out = &record{ID: o.id.String, Record: recOutcome, VBOID: o.vbo.String, Detail: o.detail.String,
			Status: Status(o.status.String), Upstream: o.upstream.Int64, Error: o.errText.String, AtNS: o.at.Int64,
			HasCounts: o.hasCounts.Bool, Counts: Counts{o.counts[0].Int64, o.counts[1].Int64, o.counts[2].Int64, o.counts[3].Int64},
			Bytes: o.bytes.Int64, SHA256: o.sha.String}
	}
	if o.pID.Valid {
		approval = &record{ID: o.pID.String, Kind: KindApprove, AtNS: o.pAt.Int64, Actor: Actor{Tenant: o.pTenant.String,
			Person: o.pPerson.String, DisplayName: o.pName.String, Role: o.pRole.String, ClientAddr: o.pAddr.String,
			UserAgent: o.pAgent.String, RequestID: o.pReq.String}}
	}
	return out, approval
}

// actionQuery selects begin records with their outcome (o), approval (p) and claim (c: a
// START's, claim.go) merged; where is on b.
func actionQuery(where string) string {
	return `SELECT ` + colsOf("b") + `, ` + outcomeCols + ` FROM restore_action b
		LEFT JOIN restore_action o ON o.record = 'OUTCOME' AND o.ref_id = b.id
		LEFT JOIN restore_action p ON p.record = 'BEGIN' AND p.kind = 'APPROVE' AND p.ref_id = b.id
		LEFT JOIN restore_action c ON c.record = 'CLAIM' AND c.ref_id = b.id
		WHERE b.record = 'BEGIN' AND ` + where
}

func scanAction(row store.Row) (Action, error) {
	var b record
	var o outcomeScan
	if err := row.Scan(append(b.dest(), o.dest()...)...); err != nil {
		return Action{}, err
	}
	out, approval := o.records()
	a := actionOf(&b, out, approval)
	if o.claimVBO.Valid {
		// A START whose answer was lost, matched to VBO's session later (ClaimSession).
		a.VBOSessionID = o.claimVBO.String
	}
	return a, nil
}

// actions runs actionQuery(where) with args, LIMIT limit (clamped to 1..MaxActionsPage; 0: 50);
// what names the list in errors.
func (l *Log) actions(ctx context.Context, what, where string, limit int, args ...any) ([]Action, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := l.st.Query(ctx, actionQuery(where)+` LIMIT ?`, append(args, min(limit, MaxActionsPage))...)
	if err != nil {
		return nil, fmt.Errorf("actionlog: %s: %w", what, err)
	}
	list, err := store.Collect(rows, scanAction)
	if err != nil {
		return nil, fmt.Errorf("actionlog: %s: %w", what, err)
	}
	return list, nil
}

// Actions pages a gateway session's steps, oldest first, after position after (0: from the
// start); limit is clamped to 1..MaxActionsPage (0: 50).
func (l *Log) Actions(ctx context.Context, gatewaySessionID string, after int64, limit int) ([]Action, error) {
	return l.actions(ctx, "actions", `b.gateway_session_id = ? AND b.position > ? ORDER BY b.position`, limit,
		gatewaySessionID, after)
}

// Action returns one step (its begin record's id) with its outcome merged.
func (l *Log) Action(ctx context.Context, id string) (Action, error) {
	a, err := scanAction(l.st.QueryRow(ctx, actionQuery(`b.id = ?`), id))
	if store.IsNoRows(err) {
		return Action{}, fmt.Errorf("actionlog: action %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Action{}, fmt.Errorf("actionlog: action %s: %w", id, err)
	}
	return a, nil
}

// actionOf merges begin record b with its outcome o (nil: not completed) and its approval p
// (nil: none).
func actionOf(b, o, p *record) Action {
	a := Action{ID: b.ID, Position: b.Position, Kind: b.Kind, Actor: b.Actor, Reason: b.Reason, Server: b.Server,
		OrganizationID: b.OrgID, GatewaySessionID: b.GwID, VBOSessionID: b.VBOID, Detail: raw(b.Detail),
		Status: StatusPending, At: store.FromNS(b.AtNS), RefID: b.RefID, Target: b.Target, Destructive: b.Destructive,
		IdempotencyKey: b.IdemKey}
	// Both columns are written by this package from []Item and []string; a row edited into
	// something else fails Verify, and reads back without them.
	_ = json.Unmarshal([]byte(b.Items), &a.Items)
	_ = json.Unmarshal([]byte(b.Recipients), &a.Recipients)
	if b.ApprovalUntil != 0 {
		t := store.FromNS(b.ApprovalUntil)
		a.ApprovalUntil = &t
		if p == nil {
			a.Status = StatusPendingApproval
		}
	}
	if p != nil {
		a.Approval = &Approval{ID: p.ID, Actor: p.Actor, At: store.FromNS(p.AtNS)}
	}
	if o != nil {
		a.Status, a.UpstreamStatus, a.Error, a.OutcomeDetail = o.Status, int(o.Upstream), o.Error, raw(o.Detail)
		a.VBOSessionID = cmp.Or(o.VBOID, a.VBOSessionID)
		t := store.FromNS(o.AtNS)
		a.CompletedAt = &t
		a.Bytes, a.SHA256 = o.Bytes, o.SHA256
		if o.HasCounts {
			c := o.Counts
			a.Counts = &c
		}
	}
	return a
}

// AwaitingApproval lists tenant's actions awaiting approval (begun with an ApprovalUntil, not
// approved, not completed), oldest first, after position after, at most limit (1..
// MaxActionsPage; 0: 50). Expired ones are listed too (ApprovalUntil says so) until completed.
func (l *Log) AwaitingApproval(ctx context.Context, tenant string, after int64, limit int) ([]Action, error) {
	return l.actions(ctx, "awaiting approval", `b.actor_tenant = ? AND b.approval_until_ns <> 0 AND b.position > ?
		AND o.id IS NULL AND p.id IS NULL ORDER BY b.position`, limit,
		tenant, after)
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// AwaitingApprovalAll lists every tenant's actions awaiting approval (the provider admins'
// view), oldest first by the time they were recorded, then id, after (afterNS, afterID) (0 and
// "": from the start); limit as AwaitingApproval.
func (l *Log) AwaitingApprovalAll(ctx context.Context, afterNS int64, afterID string, limit int) ([]Action, error) {
	return l.actions(ctx, "awaiting approval", `b.approval_until_ns <> 0 AND (b.at_ns > ? OR (b.at_ns = ? AND b.id > ?))
		AND o.id IS NULL AND p.id IS NULL ORDER BY b.at_ns, b.id`, limit,
		afterNS, afterNS, afterID)
}
