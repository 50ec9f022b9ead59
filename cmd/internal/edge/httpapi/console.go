package httpapi

import (
	"net/http"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// inProcess is what Options.Console is handed: /graphql, the exports and /download/ for a caller the
// console has authenticated (its principal in the request's context). Everything after the
// authentication gate is the same as over HTTP (behindGate): per-principal rate and concurrency
// limits, the request deadline, the body cap, fresh loaders, then the one executor with its query
// limits and cost check; subscriptions (POST with Accept: text/event-stream) take the SSE
// transport with its resume by Last-Event-ID. CORS and CSRF are the console's own (it serves
// its pages from the gateway's origin and checks a token on every change).
func inProcess(b behindGate, timeout time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /graphql", routeStreams(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		b.stream.ServeHTTP(flushWriter{w}, r)
	}), withDeadline(timeout, b.query)))
	for path, h := range b.exports {
		mux.Handle("GET "+path, withDeadline(b.exportTimeout, h))
	}
	// The restore actions' one-time links, for the console's signed-in person (the link is
	// bound to the principal that asked for it, so the console's principal fetches it).
	mux.Handle("GET /download/", withDeadline(b.downloadTimeout, b.download))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p == nil {
			writeUnauthenticated(w)
			return
		}
		mux.ServeHTTP(w, r.WithContext(upstream.WithFairnessKey(r.Context(), principalKey(p))))
	})
}
