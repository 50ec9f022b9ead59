package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The v8 change feed's state (issue 22 item 5): the change token a server's feed was read to
// (watch_server.change_token) and the sessions VBO deleted (archive_session.deleted_in_vbo_ns).
// Both are written by Archive, in the transaction of the batch they belong to
// (Checkpoint.ChangeToken, Checkpoint.DeletedInVbo): a token is never stored ahead of the
// sessions read up to it. A session marked deleted gets a KindDeleted feed entry in that
// transaction: its events' subscribers end there (watch.Feed.FollowEvents), on every replica.

// ChangeToken returns the change token stored for server ("" when none: the feed starts
// again from a listing). ErrNotFound before EnsureServer.
func (s *Store) ChangeToken(ctx context.Context, server string) (string, error) {
	var tok string
	err := s.eng.QueryRow(ctx, `SELECT change_token FROM watch_server WHERE server = ?`, server).Scan(&tok)
	if IsNoRows(err) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: change token of %s: %w", server, err)
	}
	return tok, nil
}

// markDeletedInVbo marks the archived sessions among ids deleted in VBO at now (those marked
// before keep their time) and returns the ids it marked, sorted: each gets a KindDeleted feed
// entry in the same transaction.
func markDeletedInVbo(ctx context.Context, tx Tx, server string, ids []string, now time.Time) ([]string, error) {
	var marked []string
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 400)]
		ids = ids[len(chunk):]
		args := []any{NS(now), NS(now), server}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := tx.Query(ctx, `UPDATE archive_session SET deleted_in_vbo_ns = ?, updated_ns = ?
			WHERE server = ? AND deleted_in_vbo_ns IS NULL AND id IN (`+placeholders(len(chunk))+`) RETURNING id`, args...)
		if err != nil {
			return nil, fmt.Errorf("mark deleted in VBO: %w", err)
		}
		got, err := Collect(rows, scanString)
		if err != nil {
			return nil, fmt.Errorf("mark deleted in VBO: %w", err)
		}
		marked = append(marked, got...)
	}
	slices.Sort(marked)
	return marked, nil
}

// DeletedSeq is the feed position of the KindDeleted entry of a session (0 when VBO has not
// deleted it, as far as the archive knows).
func (s *Store) DeletedSeq(ctx context.Context, server, sessionID string) (int64, error) {
	var seq int64
	err := s.eng.QueryRow(ctx, `SELECT seq FROM watch_feed WHERE server = ? AND session_id = ? AND kind = ?`,
		server, sessionID, KindDeleted).Scan(&seq)
	if IsNoRows(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: deletion of %s/%s: %w", server, sessionID, err)
	}
	return seq, nil
}
