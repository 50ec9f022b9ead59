package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
)

// admission is where every GraphQL operation, whatever its transport (HTTP POST and GET, SSE,
// websocket in both protocols, the console in process), meets the per-principal rate limit, the
// per-principal concurrency limit and the request deadline (ARCHITECTURE.md rule 10): one
// budget of each per principal, one refusal (RATE_LIMITED with the same message and
// extensions; 429 with Retry-After when it can still be an HTTP status).
//
//   - The rate limit is spent once per operation, before it is parsed: by request (HTTP, SSE;
//     one operation each) or by websocket operation (allow, from websocket.go).
//   - A query or mutation holds one of its principal's concurrency slots and has the request
//     deadline for as long as it runs. A plain HTTP request takes both before its body is read
//     (request, behind withDeadline), so a refusal is a 429 and the bounds cover the body too;
//     it is marked admitted. Every other query or mutation is admitted by operations, the
//     executor's interceptor every transport's operations pass: SSE and websocket ones, and
//     whatever transport comes next, unless it was admitted already (never twice).
//   - Subscriptions take neither (they are long-lived by design): limits.subscriptions bounds
//     them instead (SubscriptionSlots, subscriptions.go).
type admission struct {
	rate        *rateLimiter
	concurrency *principalLimiter
	timeout     time.Duration // a query's or mutation's deadline (<= 0: none)
}

// admittedKey marks a context whose operation already holds its concurrency slot and deadline.
type admittedKey struct{}

func admitted(ctx context.Context) bool { return ctx.Value(admittedKey{}) != nil }

// allow spends one of the principal's rate tokens for an operation, or says when to retry.
func (a *admission) allow(key string) *limitRefusal { return a.rate.allow(key) }

// request admits an HTTP request carrying one query or mutation (or an export, a download)
// before its body is read: the rate limit and a concurrency slot, held until the handler
// returns; over either bound it answers 429 RATE_LIMITED with Retry-After. It must sit behind
// the request's deadline (withDeadline) and the authentication gate.
func (a *admission) request(next http.Handler) http.Handler {
	inner := next
	marked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), admittedKey{}, true)))
	})
	return a.rate.middleware(a.concurrency.middleware(marked))
}

// stream admits an SSE request: the rate limit, before its body is read. Its operation's type
// is known only once parsed: a query or mutation then takes its slot and deadline in
// operations, a subscription its subscription slot.
func (a *admission) stream(next http.Handler) http.Handler { return a.rate.middleware(next) }

// operations is the executor's interceptor (srv.AroundOperations): it gives every query or
// mutation not admitted yet the request deadline (the wait for a slot included, as over HTTP)
// and one of its principal's concurrency slots, held until its last response; over the bound
// the operation is answered RATE_LIMITED (over a websocket, that operation alone).
func (a *admission) operations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if admitted(ctx) || oc == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	cancel := context.CancelFunc(func() {})
	if a.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
	}
	release, refused := a.concurrency.admit(ctx, principalKey(auth.FromContext(ctx)))
	if refused != nil {
		cancel()
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{refused.gqlError()}})
	}
	done := sync.OnceFunc(func() { cancel(); release() })
	// Whatever the transport does (the client leaves, the socket closes, the operation is
	// stopped), the slot comes back when the operation's context ends.
	context.AfterFunc(ctx, done)
	responses := next(context.WithValue(ctx, admittedKey{}, true))
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil || resp.HasNext == nil || !*resp.HasNext {
			done() // its last response (a query or mutation has one, unless deferred): it is over
		}
		return resp
	}
}

// behindGate is what every authenticated GraphQL request, export and download reaches,
// whichever door it came in by (the authentication gate over HTTP, the console in process),
// built once so the doors cannot drift apart: admission, the body cap, fresh loaders, the
// query cost's meter, then the one executor. The deadlines wrap the door (the gate included).
type behindGate struct {
	query    http.Handler            // a query or mutation: admitted with its request (request)
	stream   http.Handler            // SSE: the rate limit, then the read timeout lifted once the body is read
	exports  map[string]http.Handler // admitted like a query, by path
	download http.Handler            // the restore actions' one-time links (or NOT_CONFIGURED)
	// exportTimeout and downloadTimeout bound one export and one download.
	exportTimeout, downloadTimeout time.Duration
}

func newBehindGate(opts Options, admit *admission, exec http.Handler, exports map[string]http.Handler) behindGate {
	maxBody := opts.Limits.MaxBodyBytes
	b := behindGate{
		query: admit.request(readRequest(maxBody, loaders.Middleware(opts.Backend, withMeter(exec)))),
		// A query or mutation over SSE takes its slot and deadline in the executor (operations).
		stream:          admit.stream(readRequest(maxBody, afterBody(loaders.Middleware(opts.Backend, withMeter(exec))))),
		exports:         make(map[string]http.Handler, len(exports)),
		download:        admit.request(downloadsOrOff(opts.Downloads)),
		exportTimeout:   cmp.Or(opts.ExportTimeout, 5*time.Minute),
		downloadTimeout: cmp.Or(opts.DownloadTimeout, time.Hour),
	}
	for path, h := range exports {
		b.exports[path] = admit.request(h)
	}
	return b
}
