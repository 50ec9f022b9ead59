package config

import "fmt"

// Runtime tunes the Go runtime of the gateway process. It is read at start-up only (a reload
// leaves it alone), and an operator's GOGC or GOMEMLIMIT environment variable wins over it.
type Runtime struct {
	// GCPercent is the garbage collector's target: the heap may grow this many percent over
	// the live heap before the next collection (Go's GOGC). Default 400, not Go's 100: the
	// gateway's live heap is small (tens of MiB) and most of what it allocates is per-request
	// garbage, so collecting a quarter as often cuts its CPU per request by about a third
	// (docs/benchmarks.md) for a few tens of MiB more memory. 25..10000.
	GCPercent int `yaml:"gcPercent"`
	// MemoryLimitMiB is a soft limit on the Go runtime's memory (Go's GOMEMLIMIT): near it
	// the collector runs as often as it must, whatever gcPercent says. Default 0: 80% of the
	// container's memory limit (the cgroup's memory.max) when there is one, else no limit.
	MemoryLimitMiB int `yaml:"memoryLimitMiB"`
}

// DefaultGCPercent is Runtime.GCPercent's default.
const DefaultGCPercent = 400

// MaxMemoryLimitMiB bounds Runtime.MemoryLimitMiB (64 TiB).
const MaxMemoryLimitMiB = 64 << 20

// WithDefaults fills in zero values.
func (r Runtime) WithDefaults() Runtime {
	if r.GCPercent == 0 {
		r.GCPercent = DefaultGCPercent
	}
	return r
}

// Validate checks r (after WithDefaults).
func (r Runtime) Validate() error {
	if r.GCPercent < 25 || r.GCPercent > 10000 {
		return fmt.Errorf("runtime.gcPercent %d: want 25..10000", r.GCPercent)
	}
	if r.MemoryLimitMiB < 0 || r.MemoryLimitMiB > MaxMemoryLimitMiB {
		return fmt.Errorf("runtime.memoryLimitMiB %d: want 0 (the container's, or none) to %d", r.MemoryLimitMiB, MaxMemoryLimitMiB)
	}
	return nil
}
