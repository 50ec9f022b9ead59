package watch

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// countingLog is an action log with STARTs waiting on organisations pending of server "syd1";
// it counts the watcher's reads of them.
type countingLog struct {
	pending map[string]bool
	reads   [][]string // the organisations of each Pending read
}

func (l *countingLog) Started(context.Context, string, []string) (map[string]store.Attribution, error) {
	return nil, nil
}

func (l *countingLog) Claim(context.Context, string, ClaimCandidate) (store.Attribution, bool, error) {
	return store.Attribution{}, false, nil
}

func (l *countingLog) Pending(_ context.Context, server string, orgIDs []string, _ time.Time) (map[string]bool, error) {
	l.reads = append(l.reads, slices.Clone(orgIDs))
	out := map[string]bool{}
	for _, org := range orgIDs {
		out[org] = server == "syd1" && (l.pending[org] || org == "" && len(l.pending) > 0)
	}
	return out, nil
}

// The watcher reads the pending STARTs once per batch it decides, for the organisations of
// its recent sessions each once (not once per organisation: a poll of many organisations'
// new sessions made as many reads), and none for a batch of old sessions only.
func TestDecideReadsPendingStartsOncePerBatch(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-time.Hour)
	tests := []struct {
		name      string
		targets   []attributionTarget
		wantReads [][]string
		pending   []string // the sessions decided pending
	}{
		{"many organisations", []attributionTarget{
			{id: "s1", orgID: "org-1", created: now}, {id: "s2", orgID: "org-2", created: now},
			{id: "s3", orgID: "org-1", created: now}, {id: "s4", orgID: "org-3", created: now},
			{id: "s5", orgID: "", created: now}, {id: "s6", orgID: "org-4", created: old},
		}, [][]string{{"org-1", "org-2", "org-3", ""}}, []string{"s2", "s5"}},
		{"old sessions only", []attributionTarget{
			{id: "s1", orgID: "org-1", created: old}, {id: "s2", orgID: "org-2", created: old},
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &countingLog{pending: map[string]bool{"org-2": true, "org-4": true}}
			p := &poller{name: "syd1", w: &Watcher{o: Options{Attributions: log, AttributionWait: time.Minute}}}
			got, err := p.decide(context.Background(), now, tt.targets)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(log.reads, tt.wantReads, slices.Equal) {
				t.Errorf("pending reads %q, want %q", log.reads, tt.wantReads)
			}
			var pending []string
			for id, a := range got {
				if a.Pending {
					pending = append(pending, id)
				}
			}
			slices.Sort(pending)
			if !slices.Equal(pending, tt.pending) || len(got) != len(tt.targets) {
				t.Errorf("decided %v: pending %v, want %v", slices.Sorted(maps.Keys(got)), pending, tt.pending)
			}
		})
	}
}
