package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// authGate authenticates requests and throttles failed attempts per client address, so keys
// and tokens cannot be guessed at speed.
type authGate struct {
	opts     Options
	failures *expirable.LRU[string, *rate.Limiter] // nil: no throttling
	limit    rate.Limit
	burst    int
}

func newAuthGate(opts Options, lim config.AuthFailures) *authGate {
	g := &authGate{opts: opts}
	if lim.PerMinute > 0 {
		g.limit, g.burst = rate.Limit(lim.PerMinute/60), lim.Burst
		g.failures = expirable.NewLRU[string, *rate.Limiter](100_000, nil, 10*time.Minute)
	}
	return g
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bucket returns the client's failure bucket (nil when throttling is off).
func (g *authGate) bucket(r *http.Request) *rate.Limiter {
	if g.failures == nil {
		return nil
	}
	key := clientAddr(r)
	lim, ok := g.failures.Get(key)
	if !ok {
		lim = rate.NewLimiter(g.limit, g.burst)
		g.failures.Add(key, lim)
	}
	return lim
}

// wrap puts the caller's Principal in the context, or answers 401 (or 429 once the address
// has failed too often).
func (g *authGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := g.bucket(r)
		if b != nil && b.Tokens() < 1 {
			w.Header().Set("Retry-After", "60")
			writeGraphQLError(w, http.StatusTooManyRequests, resolvers.CodeRateLimited,
				"too many failed authentication attempts; retry later", nil)
			return
		}
		p, err := g.opts.Authenticate(r)
		if err != nil || p == nil {
			g.opts.Logger.InfoContext(r.Context(), "authentication failed", "reason", err, "remote", clientAddr(r),
				"request_id", resolvers.RequestID(r.Context()))
			if b != nil {
				b.Allow() // spend one token per failure
			}
			writeUnauthenticated(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// admin lets only provider admins through (metrics name every server and its health, which
// tenants may not see).
func (g *authGate) admin(next http.Handler) http.Handler {
	return g.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !auth.FromContext(r.Context()).IsAdmin() {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func writeUnauthenticated(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="vbo-gateway"`)
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"errors":[{"message":"authentication required","extensions":{"code":"UNAUTHENTICATED"}}],"data":null}`)
}
