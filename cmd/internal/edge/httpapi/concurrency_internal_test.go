package httpapi

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// The limiter keeps an entry only while a principal has requests running or waiting: after a
// burst from many principals, with refusals and timeouts among them, nothing is left behind.
func TestPrincipalLimiterForgetsIdlePrincipals(t *testing.T) {
	l := newPrincipalLimiter(config.Concurrency{PerPrincipal: 2, MaxQueued: 2, QueueTimeout: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for i := range 2000 {
		wg.Go(func() {
			release, ok := l.acquire(context.Background(), fmt.Sprintf("p%d", i%50))
			if ok {
				time.Sleep(time.Millisecond)
				release()
			}
		})
	}
	wg.Wait()
	if n := l.tracked(); n != 0 {
		t.Errorf("%d principals still tracked after every request ended, want 0", n)
	}
}
