package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

const feedCols = `f.server, f.seq, f.kind, f.session_id, f.at_ns, f.backfill, f.first_ord, f.last_ord`

// feedQuery joins each entry with its session (as archived now).
var feedQuery = `SELECT ` + feedCols + `, a.` + strings.Join(sessionColList, ", a.") + `
	FROM watch_feed f JOIN archive_session a ON a.server = f.server AND a.id = f.session_id `

func collectFeed(rows Rows, err error) ([]FeedEntry, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FeedEntry
	for rows.Next() {
		var e FeedEntry
		var at int64
		// The session columns come after the feed columns.
		sess, err := scanFeedRow(rows, &e, &at)
		if err != nil {
			return nil, err
		}
		e.At = FromNS(at)
		if e.Kind != KindEvents {
			e.Session = sess
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// feedRow reorders the scan so scanSession can be reused: the feed columns are scanned first
// into the extra destinations of a proxy Row.
type feedRow struct {
	r    Rows
	head []any
}

func (f feedRow) Scan(dest ...any) error { return f.r.Scan(append(f.head, dest...)...) }

func scanFeedRow(rows Rows, e *FeedEntry, at *int64) (*Session, error) {
	return scanSession(feedRow{r: rows, head: []any{&e.Server, &e.Seq, &e.Kind, &e.SessionID, at, &e.Backfill, &e.FirstOrd, &e.LastOrd}})
}

// FeedAfter returns up to limit entries of server's feed after seq, in order.
func (s *Store) FeedAfter(ctx context.Context, server string, after int64, limit int) ([]FeedEntry, error) {
	out, err := collectFeed(s.eng.Query(ctx, feedQuery+`WHERE f.server = ? AND f.seq > ? ORDER BY f.seq LIMIT ?`, server, after, limit))
	if err != nil {
		return nil, fmt.Errorf("store: feed: %w", err)
	}
	return out, nil
}

// Replay returns up to limit entries of one kind of server's feed with after < seq <= upto
// and At >= since, in order.
func (s *Store) Replay(ctx context.Context, server, kind string, since time.Time, after, upto int64, limit int) ([]FeedEntry, error) {
	out, err := collectFeed(s.eng.Query(ctx, feedQuery+`WHERE f.server = ? AND f.kind = ? AND f.at_ns >= ? AND f.seq > ? AND f.seq <= ?
		ORDER BY f.seq LIMIT ?`, server, kind, NS(since), after, upto, limit))
	if err != nil {
		return nil, fmt.Errorf("store: replay: %w", err)
	}
	return out, nil
}

// FeedSeqs returns each server's newest feed position.
func (s *Store) FeedSeqs(ctx context.Context) (map[string]int64, error) {
	rows, err := s.eng.Query(ctx, `SELECT server, feed_seq FROM watch_server`)
	if err != nil {
		return nil, fmt.Errorf("store: feed positions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			return nil, err
		}
		out[name] = seq
	}
	return out, rows.Err()
}

// Events returns a session's archived events with fromOrd <= order <= toOrd and feed position
// <= upto, in order (at most limit).
func (s *Store) Events(ctx context.Context, server, sessionID string, fromOrd, toOrd int, upto int64, limit int) ([]upstream.RestoreSessionEvent, error) {
	rows, err := s.eng.Query(ctx, `SELECT `+eventColumns+` FROM archive_event
		WHERE server = ? AND session_id = ? AND ord >= ? AND ord <= ? AND seq <= ? ORDER BY ord LIMIT ?`,
		server, sessionID, fromOrd, toOrd, upto, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return scanEvents(rows)
}
