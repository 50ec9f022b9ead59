package schedules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// DefaultDemoPeriod is the length of a DEMO period.
const DefaultDemoPeriod = 3 * time.Minute

// cadence is a schedule's period: its length, its end's local time and its time zone.
type cadence struct {
	every  model.ReportPeriod
	hour   int
	minute int
	loc    *time.Location
	demo   time.Duration // DEMO's length
}

// parseAt reads HH:MM (24-hour).
func parseAt(s string) (h, m int, err error) {
	hs, ms, ok := strings.Cut(strings.TrimSpace(s), ":")
	if ok && len(hs) == 2 && len(ms) == 2 {
		h, err1 := strconv.Atoi(hs)
		m, err2 := strconv.Atoi(ms)
		if err1 == nil && err2 == nil && h >= 0 && h < 24 && m >= 0 && m < 60 {
			return h, m, nil
		}
	}
	return 0, 0, fmt.Errorf("want HH:MM (24-hour), got %q", excerpt(s))
}

func excerpt(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// end is the period end of the local day y-m-d (normalised), at the cadence's time.
func (c cadence) at(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, c.hour, c.minute, 0, 0, c.loc)
}

// lastEnd is the end of the latest period that has ended at now (<= now).
func (c cadence) lastEnd(now time.Time) time.Time {
	if c.every == model.ReportPeriodDemo {
		return now.UTC().Truncate(c.demo)
	}
	l := now.In(c.loc)
	y, m, d := l.Date()
	var e time.Time
	switch c.every {
	case model.ReportPeriodWeek:
		back := (int(l.Weekday()) + 6) % 7 // days since Monday
		e = c.at(y, m, d-back)
		if e.After(now) {
			e = c.at(y, m, d-back-7)
		}
	case model.ReportPeriodMonth:
		e = c.at(y, m, 1)
		if e.After(now) {
			e = c.at(y, m-1, 1)
		}
	default: // DAY
		e = c.at(y, m, d)
		if e.After(now) {
			e = c.at(y, m, d-1)
		}
	}
	return e
}

// start is the start of the period that ends at end (a period end): one day, week or month
// earlier in the schedule's time zone, so a period is 23 or 25 hours long across a daylight
// saving change.
func (c cadence) start(end time.Time) time.Time {
	if c.every == model.ReportPeriodDemo {
		return end.Add(-c.demo)
	}
	y, m, d := end.In(c.loc).Date()
	switch c.every {
	case model.ReportPeriodWeek:
		return c.at(y, m, d-7)
	case model.ReportPeriodMonth:
		return c.at(y, m-1, d)
	default:
		return c.at(y, m, d-1)
	}
}

// next is the end of the first period that ends after now.
func (c cadence) next(now time.Time) time.Time {
	e := c.lastEnd(now)
	if c.every == model.ReportPeriodDemo {
		return e.Add(c.demo)
	}
	y, m, d := e.In(c.loc).Date()
	switch c.every {
	case model.ReportPeriodWeek:
		return c.at(y, m, d+7)
	case model.ReportPeriodMonth:
		return c.at(y, m+1, d)
	default:
		return c.at(y, m, d+1)
	}
}

// label names a period for people: 2026-08-03, the week of 2026-08-03, 2026-08, or the
// times of a demo period.
func (c cadence) label(from, to time.Time) string {
	f := from.In(c.loc)
	switch c.every {
	case model.ReportPeriodDay:
		return f.Format("2006-01-02")
	case model.ReportPeriodWeek:
		return "week of " + f.Format("2006-01-02")
	case model.ReportPeriodMonth:
		return f.Format("2006-01")
	}
	return f.Format(time.RFC3339) + " – " + to.In(c.loc).Format(time.RFC3339)
}
