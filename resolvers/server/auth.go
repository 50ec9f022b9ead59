package server

import (
	"fmt"
	"net/http"

	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

func withAuth(opts Options, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *auth.Principal
		if opts.Authenticate == nil {
			p = auth.NewAdmin("demo")
		} else {
			var err error
			p, err = opts.Authenticate(r)
			if err != nil {
				opts.Logger.InfoContext(r.Context(), "authentication failed", "reason", err, "request_id", resolvers.RequestID(r.Context()))
				p = nil
			}
			if p == nil {
				writeUnauthenticated(w)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func writeUnauthenticated(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="vbo-gateway"`)
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"errors":[{"message":"authentication required","extensions":{"code":"UNAUTHENTICATED"}}],"data":null}`)
}

// withAdmin lets only provider admins through (metrics name every server and its health, which
// tenants may not see).
func withAdmin(opts Options, next http.Handler) http.Handler {
	return withAuth(opts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !auth.FromContext(r.Context()).IsAdmin() {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	}))
}
