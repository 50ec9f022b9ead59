package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Subscriptions travel over two transports on /graphql:
//
//   - SSE, graphql-sse "distinct connections" mode: POST with Accept: text/event-stream,
//     authenticated by its headers like any POST;
//   - websocket, graphql-transport-ws (and legacy graphql-ws): the upgrade carries no
//     credentials (browsers cannot set headers on it); connection_init's payload does
//     ({"Authorization": "Bearer <key or JWT>"} or {"X-API-Key": "<key>"}), checked by the same
//     authenticator, and a refusal closes the socket with 4403. Origins are checked on the
//     upgrade (same host, or limits.corsAllowedOrigins); the server pings every 15 s.
//
// A subscription authenticated with a JWT ends when the token expires: over SSE with a last
// RESUBSCRIBE error (untilTokenExpiry), as a reload that revoked its credentials ends it; a
// websocket closes with 4403 then (websocket.go). A subscription posted as a plain request
// answers its first event within the request deadline and streams nothing more.
//
// Subscriptions skip the request deadline and the per-principal concurrency limit (they are
// long-lived by design), and the server's read and write timeouts are lifted for streams (each
// SSE message still has Options.SSEWriteTimeout to reach its client, see sse.go). The queries
// and mutations sent over SSE or a websocket do not: the executor admits each like an HTTP
// request, with the same rate limit, concurrency slot and deadline (admission.go); a websocket
// operation's credentials are also authenticated again (websocket.go). Instead, for
// subscriptions, limits.subscriptions bounds the subscriptions open at once, per principal and
// in all (SubscriptionSlots, taken in addStreamTransports' interceptor, which every
// subscription passes whatever its transport); one over either bound is refused RATE_LIMITED.

// SubscriptionExample is GraphiQL's second tab when the restore watch is on.
const SubscriptionExample = `# Restores as the watch finds them, live (in --demo the simulated servers start a
# session every 20-60 s each). Run it and wait; add since: "2026-01-01T00:00:00Z"
# to replay the archive first. Each event's extensions.position resumes the stream:
# after: "<position>". restoreEventAdded(sessionId:) follows one session's items.
subscription LiveRestores {
  restoreSessionStarted {
    id
    startTime
    type
    initiatedBy
    clientHost { machineName viaAddress }
    organization { name server { name } }
  }
}
`

// positionExtension is the response extension holding a subscription event's resume position.
const positionExtension = "position"

// wsPingInterval is the graphql-transport-ws ping period (a client that misses two pongs is cut)
// and the legacy graphql-ws keep-alive ("ka") period; credentials are checked again at each.
const wsPingInterval = 15 * time.Second

// isWebsocket reports a websocket upgrade.
func isWebsocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// isSSE reports a graphql-sse request.
func isSSE(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// addStreamTransports registers the websocket and SSE transports (before GET and POST, which
// would otherwise claim their requests) and the per-subscription plumbing.
func addStreamTransports(srv *handler.Server, opts Options, gate *authGate, policy *wsPolicy) {
	var origins []string
	for _, o := range opts.Limits.CORSAllowedOrigins {
		origins = append(origins, strings.TrimRight(strings.ToLower(o), "/"))
	}
	// Every websocket operation is admitted like an HTTP request (websocket.go).
	srv.AddTransport(wsTransport{policy: policy, Websocket: transport.Websocket{
		Implementation: wsAccepter{transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: origins}}},
		InitFunc:              wsInit(gate, policy),
		InitTimeout:           10 * time.Second,
		PingPongInterval:      wsPingInterval,
		KeepAlivePingInterval: wsPingInterval,
	}})
	srv.AddTransport(newSSETransport(opts)) // its keep-alives and writes end with the handler (sse.go)
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
			return next(ctx)
		}
		release, refused := opts.Subscriptions.acquire(principalKey(auth.FromContext(ctx)), opts.Limits.Subscriptions)
		if refused != nil {
			return refuseSubscription(ctx, refused.gqlError())
		}
		// The slot goes back when the stream ends (below) or, whatever the transport does,
		// when the operation's context ends: the client left, the websocket closed or the
		// operation was stopped, a panic unwound the transport.
		context.AfterFunc(ctx, release)
		ctx = resolvers.WithStreamEnd(ctx)
		// An SSE subscription on a JWT ends when the token expires (a websocket closes then,
		// websocket.go): the context the resolver follows the feed with ends at exp.
		ctx, expiring := untilTokenExpiry(ctx)
		ctx, positions := resolvers.WithPositions(ctx)
		responses := next(ctx) // the resolver has registered with the feed
		if err := policy.stillAccepted(ctx); err != nil {
			// A reload that removed the credentials came between the edge's check (the snapshot
			// the request arrived on, or the websocket operation's admission) and the
			// registration: its Feed.CloseAll may have run before this subscription was there to
			// close. Ended as the reload ends the others (RESUBSCRIBE: subscribing again is then
			// refused, 401 or 4403); the request's context ends the stream.
			release()
			opts.Logger.InfoContext(ctx, "subscription refused: its credentials are no longer accepted", "reason", err,
				"request_id", requestid.From(ctx))
			return refuseSubscription(ctx, &gqlerror.Error{Message: resolvers.ErrResubscribe.Error(),
				Extensions: map[string]any{"code": resolvers.CodeResubscribe}})
		}
		ended := false
		return func(rctx context.Context) *graphql.Response {
			if ended {
				return nil
			}
			if expiring {
				// The wait for the next event ends at the expiry too, whatever the feed does.
				var cancel context.CancelFunc
				rctx, cancel = context.WithCancel(rctx)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
			}
			// Each event resolves with fresh loaders: a subscription lives for hours, and its
			// fields must not read a request-sized cache that never expires.
			resp := responses(loaders.With(rctx, opts.Backend.New()))
			if resp != nil {
				// Each event's resume position (resolvers.Positions): extensions.position for
				// every transport; the SSE transport also sends it as the event's id (sse.go).
				if pos := positions.Pop(); pos != "" {
					if resp.Extensions == nil {
						resp.Extensions = map[string]any{}
					}
					resp.Extensions[positionExtension] = pos
				}
			}
			if resp == nil {
				ended = true
				release()
				if errors.Is(context.Cause(ctx), errTokenExpired) {
					opts.Logger.InfoContext(ctx, "subscription ended: its token expired", "request_id", requestid.From(ctx))
					return &graphql.Response{Errors: gqlerror.List{{Message: errTokenExpired.Error(),
						Extensions: map[string]any{"code": resolvers.CodeResubscribe}}}}
				}
				if e := resolvers.StreamEnd(ctx); e != nil {
					// The last message says why the subscription ended early.
					return &graphql.Response{Errors: gqlerror.List{e}}
				}
			}
			return resp
		}
	})
}

// refuseSubscription answers a subscription refused before it started: over a websocket with
// an `error` message for that operation alone (the connection and its other operations stay
// up), otherwise (SSE, a plain POST) with the error as the only response, then the end.
func refuseSubscription(ctx context.Context, e *gqlerror.Error) graphql.ResponseHandler {
	if ctx.Value(wsRequestKey{}) != nil {
		transport.AddSubscriptionError(ctx, e)
		return func(context.Context) *graphql.Response { return nil }
	}
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{e}})
}

type wsRequestKey struct{}

// wsInit authenticates connection_init's payload as if it were the request's headers (with
// the configuration in force), and keeps the credentials for the connection's operations,
// which are authenticated again each (websocket.go).
func wsInit(gate *authGate, policy *wsPolicy) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		orig, _ := ctx.Value(wsRequestKey{}).(*http.Request)
		if orig == nil {
			return transport.WithWebsocketCloseCode(ctx, 4403), nil, errors.New("forbidden")
		}
		r := orig.Clone(ctx)
		hdr, bad := initPayloadHeaders(payload) // one credential, given once (auth.go)
		if bad != nil {
			return gate.refuseInit(ctx, bad)
		}
		r.Header = hdr
		p, err := policy.authenticate(r)
		if err != nil || p == nil {
			key := gate.clients.Bucket(orig)
			gate.logger.InfoContext(ctx, "authentication failed (websocket connection_init)", "reason", err, "client", key,
				"request_id", requestid.From(ctx))
			if !gate.spend(key) {
				gate.slow(orig)
			}
			return transport.WithWebsocketCloseCode(ctx, wsCloseForbidden), nil, errors.New("forbidden: authentication required")
		}
		if s := sessionFrom(ctx); s != nil {
			s.authenticated(r)
		}
		return upstream.WithFairnessKey(auth.WithClient(auth.WithPrincipal(ctx, p), gate.clients.Client(orig)), principalKey(p)), nil, nil
	}
}

// streamHandler serves SSE and websockets: SSE through the authentication gate and the rate
// limit HTTP requests and websocket operations draw from (one budget per principal), websockets
// straight to the executor (authenticated in connection_init, each operation admitted in
// websocket.go). Neither request has a deadline and the server's timeouts are lifted: a query
// or mutation on either gets the request deadline and its concurrency slot in the executor
// (admission.go), a subscription its subscription slot.
func streamHandler(opts Options, gate *authGate, behind, exec http.Handler) http.Handler {
	lim := opts.Limits
	inner := loaders.Middleware(opts.Backend, exec)
	// The query cost as over HTTP (behindGate); the server's read timeout bounds the body.
	sse := gate.wrap(behind)
	if !lim.CSRFUnsafeDisabled {
		sse = withCSRF(sse)
	}
	return withCORS(lim.CORSAllowedOrigins, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		w = flushWriter{w}
		if isWebsocket(r) {
			_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
			inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), wsRequestKey{}, r)))
			return
		}
		// The subscription's credentials, authenticated again once it is registered (stillAccepted).
		sse.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sseRequestKey{}, r)))
	}))
}

type sseRequestKey struct{}

// stillAccepted authenticates a subscription's credentials again with the configuration in
// force, once its resolver has registered it with the feed: the edge authenticated an SSE
// request with the snapshot it arrived on, and a reload between that and the registration
// (the body may take the server's read timeout to arrive) ended the subscriptions registered
// by then only (Feed.CloseAll after the new configuration is in force). Registered first,
// checked second: either the check reads the new configuration and refuses, or the reload's
// CloseAll comes after the registration and ends it. A websocket's credentials are those of
// its connection_init (wsSession.authorize). nil for a subscription run in process (the
// console authenticates each of its requests itself).
func (p *wsPolicy) stillAccepted(ctx context.Context) error {
	if s := sessionFrom(ctx); s != nil {
		_, err := s.authorize(p.authenticate)
		return err
	}
	r, _ := ctx.Value(sseRequestKey{}).(*http.Request)
	if r == nil {
		return nil
	}
	pr, err := p.authenticate(r)
	if err == nil && pr == nil {
		err = errors.New("no credentials")
	}
	return err
}

// errTokenExpired ends an SSE subscription whose JWT expired, with the code a reload that
// revoked its credentials ends it with (RESUBSCRIBE): subscribing again with the expired token
// is refused (401), with a fresh one it resumes.
var errTokenExpired = errors.New("subscription closed: the token expired; subscribe again with a fresh token (with after set to the last position received) to continue")

// untilTokenExpiry ends ctx, with the cause errTokenExpired, when the JWT an SSE subscription
// was authenticated with expires (its exp claim; the authenticator verified it already). It
// reports whether it set an end: not for an API key (no expiry), a websocket (its connection
// closes at the expiry, wsSession) or a subscription run in process.
func untilTokenExpiry(ctx context.Context) (context.Context, bool) {
	r, _ := ctx.Value(sseRequestKey{}).(*http.Request)
	if r == nil || sessionFrom(ctx) != nil {
		return ctx, false
	}
	exp, ok := jwtExpiry(r)
	if !ok {
		return ctx, false
	}
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(time.Until(exp), func() { cancel(errTokenExpired) })
	context.AfterFunc(ctx, func() { t.Stop() }) // the stream ended first: no timer left behind
	return ctx, true
}

// afterBody lifts the server's read timeout from an SSE request once its body has been read
// (readRequest): until then the timeout bounds a client trickling its body, which holds no
// concurrency slot and has no request deadline yet; after it, the stream lives as long as the
// client likes (each message still has its write deadline, sse.go).
func afterBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}

// routeStreams sends subscriptions to streams and everything else to next.
func routeStreams(streams, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) || isSSE(r) {
			streams.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// flushWriter gives the SSE transport an http.Flusher whatever wraps the writer (metrics).
type flushWriter struct{ http.ResponseWriter }

func (f flushWriter) Flush() { _ = http.NewResponseController(f.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController and the websocket upgrade reach the connection.
func (f flushWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
