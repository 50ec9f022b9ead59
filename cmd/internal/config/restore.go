package config

import (
	"errors"
	"fmt"
	"time"
)

// Restore configures the restore front door (docs/restore-front-door.md): restore sessions
// started, browsed and stopped through the gateway, each step recorded against the person in
// the store's attribution log. Off by default; it needs the store (watch.enabled).
type Restore struct {
	// Enabled turns the front door on (default false: its mutations answer NOT_CONFIGURED).
	Enabled bool `yaml:"enabled"`
	// IdleTimeout is how long a session may go without a step before the reaper stops it
	// (default 30m).
	IdleTimeout time.Duration `yaml:"idleTimeout"`
	// MaxOpenSessionsPerPerson bounds the sessions one person holds open at once (default 3);
	// one more start answers RATE_LIMITED.
	MaxOpenSessionsPerPerson int `yaml:"maxOpenSessionsPerPerson"`
	// StepsPerMinute bounds the steps (start, browse page, search, stop) one person takes
	// through the front door (default 120, with a burst of a quarter of it); past it, RATE_LIMITED.
	StepsPerMinute int `yaml:"stepsPerMinute"`
	// ReapInterval is how often the reaper looks for sessions to stop (default 1m).
	ReapInterval time.Duration `yaml:"reapInterval"`
	// RestoreActions are the item actions' keys (issue 25; restore_actions.go).
	RestoreActions `yaml:",inline"`
}

// Restore defaults.
const (
	DefaultRestoreIdleTimeout      = 30 * time.Minute
	DefaultRestoreMaxOpenPerPerson = 3
	DefaultRestoreStepsPerMinute   = 120
	DefaultRestoreReapInterval     = time.Minute
)

// WithDefaults fills what is unset.
func (r Restore) WithDefaults() Restore {
	if r.IdleTimeout == 0 {
		r.IdleTimeout = DefaultRestoreIdleTimeout
	}
	if r.MaxOpenSessionsPerPerson == 0 {
		r.MaxOpenSessionsPerPerson = DefaultRestoreMaxOpenPerPerson
	}
	if r.StepsPerMinute == 0 {
		r.StepsPerMinute = DefaultRestoreStepsPerMinute
	}
	if r.ReapInterval == 0 {
		r.ReapInterval = DefaultRestoreReapInterval
	}
	return r
}

// Validate checks the (defaulted) settings; watchEnabled is whether the store exists.
func (r Restore) Validate(watchEnabled bool) error {
	if r.IdleTimeout < time.Minute || r.IdleTimeout > 24*time.Hour {
		return fmt.Errorf("restore.idleTimeout: %s is outside 1m..24h", r.IdleTimeout)
	}
	if r.MaxOpenSessionsPerPerson < 1 || r.MaxOpenSessionsPerPerson > 100 {
		return fmt.Errorf("restore.maxOpenSessionsPerPerson: %d is outside 1..100", r.MaxOpenSessionsPerPerson)
	}
	if r.StepsPerMinute < 1 || r.StepsPerMinute > 100_000 {
		return fmt.Errorf("restore.stepsPerMinute: %d is outside 1..100000", r.StepsPerMinute)
	}
	if r.ReapInterval < time.Second || r.ReapInterval > r.IdleTimeout {
		return fmt.Errorf("restore.reapInterval: %s is outside 1s..idleTimeout (%s)", r.ReapInterval, r.IdleTimeout)
	}
	if r.Enabled && !watchEnabled {
		return errors.New("restore.enabled: the restore front door records every step in the gateway's store: set watch.enabled too")
	}
	return nil
}
