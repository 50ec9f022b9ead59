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
