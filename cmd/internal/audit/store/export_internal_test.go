package store

import "context"

// QueryReport opens rows on the reports' capacity (see ReportSessions), for the tests that
// hold them open.
func QueryReport(ctx context.Context, s *Store, query string, args ...any) (Rows, error) {
	return s.eng.queryReport(ctx, query, args...)
}
