package store

import "context"

// Which package owns which table. The store keeps several packages' tables in one database (one
// set of migrations, one transaction for the archive and what its hook writes), but each table
// is spoken by one package only:
//
//   - store: archive_session, archive_event, watch_feed, watch_server, watch_replica (the
//     archive, checkpoints, leases, feed). Other packages read them through the store's typed
//     readers: the transaction readers (FirstSeen, HasEarlierSession, SessionEvents,
//     OpenSessionKeys) and the report readers (ReportSessions, GroupSessions, States).
//   - watchrules: watch_rule, webhook_delivery, webhook_attempt, and River's river_* tables (it
//     migrates them and queues into them). It speaks them through a Tx (InTx, the archive
//     hook's tx) and, for reads outside a transaction, Query and QueryRow below.
//   - schedules: report_schedule, report_run, report_delivery (report schedules, their runs and
//     deliveries), the same way.
//   - restore/download: restore_download (one-time download links, stored by the token's hash),
//     the same way.
//
// Query runs a read on the engine's read pool (SQLite: the readers, which see committed data
// while the writer works; PostgreSQL: the pool), '?' placeholders on both engines. It is for the
// tables other packages own (above); the archive's are read through the typed readers.
func (s *Store) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return s.eng.Query(ctx, query, args...)
}

// QueryRow is Query for a single row.
func (s *Store) QueryRow(ctx context.Context, query string, args ...any) Row {
	return s.eng.QueryRow(ctx, query, args...)
}

// Querier is what a read needs: a Tx or the Store itself (its read pool).
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

var (
	_ Querier = (*Store)(nil)
	_ Querier = Tx(nil)
)
