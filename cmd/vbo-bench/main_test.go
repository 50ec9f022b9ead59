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
