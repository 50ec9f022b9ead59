package httpapi

import (
	"net/http"

	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// mountDownloads serves GET /download/<token> (the restore actions' one-time links) through
// h, which New built behind the edge every request goes through (request id, the download's
// own deadline, auth gate, rate limit, per-principal concurrency), plus CORS. No CSRF check:
// credentials travel only in headers, which a cross-site request cannot set; the link itself
// works only for the person it was issued to.
func mountDownloads(mux *http.ServeMux, corsOrigins []string, h http.Handler) {
	mux.Handle("GET /download/", withCORS(corsOrigins, h))
}

// downloadsOrOff is h, or an answer saying downloads are off.
func downloadsOrOff(h http.Handler) http.Handler {
	if h != nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeGraphQLError(w, http.StatusNotFound, resolvers.CodeNotConfigured,
			"restore downloads are off: they need the restore front door and a store (see config.example.yaml, restore)", nil)
	})
}
