package report

import (
	"net/url"
	"strings"
	"testing"
)

// A refused enum value names the valid ones, so a user who writes groupBy=day learns DAY
// (issue 23: the CSV refused it without listing the values).
func TestExportRefusesUnknownValuesListingValidOnes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query   string
		grouped bool
		want    []string
	}{
		{"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&groupBy=day", true, []string{"groupBy", `"day"`, "write DAY"}},
		{"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&groupBy=WEEK", true, []string{"groupBy", `"WEEK"`, "valid values:", "DAY", "ORGANIZATION"}},
		{"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&types=mail", false, []string{"types", "valid values:", "EXCHANGE", "TEAMS"}},
		{"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&states=working", false, []string{"states", "write WORKING"}},
		{"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&results=ok", false, []string{"results", "valid values:", "SUCCESS", "FAILED"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseExportQuery(v, tt.grouped)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
