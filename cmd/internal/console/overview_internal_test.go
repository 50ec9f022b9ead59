package console

import (
	"fmt"
	"testing"
	"time"
)

// First-time machines are the window's machines not seen before it, and only when the
// archive reaches back before the window on every server, its backfill done there: on a
// freshly backfilled archive (coverage beginning inside the window) or one a server is still
// backfilling, new-ness is not known and nothing is listed as new.
func TestFirstTimeMachinesNeedTheArchiveBeforeTheWindow(t *testing.T) {
	t.Parallel()
	winFrom := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ptr := func(s string) *string { return &s }
	cov := func(froms ...*string) []coverage {
		out := make([]coverage, len(froms))
		for i, f := range froms {
			out[i].Server.Name = fmt.Sprint("srv", i)
			out[i].From = f
			out[i].Complete = true
		}
		return out
	}
	backfilling := cov(ptr("2026-01-01T00:00:00Z"), ptr("2026-02-01T00:00:00Z"))
	backfilling[1].Complete = false
	machines := []auditRow{{ClientMachine: ptr("OLD-PC"), Sessions: 2}, {ClientMachine: ptr("NEW-PC"), Sessions: 1}, {ClientMachine: ptr(""), Sessions: 4}}
	before := []auditRow{{ClientMachine: ptr("OLD-PC")}}
	for _, tc := range []struct {
		name      string
		cov       []coverage
		known     bool
		begins    string
		wantNames string
	}{
		{"archive before the window", cov(ptr("2026-01-01T00:00:00Z"), ptr("2026-02-01T00:00:00Z")), true, "2026-02-01T00:00:00Z", "[NEW-PC]"},
		{"freshly backfilled: one server begins inside the window", cov(ptr("2026-01-01T00:00:00Z"), ptr("2026-03-05T12:00:00.5Z")), false, "2026-03-05T12:00:00Z", "[]"},
		{"archive begins as the window does", cov(ptr("2026-03-01T00:00:00Z")), false, "2026-03-01T00:00:00Z", "[]"},
		// The second server's backfill has not reached the window yet: a machine it saw before
		// the window is not in the archive yet, so every machine of the first would look new.
		{"a server still backfilling", backfilling, false, "", "[]"},
		{"a server not polled yet", cov(ptr("2026-01-01T00:00:00Z"), nil), false, "", "[]"},
		{"no coverage", nil, false, "", "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, begins, known := firstTimeMachines(machines, before, tc.cov, winFrom)
			var names []string
			for _, r := range rows {
				names = append(names, str(r.ClientMachine))
			}
			if known != tc.known || begins != tc.begins || fmt.Sprint(names) != tc.wantNames && !(len(names) == 0 && tc.wantNames == "[]") {
				t.Errorf("known %v, begins %q, new %v; want %v, %q, %s", known, begins, names, tc.known, tc.begins, tc.wantNames)
			}
		})
	}
}
