package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// QueryReport opens rows on the reports' capacity (see ReportSessions), for the tests that
// hold them open.
func QueryReport(ctx context.Context, s *Store, query string, args ...any) (Rows, error) {
	return s.eng.queryReport(ctx, query, args...)
}

// RollupDrift compares archive_rollup with the sessions counted from scratch (the migration's
// backfill): "" when they are equal, else the first difference.
func RollupDrift(ctx context.Context, s *Store) (string, error) {
	read := func(query string) ([]string, error) {
		rows, err := s.eng.Query(ctx, query)
		if err != nil {
			return nil, err
		}
		return Collect(rows, func(r Row) (string, error) {
			var kind, server, orgID, orgName, a, b, c string
			var day, sessions, items, bytes, failed, first, last int64
			err := r.Scan(&kind, &day, &server, &orgID, &orgName, &a, &b, &c, &sessions, &items, &bytes, &failed, &first, &last)
			return fmt.Sprint(kind, day, server, orgID, orgName, a, b, c, sessions, items, bytes, failed, first, last), err
		})
	}
	const cols = `kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns`
	have, err := read(`SELECT ` + cols + ` FROM archive_rollup`)
	if err != nil {
		return "", err
	}
	var want []string
	for _, k := range rollupKinds {
		var sel, group []string
		for _, c := range k.cols {
			if c == "" {
				sel = append(sel, "''")
			} else {
				sel, group = append(sel, c), append(group, c)
			}
		}
		d := fmt.Sprint(nsPerDay)
		w, err := read(`SELECT '` + k.name + `', start_ns / ` + d + `, server, org_id, org_name, ` + strings.Join(sel, ", ") + `,
			COUNT(*), CAST(SUM(items) AS BIGINT), CAST(SUM(bytes) AS BIGINT), CAST(SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END) AS BIGINT),
			MIN(start_ns), MAX(start_ns) FROM archive_session GROUP BY start_ns / ` + d + `, server, org_id, org_name, ` + strings.Join(group, ", "))
		if err != nil {
			return "", err
		}
		want = append(want, w...)
	}
	slices.Sort(have)
	slices.Sort(want)
	for i := range max(len(have), len(want)) {
		var h, w string
		if i < len(have) {
			h = have[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if h != w {
			return fmt.Sprintf("%d rows, %d counted: rollup %q, counted %q", len(have), len(want), h, w), nil
		}
	}
	return "", nil
}
