package webhooks

import (
	"errors"
	"math/rand/v2"
	"time"
)

// DefaultSchedule is the Standard Webhooks example schedule: the delay before each attempt,
// the first immediately.
var DefaultSchedule = []time.Duration{
	0,
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	20 * time.Hour,
	24 * time.Hour,
}

// DefaultJitter spreads each retry by up to ±10 % so a receiver coming back is not hit by
// every queued message at once.
const DefaultJitter = 0.1

// MaxRetryAfter caps a receiver's Retry-After: no retry waits longer than the schedule's
// longest step.
const MaxRetryAfter = 24 * time.Hour

// Schedule is a retry schedule: how many attempts, and how long to wait before each.
type Schedule struct {
	delays []time.Duration
	jitter float64
	rand   func() float64
}

// NewSchedule builds a schedule from the delays before each attempt (the first is normally 0)
// and a jitter fraction in [0, 1). A nil delays slice means DefaultSchedule.
func NewSchedule(delays []time.Duration, jitter float64) (Schedule, error) {
	if delays == nil {
		delays = DefaultSchedule
	}
	if len(delays) == 0 {
		return Schedule{}, errors.New("retry schedule: at least one attempt")
	}
	for _, d := range delays {
		if d < 0 {
			return Schedule{}, errors.New("retry schedule: negative delay")
		}
	}
	if jitter < 0 || jitter >= 1 {
		return Schedule{}, errors.New("retry schedule: jitter must be in [0, 1)")
	}
	return Schedule{delays: append([]time.Duration(nil), delays...), jitter: jitter, rand: rand.Float64}, nil
}

// Attempts is the number of attempts the schedule allows.
func (s Schedule) Attempts() int { return len(s.delays) }

// Next returns the delay before the next attempt once `made` attempts have failed, and false
// when none is left. A receiver's Retry-After is honoured: the delay is never shorter than it
// (capped at MaxRetryAfter).
func (s Schedule) Next(made int, retryAfter time.Duration) (time.Duration, bool) {
	if made < 0 {
		made = 0
	}
	if made >= len(s.delays) {
		return 0, false
	}
	d := s.delays[made]
	if d > 0 && s.jitter > 0 {
		d = time.Duration(float64(d) * (1 + s.jitter*(2*s.rand()-1)))
	}
	return max(d, min(retryAfter, MaxRetryAfter)), true
}
