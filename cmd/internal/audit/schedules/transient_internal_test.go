package schedules

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// A run whose archive was unavailable or whose job was cut short is retried, never ended as
// FAILED: a period has one run row, so a failed run could not run again.
func TestTransientRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("filter.organizationIds holds an invalid organisation ID"), false},
		{fmt.Errorf("report: %w", store.ErrUnavailable), true},
		{fmt.Errorf("summary: %w", context.Canceled), true},
		{fmt.Errorf("summary: %w", context.DeadlineExceeded), true},
	}
	for _, tt := range tests {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
