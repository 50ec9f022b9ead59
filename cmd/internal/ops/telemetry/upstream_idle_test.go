package telemetry

import (
	"net/http"
	"testing"
)

type idleCounter struct {
	http.RoundTripper
	closed int
}

func (c *idleCounter) CloseIdleConnections() { c.closed++ }

// TestUpstreamWrapClosesIdleConnections: an http.Client over the instrumented transport closes
// the idle connections of the transport it wraps.
func TestUpstreamWrapClosesIdleConnections(t *testing.T) {
	base := &idleCounter{}
	hc := &http.Client{Transport: Upstream{Server: "syd1"}.Wrap(base)}
	hc.CloseIdleConnections()
	if base.closed != 1 {
		t.Fatalf("CloseIdleConnections reached the wrapped transport %d times, want 1", base.closed)
	}
}
