package main

import "testing"

// TestParseFlagsResolvesCPUSets: the CPU sets are resolved once, by parseFlags; "none" (what a
// parent passes its child for no pinning) is no pinning.
func TestParseFlagsResolvesCPUSets(t *testing.T) {
	o, err := parseFlags([]string{"--system-cpus", "none", "--harness-cpus", "none"})
	if err != nil {
		t.Fatal(err)
	}
	if o.systemCPUs != "" || o.harnessCPUs != "" {
		t.Fatalf("system CPUs %q, harness CPUs %q; want no pinning", o.systemCPUs, o.harnessCPUs)
	}
	if got := orNone(o.systemCPUs); got != "none" {
		t.Fatalf("passed to the child as %q, want none", got)
	}
}

func TestCPUCount(t *testing.T) {
	for _, tc := range []struct {
		list string
		want int
	}{
		{"3", 1}, {"0,2", 2}, {"0-2", 3}, {"0-2,5", 4}, {"4-7,9-10", 6},
	} {
		if got := cpuCount(tc.list); got != tc.want {
			t.Errorf("cpuCount(%q) = %d, want %d", tc.list, got, tc.want)
		}
	}
}
