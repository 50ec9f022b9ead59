package config

import (
	"fmt"
	"time"
)

// WatchSweep configures the reconciliation sweep: once per Interval each server's poller
// lists the sessions started in the last Window and archives those the incremental poll
// missed (a start time older than the newest seen minus the overlap), with at most MaxCalls
// listing calls per sweep.
type WatchSweep struct {
	// Interval between sweeps of each server (default 10m; "-1s": no sweep).
	Interval time.Duration `yaml:"interval"`
	// Window is how far back a sweep looks (default 24h).
	Window time.Duration `yaml:"window"`
	// MaxCalls bounds the listing calls of one sweep (default 20).
	MaxCalls int `yaml:"maxCalls"`
}

// Sweep defaults.
const (
	DefaultSweepInterval = 10 * time.Minute
	DefaultSweepWindow   = 24 * time.Hour
	DefaultSweepMaxCalls = 20
)

func (s WatchSweep) withDefaults() WatchSweep {
	if s.Interval == 0 {
		s.Interval = DefaultSweepInterval
	}
	if s.Window == 0 {
		s.Window = DefaultSweepWindow
	}
	if s.MaxCalls == 0 {
		s.MaxCalls = DefaultSweepMaxCalls
	}
	return s
}

func (s WatchSweep) validate(w Watch) error {
	switch {
	case s.Interval > 0 && s.Interval < w.Interval:
		return fmt.Errorf("watch.sweep.interval %v: at least watch.interval (%v), or negative for no sweep", s.Interval, w.Interval)
	case s.Window <= w.Overlap:
		return fmt.Errorf("watch.sweep.window %v: longer than watch.overlap (%v)", s.Window, w.Overlap)
	case s.MaxCalls < 1 || s.MaxCalls > 10_000:
		return fmt.Errorf("watch.sweep.maxCalls %d: 1 to 10000", s.MaxCalls)
	}
	return nil
}
