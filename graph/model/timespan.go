package model

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// maxTimeSpanDays keeps days*24h + 23:59:59.9999999 within time.Duration.
const maxTimeSpanDays = int64(math.MaxInt64/int64(24*time.Hour)) - 1

// ParseTimeSpan reads .NET TimeSpan text ("[-][d.]hh:mm:ss[.fffffff]"), e.g. "00:00:00.0446928"
// or "1.02:03:04". ok is false for anything else.
func ParseTimeSpan(s string) (d time.Duration, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 {
		return 0, false
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var days int64
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	if dayPart, hours, found := strings.Cut(parts[0], "."); found {
		n, err := strconv.ParseInt(dayPart, 10, 32)
		// Beyond ~106,750 days the result would overflow time.Duration (about 292 years).
		if err != nil || n < 0 || n > maxTimeSpanDays {
			return 0, false
		}
		days, parts[0] = n, hours
	}
	h, err1 := strconv.ParseUint(parts[0], 10, 8)
	m, err2 := strconv.ParseUint(parts[1], 10, 8)
	secText, fracText, _ := strings.Cut(parts[2], ".")
	sec, err3 := strconv.ParseUint(secText, 10, 8)
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || sec > 59 {
		return 0, false
	}
	var frac time.Duration
	if fracText != "" {
		if len(fracText) > 7 {
			return 0, false
		}
		f, err := strconv.ParseUint(fracText+strings.Repeat("0", 7-len(fracText)), 10, 32)
		if err != nil {
			return 0, false
		}
		frac = time.Duration(f) * 100 // ticks of 100 ns
	}
	d = time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec)*time.Second + frac
	if neg {
		d = -d
	}
	return d, true
}
