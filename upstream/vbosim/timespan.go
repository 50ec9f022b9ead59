package vbosim

import (
	"fmt"
	"time"
)

// TimeSpan formats d the way .NET's TimeSpan.ToString() ("c" format) does:
// [-][d.]hh:mm:ss[.fffffff], with 100 ns ticks and the fraction only when non-zero.
// Examples: "00:00:00", "00:00:01.2345678", "1.02:03:04".
func TimeSpan(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign = "-"
		d = -d
	}
	ticks := int64(d / 100)
	frac := ticks % 10_000_000
	secs := ticks / 10_000_000
	days := secs / 86400
	secs %= 86400
	h, m, s := secs/3600, (secs/60)%60, secs%60
	out := sign
	if days > 0 {
		out += fmt.Sprintf("%d.", days)
	}
	out += fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if frac != 0 {
		out += fmt.Sprintf(".%07d", frac)
	}
	return out
}
