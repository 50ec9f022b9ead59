package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

// The archive reads start a server's coverage where the restore audit does
// (report.CoveredFrom): at the backfill's start, or at the retention's horizon when the
// watcher may have pruned past it. A read of a window before the horizon goes to VBO.
func TestArchiveCoverageHonoursRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, store.Options{Path: filepath.Join(t.TempDir(), "a.db")})
	now, err := st.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	backfill := now.Add(-10 * 24 * time.Hour).Truncate(time.Second).UTC()
	if _, err := st.EnsureServer(ctx, "syd1", backfill); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		retention time.Duration
		horizon   bool // From is the retention's horizon, not the backfill's start
	}{
		{"no retention", 0, false},
		{"retention longer than the backfill", 30 * 24 * time.Hour, false},
		{"retention shorter than the backfill", 72 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before, err := st.Now(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cov, err := (&archiveReader{st: st, retention: tt.retention}).ArchiveCoverage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			after, err := st.Now(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := cov["syd1"].From
			if !tt.horizon {
				if !got.Equal(backfill) {
					t.Fatalf("coverage from %v, want the backfill's start %v", got, backfill)
				}
				return
			}
			if got.Before(before.Add(-tt.retention)) || got.After(after.Add(-tt.retention)) {
				t.Fatalf("coverage from %v, want now minus the retention (%v..%v)", got, before.Add(-tt.retention), after.Add(-tt.retention))
			}
		})
	}
}
