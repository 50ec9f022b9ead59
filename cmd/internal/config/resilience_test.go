package config

import (
	"strings"
	"testing"
	"time"
)

// The per-attempt deadlines: responseTimeout covers headers and body, responseIdleTimeout the
// silences in a body; both default from what is configured and are validated together.
func TestResilienceResponseDeadlines(t *testing.T) {
	tests := []struct {
		name                string
		in                  Resilience
		wantTotal, wantIdle time.Duration
		wantErr             string
	}{
		{"defaults", Resilience{}, 10 * time.Second, 5 * time.Second, ""},
		{"short request deadline", Resilience{RequestTimeout: 3 * time.Second}, 2 * time.Second, 2 * time.Second, ""},
		{"explicit", Resilience{ResponseTimeout: 8 * time.Second, ResponseIdleTimeout: time.Second}, 8 * time.Second, time.Second, ""},
		{"idle above total", Resilience{ResponseTimeout: 2 * time.Second, ResponseIdleTimeout: 3 * time.Second}, 0, 0, "responseIdleTimeout"},
		{"negative idle", Resilience{ResponseIdleTimeout: -time.Second}, 0, 0, "responseIdleTimeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.in.WithDefaults()
			err := r.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate = %v, want an error about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ResponseTimeout != tc.wantTotal || r.ResponseIdleTimeout != tc.wantIdle {
				t.Errorf("responseTimeout %v, responseIdleTimeout %v; want %v, %v", r.ResponseTimeout, r.ResponseIdleTimeout, tc.wantTotal, tc.wantIdle)
			}
		})
	}
}
