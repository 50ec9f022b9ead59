// Package httpapi assembles the gateway's HTTP handler: /graphql (POST and GET, queries only),
// the GraphiQL page at /, and /healthz.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/graphiql"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/metrics"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
	"github.com/vbo-gateway/vbo-gateway/graph"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
)

// Authenticator turns a request into a Principal; nil principal and nil error = anonymous.
type Authenticator func(r *http.Request) (*auth.Principal, error)

// Options configure the handler.
type Options struct {
	Backend       *loaders.Backend
	Logger        *slog.Logger
	Introspection bool
	// Authenticate identifies callers (required: New refuses to build a handler without it).
	Authenticate Authenticator
	// CurrentAuthenticate authenticates with the configuration in force, which a reload may
	// have replaced since this handler was built: each websocket operation authenticates its
	// connection's credentials again with it (a removed key or an expired JWT closes the
	// socket with 4403). nil: Authenticate.
	CurrentAuthenticate Authenticator
	// WebsocketPing is the graphql-transport-ws ping period and the legacy graphql-ws
	// keep-alive ("ka") period, at which an open websocket's credentials are also checked
	// again (0: 15 s; tests shorten it).
	WebsocketPing time.Duration
	// ServerStatus reports server health to admins (nil: UP).
	ServerStatus resolvers.StatusFunc
	// GraphiQLHeaders pre-fills GraphiQL's headers editor (JSON), e.g. a demo key.
	GraphiQLHeaders string
	// GraphiQLTabs are more GraphiQL tabs, after the examples (e.g. the demo's watch rule).
	GraphiQLTabs []graphiql.Tab
	// NoGraphiQL turns the GraphiQL page at / off (404).
	NoGraphiQL bool
	// Limits are the effective query and caller limits (defaults already applied, see
	// config.Limits.WithDefaults); New validates them.
	Limits config.Limits
	// RequestTimeout is every GraphQL request's deadline (required; negative: none).
	RequestTimeout time.Duration
	// Persisted is the operation safelist from the persisted-query manifest (sha256 hex ->
	// query); with Limits.PersistedQueries.Only, nothing else may run.
	Persisted map[string]string
	// Metrics, when set, serves /metrics and times /graphql requests.
	Metrics *metrics.Metrics
	// Cursors seals the cursors handed out (required).
	Cursors *gid.Cursors
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client (for the
	// failed-authentication throttle, the restore record and the access line's remote); none:
	// the connection's peer is the client.
	TrustedProxies []netip.Prefix
	// Watch reports the restore watch's state to admins (nil: the watch is off).
	Watch resolvers.WatchStatus
	// Extensions are gqlgen extensions used before any other (outermost: telemetry).
	Extensions []graphql.HandlerExtension
	// Readiness, when set, serves /readyz (public) and /readyz/servers (provider admins).
	Readiness http.Handler
	// KnownOrganizations says how many organisations a server had when last listed, to size a
	// provider admin's organisation lists in the query cost (nil: ask the servers).
	KnownOrganizations func(server string) (int, bool)
	// Feed serves the subscriptions (nil: the watch is off; they answer NOT_CONFIGURED).
	Feed resolvers.SessionFeed
	// Reads answers session reads from the watch's archive when it covers them (nil: VBO only).
	Reads *resolvers.ArchiveReads
	// Rules, Audit and TenantScope serve watch rules and the restore audit (nil without a store);
	// TenantOf names an organisation's tenant (restoreAudit grouped by TENANT).
	Rules       resolvers.WatchRules
	Audit       resolvers.AuditArchive
	TenantScope resolvers.TenantScope
	TenantOf    resolvers.TenantOf
	// Reports keeps report schedules (nil without a store: they answer NOT_CONFIGURED).
	Reports resolvers.ReportSchedules
	// Restore is the restore front door (nil when restore.enabled is false: NOT_CONFIGURED).
	Restore resolvers.RestoreFrontDoor
	// Exports are authenticated GET endpoints beside /graphql (the CSV exports), by path, built
	// from the same resolver so they apply the same scope; nil: none.
	Exports func(*resolvers.Resolver) map[string]http.Handler
	// ExportTimeout bounds one export (default 5 minutes).
	ExportTimeout time.Duration
	// Downloads serves the restore actions' one-time links under /download/ (restore/download)
	// behind the same authentication, rate limit and per-principal concurrency as the exports;
	// nil: /download/ answers NOT_CONFIGURED.
	Downloads http.Handler
	// DownloadTimeout bounds one download (default 1 hour; a stalled client is cut off sooner
	// by the handler's per-write deadline).
	DownloadTimeout time.Duration
	// Subscriptions counts the open subscriptions against limits.subscriptions; share one
	// across the handlers a process builds (reloads) so the bounds hold per process. nil: New
	// makes one for this handler.
	Subscriptions *SubscriptionSlots
	// SSEKeepAlive is the period of an SSE stream's keep-alive comments (0: 15 s).
	SSEKeepAlive time.Duration
	// Console serves the auditor's console at /console/ (nil: none). It is handed the handler
	// that serves /graphql (queries, mutations and SSE subscriptions) and the exports to a
	// request whose context already holds the caller's principal (auth.WithPrincipal; none:
	// 401): the console signs people in itself, then runs their operations in process through
	// the same rate limit, concurrency limit, deadline, loaders, query limits, cost check and
	// resolvers as /graphql (console.go).
	Console func(authenticated http.Handler) http.Handler
	// SSEWriteTimeout is how long one SSE message (an event or a keep-alive) may take to reach
	// the client; a client stalled longer loses the subscription (0: 30 s). See sse.go.
	SSEWriteTimeout time.Duration
}

// New returns the gateway's HTTP handler. It fails closed: without an authenticator, a
// backend, a logger or a request deadline it returns an error instead of a handler.
func New(opts Options) (http.Handler, error) {
	switch {
	case opts.Authenticate == nil:
		return nil, errors.New("httpapi: no authenticator (every caller would be anonymous)")
	case opts.Backend == nil:
		return nil, errors.New("httpapi: no backend")
	case opts.Logger == nil:
		return nil, errors.New("httpapi: no logger")
	case opts.RequestTimeout == 0:
		return nil, errors.New("httpapi: no request deadline")
	case opts.Cursors == nil:
		return nil, errors.New("httpapi: no cursor sealer")
	}
	if err := opts.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	lim, timeout := opts.Limits, opts.RequestTimeout
	if opts.Subscriptions == nil {
		opts.Subscriptions = NewSubscriptionSlots()
	}
	gate := newAuthGate(opts, lim.AuthFailures)
	res := newResolver(opts)
	// One rate limit, one concurrency limit and one deadline per operation, whatever its
	// transport (admission.go).
	admit := &admission{rate: newRateLimiter(lim.RateLimit), concurrency: newPrincipalLimiter(lim.Concurrency), timeout: timeout}
	current := opts.CurrentAuthenticate
	if current == nil {
		current = opts.Authenticate
	}
	policy := &wsPolicy{authenticate: current, admit: admit, backend: opts.Backend, ping: opts.WebsocketPing, logger: opts.Logger}
	exec, err := newGraphQL(opts, gate, res, policy)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	mux := http.NewServeMux()
	// CORS (answers every OPTIONS) -> CSRF -> deadline -> auth (headers only) -> rate limit ->
	// per-principal concurrency (admission.go) -> body (read and checked) -> loaders -> executor.
	var exports map[string]http.Handler
	if opts.Exports != nil {
		exports = opts.Exports(res)
	}
	behind := newBehindGate(opts, admit, exec, exports) // the console's too (console.go)
	gql := withDeadline(timeout, gate.wrap(behind.query))
	if !lim.CSRFUnsafeDisabled {
		gql = withCSRF(gql)
	}
	gql = withCORS(lim.CORSAllowedOrigins, gql)
	gql = routeStreams(streamHandler(opts, gate, behind.stream, exec), gql) // SSE and websocket: subscriptions.go
	if opts.Metrics != nil {
		gql = opts.Metrics.Instrument(gql)
		mux.Handle("GET /metrics", gate.admin(opts.Metrics.Handler())) // server names and health: admins only
	}
	mux.Handle("/graphql", gql)
	if opts.Readiness != nil {
		mux.Handle("GET /readyz", opts.Readiness)
		mux.Handle("GET /readyz/servers", gate.admin(opts.Readiness)) // names every server: admins only
	}
	if opts.Console != nil {
		// The console's in-process operations inherit its request's context: they carry the
		// client it came from (the restore record's address and user agent), as over HTTP.
		mux.Handle("/console/", gate.clients.Middleware(opts.Console(inProcess(behind, timeout))))
	}
	if opts.Exports != nil {
		// The same authentication, scope and rate limit as /graphql. No CSRF check: credentials
		// travel only in headers, which a cross-site request cannot set.
		for path, h := range behind.exports {
			mux.Handle("GET "+path, withCORS(lim.CORSAllowedOrigins, withDeadline(behind.exportTimeout, gate.wrap(h))))
		}
	} else {
		// Without the restore watch there is no archive to export: say so instead of a bare 404.
		mux.HandleFunc("GET /export/", func(w http.ResponseWriter, r *http.Request) {
			writeGraphQLError(w, http.StatusNotFound, resolvers.CodeNotConfigured,
				"the CSV exports read the restore watch's archive, which is off: set watch.enabled: true and a store (see config.example.yaml)", nil)
		})
	}
	mountDownloads(mux, opts.Limits.CORSAllowedOrigins, withDeadline(behind.downloadTimeout, gate.wrap(behind.download)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	giOpts := []graphiql.Option{graphiql.WithTabs(Examples...)}
	if opts.Feed != nil {
		giOpts = append(giOpts, graphiql.WithTab(SubscriptionExample))
	}
	giOpts = append(giOpts, graphiql.WithTabs(opts.GraphiQLTabs...))
	if opts.GraphiQLHeaders != "" {
		giOpts = append(giOpts, graphiql.WithDefaultHeaders(opts.GraphiQLHeaders))
	}
	if !opts.NoGraphiQL {
		mux.Handle("/", graphiql.Handler("vbo-gateway", "/graphql", giOpts...))
	}
	return withClientRecord(gate.clients, withRequestID(limitBody(lim.MaxBodyBytes, closeUnreadBodies(mux)))), nil // earlyclose.go
}

// withClientRecord records the client's address as the edge finds it (behind the trusted
// proxies) for the access line (telemetry.Record.SetClient), whatever the path: the line
// names the client the throttling and the restore record name, not the proxy.
func withClientRecord(clients clientaddr.Proxies, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec := telemetry.RecordFrom(r.Context()); rec != nil {
			if a := clients.Addr(r); a.IsValid() {
				rec.SetClient(a.String())
			}
		}
		next.ServeHTTP(w, r)
	})
}

// newResolver is the one resolver behind /graphql and the exports.
func newResolver(opts Options) *resolvers.Resolver {
	return &resolvers.Resolver{Backend: opts.Backend, Logger: opts.Logger, Cursors: opts.Cursors, ServerStatus: opts.ServerStatus,
		Watch: opts.Watch, Feed: opts.Feed, Reads: opts.Reads, Rules: opts.Rules, Audit: opts.Audit, TenantScope: opts.TenantScope,
		Reports: opts.Reports, TenantOf: opts.TenantOf, Restore: opts.Restore}
}

// newGraphQL builds the gqlgen executor with explicit transports (no deprecated default server).
func newGraphQL(opts Options, gate *authGate, res *resolvers.Resolver, policy *wsPolicy) (*handler.Server, error) {
	lim := opts.Limits
	cfg := graph.Config{Resolvers: res}
	es := graph.NewExecutableSchema(cfg)
	qc, err := newQueryCost(es.Schema(), lim, opts.Backend, opts.KnownOrganizations, opts.Logger)
	if err != nil {
		return nil, err
	}
	qc.reads, qc.cursors = opts.Reads, opts.Cursors
	srv := handler.New(es)
	for _, ext := range opts.Extensions {
		srv.Use(ext)
	}
	srv.AddTransport(transport.Options{})
	addStreamTransports(srv, opts, gate, policy) // websocket and SSE, before GET and POST
	// Every query or mutation not admitted with its HTTP request (SSE, websocket) takes its
	// principal's concurrency slot and the request deadline here (admission.go).
	srv.AroundOperations(policy.admit.operations)
	// Status codes and bodies per the GraphQL-over-HTTP specification (overhttp.go).
	srv.AddTransport(specTransport{transport.GET{}})
	srv.AddTransport(specTransport{postTransport{}}) // transport.POST, without re-encoding the data (post.go)
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(lim.ParserTokenLimit)
	// "Did you mean" leaks the schema: only when introspection shows it anyway.
	srv.SetDisableSuggestion(!opts.Introspection)
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	if opts.Persisted != nil {
		srv.Use(&persistedQueries{ops: opts.Persisted, only: lim.PersistedQueries.Only})
	}
	if !lim.PersistedQueries.Only {
		srv.Use(extension.AutomaticPersistedQuery{Cache: tenantAPQCache{lru.New[string](1000)}}) // by tenant (persisted.go)
	}
	// After APQ, so a query registered by hash is checked like any other.
	srv.Use(newQueryLimits(lim, es.Schema()))
	srv.Use(qc)
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp != nil {
			resp.Errors = resolvers.DedupeServerErrors(resp.Errors)
		}
		return resp
	})
	srv.AroundOperations(answerLateStart)
	srv.SetErrorPresenter(safeMessages(resolvers.ErrorPresenter(opts.Logger)))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		opts.Logger.ErrorContext(ctx, "panic in resolver", "panic", p, "request_id", requestid.From(ctx), "stack", string(debug.Stack()))
		return fmt.Errorf("panic: %v", p) // masked as INTERNAL by the presenter
	})
	return srv, nil
}

// withRequestID keeps a valid incoming X-Request-Id (see telemetry.RequestID), else makes one.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := telemetry.RequestID(r.Header)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(requestid.With(r.Context(), id)))
	})
}

// withDeadline bounds the whole request: the context every resolver, loader and upstream call
// inherits ends after d (and earlier when the client disconnects).
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
