package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// maxSlowedFailures bounds the failures held back at once (each holds a connection): past it,
// a throttled failure is answered without the delay.
const maxSlowedFailures = 64

// authGate authenticates requests on their headers alone (the body is read later, only for an
// authenticated caller) and throttles failed attempts per client, so keys and tokens cannot be
// guessed at speed.
//
// Authentication comes first: a valid credential always passes, whatever its address did
// before, so one bad client behind a NAT or proxy locks nobody else out. Only failures spend
// the client's budget; a failure over the budget is slowed, then answered 429.
type authGate struct {
	authenticate Authenticator
	logger       *slog.Logger
	clients      clientAddrs
	failures     *expirable.LRU[string, *rate.Limiter] // nil: no throttling
	limit        rate.Limit
	burst        int
	delay        time.Duration
	slowed       chan struct{} // one token per failure being held back
}

func newAuthGate(opts Options, lim config.AuthFailures) *authGate {
	g := &authGate{authenticate: opts.Authenticate, logger: opts.Logger, clients: clientAddrs{trusted: opts.TrustedProxies},
		delay: max(lim.Delay, 0), slowed: make(chan struct{}, maxSlowedFailures)}
	if lim.PerMinute > 0 {
		g.limit, g.burst = rate.Limit(lim.PerMinute/60), lim.Burst
		g.failures = expirable.NewLRU[string, *rate.Limiter](100_000, nil, 10*time.Minute)
	}
	return g
}

// spend takes one failure from the client's budget and reports whether it had one left.
func (g *authGate) spend(key string) bool {
	if g.failures == nil {
		return true
	}
	lim, ok := g.failures.Get(key)
	if !ok {
		lim = rate.NewLimiter(g.limit, g.burst)
		g.failures.Add(key, lim)
	}
	return lim.Allow()
}

// slow holds a throttled failure back for the delay (or until the client goes away).
func (g *authGate) slow(r *http.Request) {
	if g.delay <= 0 {
		return
	}
	select {
	case g.slowed <- struct{}{}:
		defer func() { <-g.slowed }()
	default:
		return // enough held back already: don't let failures pin every connection
	}
	t := time.NewTimer(g.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// wrap puts the caller's Principal in the context, or answers 401 (429 once the client has
// failed too often).
func (g *authGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.authenticate(r)
		if err == nil && p != nil {
			next.ServeHTTP(w, r.WithContext(upstream.WithFairnessKey(auth.WithPrincipal(r.Context(), p), principalKey(p))))
			return
		}
		key := g.clients.bucket(r)
		g.logger.InfoContext(r.Context(), "authentication failed", "reason", err, "client", key,
			"request_id", resolvers.RequestID(r.Context()))
		if !g.spend(key) {
			g.slow(r)
			secs := max(int64(math.Ceil(1/float64(g.limit))), 1)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			writeGraphQLError(w, http.StatusTooManyRequests, resolvers.CodeRateLimited,
				"too many failed authentication attempts; retry later", map[string]any{"retryAfterSeconds": secs})
			return
		}
		writeUnauthenticated(w)
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

// principalKey names a principal for per-principal limits (subjects are unique per tenant).
func principalKey(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.Tenant + "|" + p.Subject
}

func writeUnauthenticated(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="vbo-gateway"`)
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"errors":[{"message":"authentication required","extensions":{"code":"UNAUTHENTICATED"}}],"data":null}`)
}
