package e2e_test

import "testing"

// Malformed scalar input is the caller's mistake: BAD_USER_INPUT with a message that says what
// was expected, never INTERNAL, and no upstream call.
func TestMalformedDateTimeIsBadUserInput(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	tests := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"inline not a date", `{ restoreSessions(filter: {startTimeFrom: "0"}) { edges { cursor } } }`, nil},
		{"inline no zone", `{ restoreSessions(filter: {startTimeTo: "2026-11-25T00:00:00"}) { edges { cursor } } }`, nil},
		{"far future", `{ restoreSessions(filter: {startTimeTo: "9999-12-31T00:00:00Z"}) { edges { cursor } } }`, nil},
		{"epoch", `{ restoreSessions(filter: {startTimeFrom: "1970-01-01T00:00:00Z"}) { edges { cursor } } }`, nil},
		{"variable", `query($f: DateTime) { restoreSessions(filter: {startTimeFrom: $f}) { edges { cursor } } }`, map[string]any{"f": "yesterday"}},
		{"variable of the wrong type", `query($f: DateTime) { restoreSessions(filter: {startTimeFrom: $f}) { edges { cursor } } }`, map[string]any{"f": 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.resetStats()
			_, errs := h.query(tt.query, tt.vars)
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			if c := errs[0].code(); c != "BAD_USER_INPUT" {
				t.Errorf("code = %q (%s), want BAD_USER_INPUT", c, errs[0].Message)
			}
			for _, s := range []string{"syd1", "mel1", "akl1"} {
				if n := h.calls(s, "GET /v6/RestoreSessions"); n != 0 {
					t.Errorf("%s: %d listing calls, want 0", s, n)
				}
			}
		})
	}
}
