package store

import (
	"testing"
	"time"
)

func TestBackfillProgress(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return from.Add(time.Duration(n) * 24 * time.Hour) }
	tests := []struct {
		name string
		st   ServerState
		want float64
	}{
		{"before the first poll", ServerState{BackfillFrom: from}, 0},
		{"polled, nothing archived yet", ServerState{BackfillFrom: from, LastPoll: day(10)}, 0},
		{"a quarter of the window", ServerState{BackfillFrom: from, HighWater: day(1), LastPoll: day(4)}, 0.25},
		{"caught up but not marked done", ServerState{BackfillFrom: from, HighWater: day(5), LastPoll: day(4)}, 1},
		{"a session before the window", ServerState{BackfillFrom: from, HighWater: from.Add(-time.Hour), LastPoll: day(4)}, 0},
		{"done", ServerState{BackfillFrom: from, BackfillDone: true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.st.BackfillProgress(); got != tt.want {
				t.Errorf("backfillProgress = %v, want %v", got, tt.want)
			}
		})
	}
}
