package store

import (
	"context"
	"fmt"
	"time"
)

// The v8 change feed's state (issue 22 item 5): the change token a server's feed was read to
// (watch_server.change_token) and the sessions VBO deleted (archive_session.deleted_in_vbo_ns).
// Both are written by Archive, in the transaction of the batch they belong to
// (Checkpoint.ChangeToken, Checkpoint.DeletedInVbo): a token is never stored ahead of the
// sessions read up to it.

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
// before keep their time).
func markDeletedInVbo(ctx context.Context, tx Tx, server string, ids []string, now time.Time) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 400)]
		ids = ids[len(chunk):]
		args := []any{NS(now), NS(now), server}
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := tx.Exec(ctx, `UPDATE archive_session SET deleted_in_vbo_ns = ?, updated_ns = ?
			WHERE server = ? AND deleted_in_vbo_ns IS NULL AND id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return fmt.Errorf("mark deleted in VBO: %w", err)
		}
	}
	return nil
}
