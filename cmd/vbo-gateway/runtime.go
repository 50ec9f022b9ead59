package main

import (
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// runtimeKnobs are the process-wide settings tuneRuntime changes (the runtime/debug functions;
// fakes in tests).
type runtimeKnobs struct {
	setGCPercent   func(int) int
	setMemoryLimit func(int64) int64
	// memoryLimitFromCgroup sets the soft limit to 80% of the container's memory limit (a
	// cgroup's memory.max), if there is one, and returns it (math.MaxInt64: none).
	memoryLimitFromCgroup func() (int64, error)
}

var processKnobs = runtimeKnobs{setGCPercent: debug.SetGCPercent, setMemoryLimit: debug.SetMemoryLimit,
	memoryLimitFromCgroup: func() (int64, error) {
		return memlimit.Set(memlimit.WithRatio(0.8), memlimit.WithProvider(memlimit.FromCgroup))
	}}

// tuneRuntime applies the config's garbage-collector settings to this process at start-up. The
// operator's environment wins: with GOGC (or GOMEMLIMIT) set, the runtime has already read it
// and the config's value is left unused, and the log says which applies. Without a configured
// soft memory limit, a container's memory limit sets one (80% of it): at gcPercent 400 the heap
// may grow to five times the live heap, and near the limit the collector runs as often as it
// must instead.
//
// It returns the function that puts back what it changed (run's callers, tests among them, get
// their process as it was).
func tuneRuntime(r config.Runtime, getenv func(string) string, k runtimeKnobs, logger *slog.Logger) (restore func()) {
	r = r.WithDefaults()
	// The memory limit is read up front: memlimit sets the container's without returning the
	// one it replaces. A negative limit reads it and changes nothing.
	prevLimit := k.setMemoryLimit(-1)
	restoreGC := func() {}
	gc, limit := "config", "config"
	if getenv("GOGC") != "" {
		gc = "GOGC"
	} else {
		prevGC := k.setGCPercent(r.GCPercent)
		restoreGC = func() { k.setGCPercent(prevGC) }
	}
	restore = func() {
		restoreGC()
		k.setMemoryLimit(prevLimit)
	}
	switch {
	case getenv("GOMEMLIMIT") != "":
		limit = "GOMEMLIMIT"
	case r.MemoryLimitMiB > 0:
		k.setMemoryLimit(int64(r.MemoryLimitMiB) << 20)
	default:
		limit = "none"
		got, err := k.memoryLimitFromCgroup()
		switch {
		case err != nil:
			logger.Debug("no container memory limit read", "err", err)
		case got > 0 && got < math.MaxInt64:
			r.MemoryLimitMiB, limit = int(got>>20), "cgroup"
		}
	}
	logger.Info("go runtime", "gcPercent", r.GCPercent, "gcPercentFrom", gc,
		"memoryLimitMiB", r.MemoryLimitMiB, "memoryLimitFrom", limit)
	return restore
}
