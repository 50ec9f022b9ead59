package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
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
	clients      clientaddr.Proxies
	failures     *expirable.LRU[string, *rate.Limiter] // nil: no throttling
	limit        rate.Limit
	burst        int
	delay        time.Duration
	slowed       chan struct{} // one token per failure being held back
}

func newAuthGate(opts Options, lim config.AuthFailures) *authGate {
	g := &authGate{authenticate: opts.Authenticate, logger: opts.Logger, clients: clientaddr.Proxies(opts.TrustedProxies),
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
// failed too often). Two credentials are refused first, 400 (authn.CheckCredentials).
func (g *authGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := authn.CheckCredentials(r.Header); err != nil {
			g.logger.InfoContext(r.Context(), "authentication refused", "reason", err, "client", g.clients.Bucket(r),
				"request_id", requestid.From(r.Context()))
			writeAmbiguousCredentials(w, err)
			return
		}
		p, err := g.authenticate(r)
		if err == nil && p != nil {
			ctx := auth.WithClient(auth.WithPrincipal(r.Context(), p), g.clients.Client(r))
			next.ServeHTTP(w, r.WithContext(upstream.WithFairnessKey(ctx, principalKey(p))))
			return
		}
		key := g.clients.Bucket(r)
		g.logger.InfoContext(r.Context(), "authentication failed", "reason", err, "client", key,
			"request_id", requestid.From(r.Context()))
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

// credentialHeaders are the payload keys of connection_init that carry a credential (compared
// ignoring case), by the header each stands for.
var credentialHeaders = map[string]string{"authorization": "Authorization", "x-api-key": "X-API-Key"}

// initPayloadHeaders reads the credential in a websocket's connection_init payload
// ({"Authorization": "Bearer <key or JWT>"} or {"X-API-Key": "<key>"}) as request headers, under
// authn.CheckCredentials' rule. Keys are compared ignoring case, so {"authorization": ..,
// "Authorization": ..} is one credential given twice and refused; a credential that is not a
// string is refused too (before, it was skipped).
func initPayloadHeaders(payload map[string]any) (http.Header, error) {
	h := http.Header{}
	for k, v := range payload {
		name, ok := credentialHeaders[strings.ToLower(k)]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("connection_init payload: %s must be a string", name)
		}
		if len(h.Values(name)) > 0 {
			return nil, fmt.Errorf("%w: connection_init payload has %s twice (keys differing in case); send it once",
				authn.ErrAmbiguousCredentials, name)
		}
		h.Add(name, s)
	}
	if err := authn.CheckCredentials(h); err != nil {
		return nil, err
	}
	return h, nil
}

// maxCloseReason is the most a websocket close frame's reason may hold (RFC 6455: 125 bytes of
// payload, 2 of them the code); a longer reason would fail the close itself.
const maxCloseReason = 123

// refuseInit closes a websocket whose connection_init payload breaks the credential rule, with
// 4403 and the reason.
func (g *authGate) refuseInit(ctx context.Context, err error) (context.Context, *transport.InitPayload, error) {
	g.logger.InfoContext(ctx, "authentication refused (websocket connection_init)", "reason", err,
		"request_id", requestid.From(ctx))
	msg := "forbidden: " + err.Error()
	reason := strings.ToValidUTF8(msg[:min(len(msg), maxCloseReason)], "")
	return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, 4403), reason), nil, errors.New(msg)
}

func writeAmbiguousCredentials(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="vbo-gateway", error="invalid_request"`)
	writeGraphQLError(w, http.StatusBadRequest, resolvers.CodeUnauthenticated, err.Error(), nil)
}
