package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// rateLimiter is a token bucket per principal (subject when authenticated, else remote IP).
type rateLimiter struct {
	limit   rate.Limit
	burst   int
	buckets *expirable.LRU[string, *rate.Limiter]
}

func newRateLimiter(rl config.RateLimit) *rateLimiter {
	if rl.PerSecond <= 0 {
		return nil
	}
	// An idle bucket refills completely within burst/rate; forgetting it after that (or 10 min)
	// loses nothing.
	ttl := max(time.Duration(float64(rl.Burst)/rl.PerSecond*float64(time.Second)), time.Minute)
	return &rateLimiter{limit: rate.Limit(rl.PerSecond), burst: rl.Burst,
		buckets: expirable.NewLRU[string, *rate.Limiter](100_000, nil, min(ttl, 10*time.Minute))}
}

// allow takes a token from the principal's bucket for one operation, whatever its transport
// (the HTTP middleware below and every websocket operation, websocket.go), or says when to
// retry. A nil limiter (rate limiting off) allows everything.
func (rl *rateLimiter) allow(key string) *limitRefusal {
	if rl == nil {
		return nil
	}
	lim, ok := rl.buckets.Get(key)
	if !ok {
		lim = rate.NewLimiter(rl.limit, rl.burst)
		rl.buckets.Add(key, lim)
	}
	res := lim.Reserve()
	d := res.Delay()
	if res.OK() && d == 0 {
		return nil
	}
	res.Cancel()
	secs := int64(math.Ceil(d.Seconds()))
	if !res.OK() || secs < 1 {
		secs = 1
	}
	return &limitRefusal{retryAfter: secs, message: fmt.Sprintf("rate limit exceeded; retry after %d s", secs)}
}

func (rl *rateLimiter) middleware(next http.Handler) http.Handler {
	if rl == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Behind the auth gate: always a principal.
		if refused := rl.allow(principalKey(auth.FromContext(r.Context()))); refused != nil {
			refused.writeHTTP(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}
