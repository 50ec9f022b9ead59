// Package server assembles the gateway's HTTP handler: /graphql (POST and GET, queries only),
// the GraphiQL page at /, and /healthz.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/vbo-gateway/vbo-gateway/graph"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/graphiql"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
)

// Authenticator turns a request into a Principal; nil principal and nil error = anonymous.
type Authenticator func(r *http.Request) (*auth.Principal, error)

// Options configure the handler.
type Options struct {
	Backend       *loaders.Backend
	Logger        *slog.Logger
	Introspection bool
	// Authenticate identifies callers. Nil treats every caller as a provider admin (demo only).
	Authenticate Authenticator
	// ServerStatus reports server health to admins (nil: UP).
	ServerStatus resolvers.StatusFunc
	// GraphiQLHeaders pre-fills GraphiQL's headers editor (JSON), e.g. a demo key.
	GraphiQLHeaders string
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
}

const defaultMaxBody = 1 << 20

// FirstQuery is the query GraphiQL opens with.
const FirstQuery = `# Restores of every organisation you can see, newest first,
# with the items restored and the machine they were run from.
query RecentRestores {
  restoreSessions(first: 10) {
    totalCount
    edges {
      node {
        startTime
        type
        result
        initiatedBy
        clientHost { machineName viaAddress }
        organization { name server { name } }
        events(first: 5) {
          edges { node { type status itemName source itemSizeBytes } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`

// New returns the gateway's HTTP handler.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBody
	}
	exec := NewGraphQL(opts)
	mux := http.NewServeMux()
	mux.Handle("/graphql", withAuth(opts, loaders.Middleware(opts.Backend, exec)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	giOpts := []graphiql.Option{graphiql.WithDefaultQuery(FirstQuery)}
	if opts.GraphiQLHeaders != "" {
		giOpts = append(giOpts, graphiql.WithDefaultHeaders(opts.GraphiQLHeaders))
	}
	mux.Handle("/", graphiql.Handler("vbo-gateway", "/graphql", giOpts...))
	return withRequestID(withBodyLimit(opts.MaxBodyBytes, mux))
}

// NewGraphQL builds the gqlgen executor with explicit transports (no deprecated default server).
func NewGraphQL(opts Options) *handler.Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{
		Backend: opts.Backend, Logger: opts.Logger, ServerStatus: opts.ServerStatus}})
	srv := handler.New(schema)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.SetErrorPresenter(resolvers.ErrorPresenter(opts.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		opts.Logger.ErrorContext(ctx, "panic in resolver", "panic", p, "request_id", resolvers.RequestID(ctx), "stack", string(debug.Stack()))
		return fmt.Errorf("panic: %v", p) // masked as INTERNAL by the presenter
	})
	return srv
}

func withBodyLimit(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(resolvers.WithRequestID(r.Context(), id)))
	})
}

var _ graphql.ErrorPresenterFunc = resolvers.ErrorPresenter(nil)
