package actionlog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// PendingItemActions lists the item actions that called, or may have called, VBO and have no
// outcome yet: SEND, RESTORE_TO and RESTORE_TO_ORIGINAL begun before before, needing no
// approval or approved, not completed. Oldest first (begin time, then id), at most limit
// (1..MaxActionsPage; 0: 50). DOWNLOADs are not listed: their links complete them (or the
// sweep of expired links). The front door's reaper settles these (v8 restores VBO had not
// finished when the caller was answered).
func (l *Log) PendingItemActions(ctx context.Context, before time.Time, limit int) ([]Action, error) {
	return l.actions(ctx, "pending item actions", pendingItemWhere, limit, store.NS(before))
}

// pendingItemWhere is PendingItemActions' condition. It walks the partial index
// restore_action_item_pending (migration 00025) in its order, so the kinds are SQL literals
// as in the index's condition: with an IN list of bound parameters SQLite scanned and sorted
// the whole log, and PostgreSQL's generic plans cannot prove parameters select within a
// partial index (TestPendingReadsUseTheirIndexes).
var pendingItemWhere = `b.kind IN (` + sqlKinds(KindSend, KindRestoreTo, KindRestoreToOriginal) + `) AND b.at_ns < ? AND o.id IS NULL
		AND (b.approval_until_ns = 0 OR p.id IS NOT NULL) ORDER BY b.at_ns, b.id`

// sqlKinds is kinds as a list of SQL string literals (the kinds are constants of upper-case
// letters and underscores: nothing to escape).
func sqlKinds(kinds ...Kind) string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = "'" + string(k) + "'"
	}
	return strings.Join(out, ", ")
}

// SessionItemActions lists a gateway session's item actions (DOWNLOAD, SEND, RESTORE_TO,
// RESTORE_TO_ORIGINAL), in every state, oldest first, at most limit (1..MaxActionsPage; 0:
// 50): the session's other restores, whose counts share VBO's session statistics.
func (l *Log) SessionItemActions(ctx context.Context, gatewaySessionID string, limit int) ([]Action, error) {
	return l.actions(ctx, "session item actions", `b.gateway_session_id = ? AND b.kind IN (?, ?, ?, ?) ORDER BY b.position`, limit,
		gatewaySessionID, string(KindDownload), string(KindSend), string(KindRestoreTo), string(KindRestoreToOriginal))
}

// PendingStarts reports whether a START on server for organisation orgID ("": any
// organisation, for a session whose organisation the watcher could not resolve) is still
// waiting for VBO's answer (begun, not completed) and began after since: a session VBO lists
// meanwhile may be that one, so "started outside the gateway" must wait.
func (l *Log) PendingStarts(ctx context.Context, server, orgID string, since time.Time) (bool, error) {
	p, err := l.PendingStartOrgs(ctx, server, []string{orgID}, since)
	return p[orgID], err
}

// PendingStartOrgs is PendingStarts for each of orgIDs, in one read (the watcher asks for
// every organisation of a batch it archives at once): true for those with a START waiting.
// The read lists the organisations of server with a START begun after since and not yet
// answered; since is minutes ago, so they are few.
func (l *Log) PendingStartOrgs(ctx context.Context, server string, orgIDs []string, since time.Time) (map[string]bool, error) {
	out := make(map[string]bool, len(orgIDs))
	if len(orgIDs) == 0 {
		return out, nil
	}
	rows, err := l.st.Query(ctx, pendingStartOrgsQuery, server, store.NS(since))
	if err != nil {
		return nil, fmt.Errorf("actionlog: pending starts: %w", err)
	}
	pending := map[string]bool{}
	for rows.Next() {
		var org string
		if err := rows.Scan(&org); err != nil {
			rows.Close()
			return nil, fmt.Errorf("actionlog: pending starts: %w", err)
		}
		pending[org] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("actionlog: pending starts: %w", err)
	}
	for _, id := range orgIDs {
		out[id] = pending[id] || id == "" && len(pending) > 0
	}
	return out, nil
}

// pendingStartOrgsQuery walks the partial index restore_action_start_recent (migration 00025):
// its record and kind are literals, as in the index's condition (TestPendingReadsUseTheirIndexes).
const pendingStartOrgsQuery = `SELECT DISTINCT b.org_id FROM restore_action b
		WHERE b.record = '` + recBegin + `' AND b.kind = '` + string(KindStart) + `' AND b.server = ? AND b.at_ns > ?
		AND NOT EXISTS (SELECT 1 FROM restore_action o WHERE o.record = '` + recOutcome + `' AND o.ref_id = b.id)`
