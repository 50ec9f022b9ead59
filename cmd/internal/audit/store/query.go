package store

import "context"

// Query runs a read on the engine's read pool (SQLite: the readers, which see committed data
// while the writer works; PostgreSQL: the pool), '?' placeholders on both engines. For tables
// that other packages keep in the store (watch rules, deliveries) and reports over the archive.
func (s *Store) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return s.eng.Query(ctx, query, args...)
}

// QueryRow is Query for a single row.
func (s *Store) QueryRow(ctx context.Context, query string, args ...any) Row {
	return s.eng.QueryRow(ctx, query, args...)
}

// QueryReport is Query for reports and exports over the archive: it runs on capacity kept apart
// from Query's (SQLite: a reader pool of its own; PostgreSQL: at most half the pool's
// connections), so however many reports run, and however long, the watcher, the feed, the
// rules and the webhooks still get a connection. A caller must close the rows promptly (read
// them into memory, never hold them while waiting on a client).
func (s *Store) QueryReport(ctx context.Context, query string, args ...any) (Rows, error) {
	return s.eng.queryReport(ctx, query, args...)
}
