package config

import (
	"strings"
	"testing"
	"time"
)

func TestReadsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Reads
		err  string
	}{
		{"defaults", Reads{}, ""},
		{"upstream", Reads{From: ReadsUpstream}, ""},
		{"archive with lag", Reads{From: ReadsArchive, MaxLag: time.Minute}, ""},
		{"unknown source", Reads{From: "cache"}, "reads.from"},
		{"lag too small", Reads{MaxLag: time.Millisecond}, "reads.maxLag"},
		{"negative lag", Reads{MaxLag: -time.Second}, "reads.maxLag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.in.WithDefaults().Validate()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.err)
			}
		})
	}
	if d := (Reads{}).WithDefaults(); d.From != ReadsAuto || d.MaxLag != 30*time.Second {
		t.Errorf("defaults %+v", d)
	}
}
