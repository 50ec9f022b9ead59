package upstream

import (
	"context"
	"testing"
	"time"
)

// A caller's own short deadline against a slow but healthy server must not open the breaker:
// otherwise one impatient (or hostile) request takes the server away from everyone.
func TestBreakerIgnoresCallerDeadlines(t *testing.T) {
	v := newResVBO(t)
	c := v.client(t, ClientOptions{Breaker: &BreakerSettings{Failures: 2, Cooldown: time.Minute}})
	if _, err := c.Organizations(context.Background()); err != nil { // token + a good call
		t.Fatal(err)
	}
	v.delay.Store(int64(200 * time.Millisecond))
	for range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, _ = c.Organizations(ctx)
		cancel()
	}
	if h := c.Health(); h != HealthUp {
		t.Fatalf("health = %v after callers' deadlines, want up", h)
	}
	v.delay.Store(0)
	if _, err := c.Organizations(context.Background()); err != nil {
		t.Errorf("a patient caller was refused: %v", err)
	}
}
