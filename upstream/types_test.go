package upstream

import "testing"

func TestPageLast(t *testing.T) {
	total := func(n int) *int { return &n }
	items := func(n int) []int { return make([]int, n) }
	tests := []struct {
		name  string
		page  Page[int]
		asked int
		want  bool
	}{
		{"empty", Page[int]{Limit: 30}, 30, true},
		{"short", Page[int]{Limit: 30, Results: items(29)}, 30, true},
		{"full, no total", Page[int]{Limit: 30, Results: items(30)}, 30, false},
		{"full, total reached", Page[int]{Offset: 30, Limit: 30, Results: items(30), TotalCount: total(60)}, 30, true},
		{"full, total not reached", Page[int]{Offset: 0, Limit: 30, Results: items(30), TotalCount: total(61)}, 30, false},
		{"server capped the limit", Page[int]{Limit: 100, Results: items(100)}, 1000, false},
		{"short of the capped limit", Page[int]{Limit: 100, Results: items(99)}, 1000, true},
		{"no echoed limit", Page[int]{Results: items(1000)}, 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.page.Last(tt.asked); got != tt.want {
				t.Errorf("Last(%d) = %v, want %v", tt.asked, got, tt.want)
			}
		})
	}
}
