package httpapi

import (
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// Preflight headers that prove a request came from a script that could set custom headers,
// which a cross-site form or <img> cannot (Apollo Router's CSRF prevention).
var preflightHeaders = []string{"X-Requested-With", "Apollo-Require-Preflight", "GraphQL-Preflight"}

// simpleContentType reports whether a Content-Type is one a browser sends cross-site without a
// CORS preflight (text/plain, application/x-www-form-urlencoded, multipart/form-data). A
// missing or unparsable Content-Type counts as simple.
func simpleContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true
	}
	switch mt {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

// withCSRF refuses GET requests and requests with a "simple" content type unless they carry a
// non-empty preflight header. OPTIONS never gets here (withCORS answers it).
func withCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead || simpleContentType(r.Header.Get("Content-Type")) {
			ok := false
			for _, h := range preflightHeaders {
				if strings.TrimSpace(r.Header.Get(h)) != "" {
					ok = true
					break
				}
			}
			if !ok {
				writeGraphQLError(w, http.StatusBadRequest, resolvers.CodeBadUserInput,
					"this request looks like a cross-site request forgery: send Content-Type: application/json, "+
						"or a non-empty X-Requested-With, Apollo-Require-Preflight or GraphQL-Preflight header", nil)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withCORS answers browsers from the allowed origins only (exact match). Without an allowed
// Origin no CORS header is sent, so browsers keep cross-origin responses from scripts.
//
// Every OPTIONS request is answered here, before authentication: a preflight from an allowed
// origin gets 204 with the CORS headers, any other OPTIONS a bare 204 (no CORS headers, so the
// browser refuses the real request). A preflight carries no credentials, so letting it reach
// the auth gate would count every web page's preflight as a failed login.
func withCORS(allowed []string, next http.Handler) http.Handler {
	norm := make([]string, 0, len(allowed))
	for _, o := range allowed {
		norm = append(norm, strings.TrimRight(strings.ToLower(o), "/"))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		ok := origin != "" && slices.Contains(norm, strings.ToLower(origin))
		if r.Method == http.MethodOptions {
			h.Set("Allow", "GET, POST, OPTIONS")
			if ok && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, X-Requested-With, Apollo-Require-Preflight, GraphQL-Preflight")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, Coverage, Content-Disposition")
		}
		next.ServeHTTP(w, r)
	})
}
