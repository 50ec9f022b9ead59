package actionlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// UnknownOutcome opens the error of an outcome whose answer VBO sent no more of (the request
// was sent, the answer was lost: VBO may have acted). The front door writes it; ClaimSession
// looks for it on STARTs.
const UnknownOutcome = "outcome unknown"

// recClaim is the record type of a claim: a VBO session matched, after the fact, to a START
// whose answer was lost (ref_id names the START's begin record).
const recClaim = "CLAIM"

// ErrAmbiguous: more than one START whose answer was lost could have opened the session; the
// log does not guess which (ClaimSession).
var ErrAmbiguous = errors.New("actionlog: more than one start whose answer was lost could have opened the session")

// Claim is a VBO session the watcher found that the log does not know, opened by the gateway's
// own VBO account (ClaimSession).
type Claim struct {
	Server         string
	OrganizationID string // required: a session whose organisation is not known is never claimed
	VBOSessionID   string
	InitiatedBy    string    // VBO's initiatedBy (the gateway's account), recorded in the claim
	SeenAt         time.Time // when the watcher saw it; a START begun after is not a candidate
	// Since bounds the window: a START begun at or before Since is not a candidate.
	Since time.Time
	// Until, when set and before SeenAt, bounds it instead: a START begun after it cannot have
	// opened the session (VBO's creation time plus a margin for the clocks).
	Until time.Time
	// From, when set, bounds the START's outcome: a START whose answer the gateway gave up on
	// before From did not open the session (VBO's creation time less a margin for the clocks;
	// VBO created it after the person was told the START failed).
	From time.Time
}

// ClaimSession attributes VBO session c.VBOSessionID to the START whose answer was lost: a
// START on c.Server and c.OrganizationID, begun in (c.Since, c.SeenAt] (c.Until, when earlier,
// closing it), completed at or after c.From (when set) FAILED with
// an UnknownOutcome error, whose gateway session has no VBO session yet and that no other
// session has claimed. It appends a claim record to the START's chain (naming the START and
// the VBO session; the log stays append-only and Verify checks the claim's link) and sets the
// gateway session's VBO id in the same transaction, so SessionsByVBO finds the session from
// then on; the START's Action reads back with the VBO id. The gateway session stays closed
// (the START failed as far as the person was told; VBO closes an idle session on its own).
//
// It returns the gateway session. A VBO session a gateway session already holds returns that
// session (nothing appended). ErrNotFound: no START qualifies. ErrAmbiguous: more than one
// does (two lost answers on one organisation within the window): the log refuses to guess,
// and the session stays outside the gateway.
func (l *Log) ClaimSession(ctx context.Context, c Claim) (Session, error) {
	if c.Server == "" || c.OrganizationID == "" || c.VBOSessionID == "" {
		return Session{}, fmt.Errorf("%w: a claim needs a server, an organisation and a VBO session id", ErrInvalid)
	}
	if err := checkText("initiatedBy", c.InitiatedBy, maxTextBytes); err != nil {
		return Session{}, err
	}
	until := c.SeenAt
	if !c.Until.IsZero() && c.Until.Before(until) {
		until = c.Until
	}
	var from int64 // no bound
	if !c.From.IsZero() {
		from = store.NS(c.From)
	}
	var gw string
	err := l.st.InTx(ctx, func(tx store.Tx) error {
		held, err := l.sessionByVBOIn(ctx, tx, c.Server, c.VBOSessionID)
		if err != nil || held != "" {
			gw = held
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+colsOf("b")+` FROM restore_action b
			JOIN restore_action o ON o.record = ? AND o.ref_id = b.id
			JOIN restore_gateway_session g ON g.id = b.gateway_session_id
			WHERE b.record = ? AND b.kind = ? AND b.server = ? AND b.org_id = ? AND b.at_ns > ? AND b.at_ns <= ?
			AND o.status = ? AND o.error LIKE ? AND o.at_ns >= ? AND g.vbo_session_id = ''
			AND NOT EXISTS (SELECT 1 FROM restore_action x WHERE x.record = ? AND x.ref_id = b.id)
			ORDER BY b.at_ns, b.id LIMIT 2`,
			recOutcome, recBegin, string(KindStart), c.Server, c.OrganizationID, store.NS(c.Since), store.NS(until),
			string(StatusFailed), UnknownOutcome+"%", from, recClaim)
		if err != nil {
			return err
		}
		starts, err := store.Collect(rows, scanRecord)
		if err != nil {
			return err
		}
		switch len(starts) {
		case 0:
			return fmt.Errorf("no start whose answer was lost on %s/%s: %w", c.Server, c.OrganizationID, ErrNotFound)
		case 1:
		default:
			return fmt.Errorf("VBO session %s on %s: %w", c.VBOSessionID, c.Server, ErrAmbiguous)
		}
		b := starts[0]
		r := &record{ID: newID(), Tenant: b.Tenant, Record: recClaim, RefID: b.ID, Kind: KindStart, GwID: b.GwID,
			Server: b.Server, OrgID: b.OrgID, VBOID: c.VBOSessionID, Status: StatusSucceeded, AtNS: store.NS(l.now()),
			Detail: mustJSON(map[string]any{"matchedBy": "watcher", "initiatedBy": c.InitiatedBy,
				"seenAt": c.SeenAt.UTC().Format(time.RFC3339Nano)})}
		if err := appendRecord(ctx, tx, r, func() error {
			_, err := tx.Exec(ctx, `UPDATE restore_gateway_session SET vbo_session_id = ? WHERE id = ? AND vbo_session_id = ''`,
				c.VBOSessionID, b.GwID)
			return err
		}); err != nil {
			return err
		}
		gw = b.GwID
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("actionlog: claim %s on %s: %w", c.VBOSessionID, c.Server, err)
	}
	return l.Session(ctx, gw)
}

// sessionByVBOIn is the id of the gateway session holding VBO session vboID on server ("":
// none), read in tx.
func (l *Log) sessionByVBOIn(ctx context.Context, tx store.Tx, server, vboID string) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM restore_gateway_session WHERE server = ? AND vbo_session_id = ? LIMIT 1`,
		server, vboID).Scan(&id)
	if store.IsNoRows(err) {
		return "", nil
	}
	return id, err
}
