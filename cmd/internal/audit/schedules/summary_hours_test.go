package schedules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// A schedule's summary judges business hours in the schedule's time zone: a restore at 22:00
// UTC on a Monday is 09:00 on Tuesday in Sydney, inside business hours there.
func TestSummaryBusinessHoursInTheScheduleTimeZone(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 7, 6, 22, 0, 0, 0, time.UTC) // a Monday
	sessions := func(_ context.Context, from, to time.Time, each func(*match.Session) error) error {
		if start.Before(from) || !start.Before(to) {
			return nil
		}
		return each(&match.Session{Server: "syd1", OrgID: "o1", OrgName: "Contoso",
			Upstream: upstream.RestoreSession{ID: "s1", Type: "Vex", State: "Stopped", Result: "Success", CreationTime: start, InitiatedBy: "alice"}})
	}
	period := Period{From: time.Date(2026, 7, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 13, 0, 0, 0, 0, time.UTC), Label: "week"}
	for _, tt := range []struct {
		zone, want string
	}{
		{"", "Outside business hours (08:00-18:00 Monday to Friday, UTC): 1"},
		{"Australia/Sydney", "Outside business hours (08:00-18:00 Monday to Friday, Australia/Sydney): 0"},
	} {
		_, text, err := SummaryBuilder{}.Summarize(context.Background(), SummaryInput{Title: "t", Scope: "tenant t1", Period: period,
			Sessions: sessions, Complete: true, TimeZone: tt.zone})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.want) {
			t.Errorf("zone %q: the summary does not say %q:\n%s", tt.zone, tt.want, text)
		}
	}
}
