package actionlog

import (
	"context"
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
// as in the index's condition: a planner cannot prove that bound parameters select within a
// partial index (TestPendingItemActionsUseTheirIndex).
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
