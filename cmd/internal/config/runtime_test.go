package config

import (
	"strings"
	"testing"
)

func TestConfigRuntime(t *testing.T) {
	for _, tc := range []struct {
		yaml      string
		gcPercent int
		limitMiB  int
		err       string
	}{
		{yaml: "", gcPercent: DefaultGCPercent},
		{yaml: "runtime: {gcPercent: 100}", gcPercent: 100},
		{yaml: "runtime: {gcPercent: 200, memoryLimitMiB: 768}", gcPercent: 200, limitMiB: 768},
		{yaml: "runtime: {gcPercent: 10}", err: "runtime.gcPercent"},
		{yaml: "runtime: {gcPercent: -1}", err: "runtime.gcPercent"}, // GOGC=off is not offered
		{yaml: "runtime: {gcPercent: 20000}", err: "runtime.gcPercent"},
		{yaml: "runtime: {memoryLimitMiB: -2}", err: "runtime.memoryLimitMiB"},
		{yaml: "runtime: {memoryLimitMiB: 9007199254740993}", err: "runtime.memoryLimitMiB"}, // would overflow in bytes
		{yaml: "runtime: {gogc: 100}", err: "gogc"},                                          // unknown keys are errors
	} {
		c, err := cfgtParse(cfgtServers + tc.yaml)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want one naming %s", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		if c.Runtime.GCPercent != tc.gcPercent || c.Runtime.MemoryLimitMiB != tc.limitMiB {
			t.Errorf("%q: runtime = %+v, want gcPercent %d, memoryLimitMiB %d", tc.yaml, c.Runtime, tc.gcPercent, tc.limitMiB)
		}
	}
}
