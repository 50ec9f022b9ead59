package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrCircuitOpen: the server's circuit breaker is open (or half-open with its probe already in
// flight), so the call was not sent. It is a transport-class *Error, so errors.Is(err,
// ErrUnavailable) holds.
var ErrCircuitOpen = errors.New("vbo: circuit breaker open; server skipped")

// BreakerSettings configure the per-server circuit breaker.
type BreakerSettings struct {
	// Failures is the number of consecutive failed attempts (transport errors, timeouts, 5xx)
	// that opens the breaker. 0 = DefaultBreakerFailures; negative disables the breaker.
	Failures int
	// Cooldown is how long the breaker stays open before it lets one probe through (half-open).
	Cooldown time.Duration
	// HalfOpenProbes is how many calls may be in flight while half-open (default 1); that many
	// consecutive successes close it again.
	HalfOpenProbes int
	// OnStateChange, if set, is told about every transition (from, to).
	OnStateChange func(server string, from, to Health)
}

// Breaker defaults.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// Health is a server's state as the client's breaker sees it.
type Health int

// Health values: closed breaker = Up, half-open = Degraded, open = Down.
const (
	HealthUp Health = iota
	HealthDegraded
	HealthDown
)

func (h Health) String() string {
	switch h {
	case HealthUp:
		return "up"
	case HealthDegraded:
		return "degraded"
	case HealthDown:
		return "down"
	}
	return fmt.Sprintf("health(%d)", int(h))
}

func healthOf(s gobreaker.State) Health {
	switch s {
	case gobreaker.StateHalfOpen:
		return HealthDegraded
	case gobreaker.StateOpen:
		return HealthDown
	}
	return HealthUp
}

// newBreaker builds the per-server circuit breaker (nil when s.Failures is negative).
func newBreaker(name string, s BreakerSettings, logger *slog.Logger) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	if s.Failures < 0 {
		return nil
	}
	if s.Failures == 0 {
		s.Failures = DefaultBreakerFailures
	}
	if s.Cooldown <= 0 {
		s.Cooldown = DefaultBreakerCooldown
	}
	if s.HalfOpenProbes <= 0 {
		s.HalfOpenProbes = 1
	}
	failures := uint32(s.Failures)
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(s.HalfOpenProbes),
		Timeout:     s.Cooldown,
		ReadyToTrip: func(counts gobreaker.Counts) bool { return counts.ConsecutiveFailures >= failures },
		OnStateChange: func(name string, from, to gobreaker.State) {
			logger.Warn("VBO circuit breaker", "server", name, "from", from.String(), "to", to.String())
			if s.OnStateChange != nil {
				s.OnStateChange(name, healthOf(from), healthOf(to))
			}
		},
		IsSuccessful: breakerSuccess,
		IsExcluded:   breakerExcluded,
	})
}

// Health reports the breaker state (HealthUp when there is no breaker).
func (c *Client) Health() Health {
	if c.breaker == nil {
		return HealthUp
	}
	return healthOf(c.breaker.State())
}

// breakerSuccess: the server answered, even with a 4xx. Failures are transport errors,
// timeouts and 5xx.
func breakerSuccess(err error) bool {
	if err == nil {
		return true
	}
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode >= 400 && e.StatusCode < 500 || e.StatusCode >= 200 && e.StatusCode < 300
	}
	return false
}

// errCallerGone marks an attempt the caller's context ended (deadline or cancellation).
var errCallerGone = errors.New("caller's context ended")

// breakerExcluded: outcomes that say nothing about the server: the caller went away
// (cancellation), or a 429, which is the server protecting itself while alive.
func breakerExcluded(err error) bool {
	if errors.Is(err, errCallerGone) {
		return true
	}
	var e *Error
	if errors.As(err, &e) && e.StatusCode == http.StatusTooManyRequests {
		return true
	}
	return errors.Is(err, context.Canceled)
}
