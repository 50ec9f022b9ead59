package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"
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

// admit takes one of the principal's slots for an operation, whatever its transport (the HTTP
// middleware below and every websocket query or mutation, websocket.go), or says why not. A
// nil limiter (no bound) admits everything.
func (l *principalLimiter) admit(ctx context.Context, key string) (release func(), refused *limitRefusal) {
	if l == nil {
		return func() {}, nil
	}
	release, ok := l.acquire(ctx, key)
	if !ok {
		secs := max(int64(math.Ceil(l.wait.Seconds())), 1)
		return nil, &limitRefusal{retryAfter: secs,
			message: fmt.Sprintf("too many concurrent requests from this caller (limit %d); retry after %d s", l.perPrincipal, secs),
			ext:     map[string]any{"limit": "concurrency.perPrincipal", "max": l.perPrincipal}}
	}
	return release, nil
}

func (l *principalLimiter) middleware(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, refused := l.admit(r.Context(), principalKey(auth.FromContext(r.Context())))
		if refused != nil {
			refused.writeHTTP(w)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// limitRefusal is a per-principal bound's answer to one operation (the rate limit, the
// concurrency limit), the same whatever the transport: over HTTP 429 with Retry-After, on a
// websocket that operation's error; both RATE_LIMITED with the same message and extensions.
type limitRefusal struct {
	message    string
	retryAfter int64 // seconds
	ext        map[string]any
}

func (r *limitRefusal) extensions() map[string]any {
	ext := map[string]any{"retryAfterSeconds": r.retryAfter}
	for k, v := range r.ext {
		ext[k] = v
	}
	return ext
}

func (r *limitRefusal) writeHTTP(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.FormatInt(r.retryAfter, 10))
	writeGraphQLError(w, http.StatusTooManyRequests, resolvers.CodeRateLimited, r.message, r.extensions())
}

func (r *limitRefusal) gqlError() *gqlerror.Error {
	ext := r.extensions()
	ext["code"] = resolvers.CodeRateLimited
	return &gqlerror.Error{Message: r.message, Extensions: ext}
}
