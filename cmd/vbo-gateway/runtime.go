package main

import (
	"log/slog"
	"runtime/debug"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// runtimeKnobs are the process-wide settings tuneRuntime changes (the runtime/debug functions;
// fakes in tests).
type runtimeKnobs struct {
	setGCPercent   func(int) int
	setMemoryLimit func(int64) int64
}

var processKnobs = runtimeKnobs{setGCPercent: debug.SetGCPercent, setMemoryLimit: debug.SetMemoryLimit}

// tuneRuntime applies the config's garbage-collector settings to this process at start-up. The
// operator's environment wins: with GOGC (or GOMEMLIMIT) set, the runtime has already read it
// and the config's value is left unused, and the log says which applies.
func tuneRuntime(r config.Runtime, getenv func(string) string, k runtimeKnobs, logger *slog.Logger) {
	r = r.WithDefaults()
	gc, limit := "config", "config"
	if getenv("GOGC") != "" {
		gc = "GOGC"
	} else {
		k.setGCPercent(r.GCPercent)
	}
	switch {
	case getenv("GOMEMLIMIT") != "":
		limit = "GOMEMLIMIT"
	case r.MemoryLimitMiB > 0:
		k.setMemoryLimit(int64(r.MemoryLimitMiB) << 20)
	default:
		limit = "none"
	}
	logger.Info("go runtime", "gcPercent", r.GCPercent, "gcPercentFrom", gc,
		"memoryLimitMiB", r.MemoryLimitMiB, "memoryLimitFrom", limit)
}
