package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// principalLimiter bounds the requests one principal runs at once, so one caller's flood
// cannot take every goroutine, connection to VBO and byte of memory from the others. Over the
// bound a request waits (first come, first served) for at most the queue timeout, and at most
// maxQueued of a principal's requests wait; the others are answered 429 RATE_LIMITED with
// Retry-After at once. A principal's entry lives only while it has requests in flight, so the
// limiter's memory follows the requests being served.
type principalLimiter struct {
	perPrincipal int64
	maxQueued    int
	wait         time.Duration

	mu         sync.Mutex
	principals map[string]*principalSlots
}

type principalSlots struct {
	sem     *semaphore.Weighted
	users   int // requests running or waiting (the entry goes when it drops to 0)
	waiting int
}

func newPrincipalLimiter(c config.Concurrency) *principalLimiter {
	if c.PerPrincipal < 0 {
		return nil
	}
	return &principalLimiter{perPrincipal: int64(c.PerPrincipal), maxQueued: max(c.MaxQueued, 0), wait: c.QueueTimeout,
		principals: map[string]*principalSlots{}}
}

// acquire takes one of the principal's slots, waiting for one if the queue has room; the
// returned release must be called when the request ends.
func (l *principalLimiter) acquire(ctx context.Context, key string) (release func(), ok bool) {
	l.mu.Lock()
	s := l.principals[key]
	if s == nil {
		s = &principalSlots{sem: semaphore.NewWeighted(l.perPrincipal)}
		l.principals[key] = s
	}
	s.users++
	if s.sem.TryAcquire(1) {
		l.mu.Unlock()
		return func() { s.sem.Release(1); l.leave(key, s) }, true
	}
	if s.waiting >= l.maxQueued || l.wait <= 0 {
		l.mu.Unlock()
		l.leave(key, s)
		return nil, false
	}
	s.waiting++
	l.mu.Unlock()

	wctx, cancel := context.WithTimeout(ctx, l.wait)
	err := s.sem.Acquire(wctx, 1)
	cancel()
	l.mu.Lock()
	s.waiting--
	l.mu.Unlock()
	if err != nil {
		l.leave(key, s)
		return nil, false
	}
	return func() { s.sem.Release(1); l.leave(key, s) }, true
}

func (l *principalLimiter) leave(key string, s *principalSlots) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.users--
	if s.users == 0 {
		delete(l.principals, key)
	}
}

// tracked reports how many principals have an entry (for tests: the limiter's memory).
func (l *principalLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.principals)
}

func (l *principalLimiter) middleware(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := l.acquire(r.Context(), principalKey(auth.FromContext(r.Context())))
		if !ok {
			secs := max(int64(math.Ceil(l.wait.Seconds())), 1)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			writeGraphQLError(w, http.StatusTooManyRequests, resolvers.CodeRateLimited,
				fmt.Sprintf("too many concurrent requests from this caller (limit %d); retry after %d s", l.perPrincipal, secs),
				map[string]any{"limit": "concurrency.perPrincipal", "max": l.perPrincipal, "retryAfterSeconds": secs})
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}
