package main

import (
	"io"
	"log/slog"
	"math"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

func TestTuneRuntime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		r         config.Runtime
		env       map[string]string
		cgroup    int64 // what the container's limit sets (0: no container limit)
		wantGC    int   // -2: not set
		wantLimit int64 // -2: not set
	}{
		{name: "defaults", wantGC: config.DefaultGCPercent, wantLimit: -2},
		{name: "container limit", cgroup: 800 << 20, wantGC: config.DefaultGCPercent, wantLimit: 800 << 20},
		{name: "configured limit wins over the container's", r: config.Runtime{MemoryLimitMiB: 256}, cgroup: 800 << 20,
			wantGC: config.DefaultGCPercent, wantLimit: 256 << 20},
		{name: "GOMEMLIMIT wins over the container's", env: map[string]string{"GOMEMLIMIT": "1GiB"}, cgroup: 800 << 20,
			wantGC: config.DefaultGCPercent, wantLimit: -2},
		{name: "configured", r: config.Runtime{GCPercent: 150, MemoryLimitMiB: 512}, wantGC: 150, wantLimit: 512 << 20},
		{name: "GOGC wins", r: config.Runtime{GCPercent: 150}, env: map[string]string{"GOGC": "100"}, wantGC: -2, wantLimit: -2},
		{name: "GOMEMLIMIT wins", r: config.Runtime{MemoryLimitMiB: 512}, env: map[string]string{"GOMEMLIMIT": "1GiB"},
			wantGC: config.DefaultGCPercent, wantLimit: -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const startGC, startLimit = 100, int64(math.MaxInt64)
			gc, limit := startGC, startLimit
			k := runtimeKnobs{
				setGCPercent: func(p int) int { prev := gc; gc = p; return prev },
				setMemoryLimit: func(l int64) int64 {
					prev := limit
					if l >= 0 {
						limit = l
					}
					return prev
				},
				memoryLimitFromCgroup: func() (int64, error) {
					if tc.cgroup == 0 {
						return math.MaxInt64, nil
					}
					limit = tc.cgroup // the library sets it itself
					return tc.cgroup, nil
				},
			}
			restore := tuneRuntime(tc.r, func(k string) string { return tc.env[k] }, k, slog.New(slog.NewTextHandler(io.Discard, nil)))
			wantGC, wantLimit := tc.wantGC, tc.wantLimit
			if wantGC == -2 {
				wantGC = startGC
			}
			if wantLimit == -2 {
				wantLimit = startLimit
			}
			if gc != wantGC || limit != wantLimit {
				t.Errorf("gcPercent %d, memory limit %d; want %d, %d", gc, limit, wantGC, wantLimit)
			}
			restore()
			if gc != startGC || limit != startLimit {
				t.Errorf("after restore: gcPercent %d, memory limit %d; want %d, %d", gc, limit, startGC, startLimit)
			}
		})
	}
}
