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
			gotGC, gotLimit := -2, int64(-2)
			k := runtimeKnobs{
				setGCPercent:   func(p int) int { gotGC = p; return 100 },
				setMemoryLimit: func(l int64) int64 { gotLimit = l; return 0 },
				memoryLimitFromCgroup: func() (int64, error) {
					if tc.cgroup == 0 {
						return math.MaxInt64, nil
					}
					gotLimit = tc.cgroup // the library sets it itself
					return tc.cgroup, nil
				},
			}
			tuneRuntime(tc.r, func(k string) string { return tc.env[k] }, k, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if gotGC != tc.wantGC || gotLimit != tc.wantLimit {
				t.Errorf("set gcPercent %d, memory limit %d; want %d, %d (-2: untouched)", gotGC, gotLimit, tc.wantGC, tc.wantLimit)
			}
		})
	}
}
