package config

import (
	"errors"
	"fmt"
	"time"
)

// Store selects where the archive, checkpoints and leases live (used when the watch is on).
type Store struct {
	// Driver is "sqlite" (default: one process) or "postgres" (several replicas).
	Driver string `yaml:"driver"`
	// Path is the SQLite file (default ./vbo-gateway.db).
	Path string `yaml:"path"`
	// DSNEnv names the environment variable holding the PostgreSQL DSN (never in the file).
	DSNEnv string `yaml:"dsnEnv"`

	dsn string // resolved from DSNEnv at load time
}

// DSN is the PostgreSQL DSN resolved from DSNEnv (or WithDSN).
func (s Store) DSN() string { return s.dsn }

// WithDSN returns a copy of s using dsn (tests, embedding).
func (s Store) WithDSN(dsn string) Store {
	s.dsn = dsn
	return s
}

// Store defaults.
const DefaultStorePath = "./vbo-gateway.db"

// Watch configures the restore watch: one poller per VBO server for the whole deployment,
// the archive, and subscriptions.
type Watch struct {
	// Enabled turns the watch on (default off; --demo turns it on).
	Enabled bool `yaml:"enabled"`
	// Interval between polls of each server (default 15s).
	Interval time.Duration `yaml:"interval"`
	// Overlap re-reads this much before the newest session seen, against clock skew and late
	// commits (default 2m).
	Overlap time.Duration `yaml:"overlap"`
	// Backfill is how far back the first start reads (default 720h; "-1s": none).
	Backfill time.Duration `yaml:"backfill"`
	// BackfillConcurrency bounds the calls the backfill has in flight per server (default 2).
	BackfillConcurrency int `yaml:"backfillConcurrency"`
	// MaxEventsPerPoll bounds the events read per running session per poll (default 1000).
	MaxEventsPerPoll int `yaml:"maxEventsPerPoll"`
	// Retention deletes archived sessions that ended longer ago than this (default 0: keep).
	Retention time.Duration `yaml:"retention"`
	// Sweep is the reconciliation sweep that archives sessions the poll missed (watchsweep.go).
	Sweep WatchSweep `yaml:"sweep"`
	// UnwritableAfter is how long the archive may stay unwritable (its database unreachable,
	// full or read-only) before /readyz reports not ready (default 1m).
	UnwritableAfter time.Duration `yaml:"unwritableAfter"`
}

// Watch defaults.
const (
	DefaultWatchInterval       = 15 * time.Second
	DefaultWatchOverlap        = 2 * time.Minute
	DefaultWatchBackfill       = 720 * time.Hour
	DefaultBackfillConcurrency = 2
	DefaultMaxEventsPerPoll    = 1000
	DefaultUnwritableAfter     = time.Minute
)

// WithDefaults fills in the defaults.
func (w Watch) WithDefaults() Watch {
	if w.Interval == 0 {
		w.Interval = DefaultWatchInterval
	}
	if w.Overlap == 0 {
		w.Overlap = DefaultWatchOverlap
	}
	if w.Backfill == 0 {
		w.Backfill = DefaultWatchBackfill
	}
	if w.Backfill < 0 {
		w.Backfill = 0
	}
	if w.BackfillConcurrency == 0 {
		w.BackfillConcurrency = DefaultBackfillConcurrency
	}
	if w.MaxEventsPerPoll == 0 {
		w.MaxEventsPerPoll = DefaultMaxEventsPerPoll
	}
	w.Sweep = w.Sweep.withDefaults()
	if w.UnwritableAfter == 0 {
		w.UnwritableAfter = DefaultUnwritableAfter
	}
	return w
}

// Validate checks effective settings.
func (w Watch) Validate() error {
	switch {
	case w.Interval < 10*time.Millisecond:
		return fmt.Errorf("watch.interval %v: at least 10ms", w.Interval)
	case w.Overlap < 0:
		return fmt.Errorf("watch.overlap %v: must not be negative", w.Overlap)
	case w.BackfillConcurrency < 1 || w.BackfillConcurrency > 32:
		return fmt.Errorf("watch.backfillConcurrency %d: 1 to 32", w.BackfillConcurrency)
	case w.MaxEventsPerPoll < 1 || w.MaxEventsPerPoll > 100_000:
		return fmt.Errorf("watch.maxEventsPerPoll %d: 1 to 100000", w.MaxEventsPerPoll)
	case w.Retention < 0:
		return fmt.Errorf("watch.retention %v: must not be negative (0 keeps everything)", w.Retention)
	case w.UnwritableAfter < 0:
		return fmt.Errorf("watch.unwritableAfter %v: must not be negative", w.UnwritableAfter)
	}
	return w.Sweep.validate(w)
}

// validateStore resolves the store's secret and checks the driver.
func (c *Config) validateStore(lookupEnv func(string) (string, bool)) error {
	s := &c.Store
	switch s.Driver {
	case "", "sqlite":
		s.Driver = "sqlite"
		if s.DSNEnv != "" {
			return errors.New("store.dsnEnv is for driver postgres")
		}
		if s.Path == "" {
			s.Path = DefaultStorePath
		}
	case "postgres":
		if s.Path != "" {
			return errors.New("store.path is for driver sqlite")
		}
		if s.DSNEnv == "" {
			return errors.New("store.dsnEnv: name the environment variable holding the PostgreSQL DSN")
		}
		if !c.Watch.Enabled {
			return nil // not used: the variable need not be set
		}
		v, ok := lookupEnv(s.DSNEnv)
		if !ok || v == "" {
			return fmt.Errorf("store.dsnEnv: environment variable %s is not set (or empty)", s.DSNEnv)
		}
		s.dsn = v
	default:
		return fmt.Errorf("store.driver %q: want sqlite or postgres", s.Driver)
	}
	return c.Watch.WithDefaults().Validate()
}
