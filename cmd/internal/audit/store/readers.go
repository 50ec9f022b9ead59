package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The archive's readers that run inside a transaction: the archive hook (package watchrules)
// reads what its rules need through these, in the transaction that archives the change, so no
// package but store speaks SQL on the archive_* tables.

// FirstSeen is when the watcher first archived the session (the rules' "never history" line).
func FirstSeen(ctx context.Context, tx Tx, server, sessionID string) (time.Time, error) {
	var n int64
	if err := tx.QueryRow(ctx, `SELECT first_seen_ns FROM archive_session WHERE server = ? AND id = ?`,
		server, sessionID).Scan(&n); err != nil {
		return time.Time{}, fmt.Errorf("store: first seen: %w", err)
	}
	return FromNS(n), nil
}

// EarlierSession asks for another archived session of an organisation from a client machine.
type EarlierSession struct {
	Server string
	// OrgID names the organisation; OrgName when the ID is unknown ("").
	OrgID, OrgName string
	// Machine is the client machine's name, compared ignoring case.
	Machine string
	// Not is the session asking (never counted); StartedBy bounds the other's start time.
	Not       string
	StartedBy time.Time
}

// HasEarlierSession reports whether the archive holds another session of q's organisation,
// from q's machine, that started no later than q.StartedBy.
func HasEarlierSession(ctx context.Context, tx Tx, q EarlierSession) (bool, error) {
	orgCol, org := "org_id", q.OrgID
	if org == "" {
		orgCol, org = "org_name", q.OrgName
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM archive_session WHERE server = ? AND `+orgCol+` = ?
		AND LOWER(client_machine) = ? AND id <> ? AND start_ns <= ? LIMIT 1) x`,
		q.Server, org, strings.ToLower(q.Machine), q.Not, NS(q.StartedBy)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: earlier sessions from %s: %w", q.Machine, err)
	}
	return n > 0, nil
}

// SessionEvents reads a session's archived events in order, this transaction's included (at
// most limit).
func SessionEvents(ctx context.Context, tx Tx, server, sessionID string, limit int) ([]upstream.RestoreSessionEvent, error) {
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM archive_event
		WHERE server = ? AND session_id = ? ORDER BY ord LIMIT ?`, server, sessionID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return scanEvents(rows)
}

// eventColumns are the archive_event columns scanEvents reads, in its order.
const eventColumns = `ord, id, type, status, start_ns, end_ns, duration, title, message, item_name, item_type, item_size, source, target`

// scanEvents reads rows of eventColumns and closes them.
func scanEvents(rows Rows) ([]upstream.RestoreSessionEvent, error) {
	defer rows.Close()
	var out []upstream.RestoreSessionEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}

// scanEvent reads one row of eventColumns.
func scanEvent(r Row) (upstream.RestoreSessionEvent, error) {
	var e upstream.RestoreSessionEvent
	var start int64
	var end, size sql.NullInt64
	dest := []any{&e.Order, &e.ID, &e.Type, &e.Status, &start, &end, &e.Duration, &e.Title, &e.Message,
		&e.ItemName, &e.ItemType, &size, &e.Source, &e.Target}
	if err := r.Scan(dest...); err != nil {
		return e, err
	}
	e.StartTime = time.Unix(0, start).UTC()
	e.EndTime = TimePtr(end)
	if size.Valid {
		v := size.Int64
		e.ItemSizeBytes = &v
	}
	return e, nil
}

// SessionKey names one archived session.
type SessionKey struct{ Server, ID string }

// OpenSessionKeys reports which of keys name a session archived and not ended (the watcher
// still follows it, or would had VBO not deleted it), read in tx. Keys with an empty id and
// keys not archived are never open.
func OpenSessionKeys(ctx context.Context, tx Tx, keys []SessionKey) (map[SessionKey]bool, error) {
	byServer := map[string][]any{}
	seen := map[SessionKey]bool{}
	for _, k := range keys {
		if k.ID == "" || seen[k] {
			continue
		}
		seen[k] = true
		byServer[k.Server] = append(byServer[k.Server], k.ID)
	}
	open := map[SessionKey]bool{}
	for server, ids := range byServer {
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), 500)]
			ids = ids[len(chunk):]
			rows, err := tx.Query(ctx, `SELECT id FROM archive_session WHERE server = ? AND ended_seq = 0 AND id IN (`+
				placeholders(len(chunk))+`)`, append([]any{server}, chunk...)...)
			if err != nil {
				return nil, fmt.Errorf("store: open sessions: %w", err)
			}
			list, err := Collect(rows, scanString)
			if err != nil {
				return nil, fmt.Errorf("store: open sessions: %w", err)
			}
			for _, id := range list {
				open[SessionKey{server, id}] = true
			}
		}
	}
	return open, nil
}
