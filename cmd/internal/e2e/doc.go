// Package e2e holds the gateway's end-to-end tests: a whole gateway (app.New) in front of
// simulated VBO servers, driven over HTTP, SSE and websocket as clients drive it, plus the
// repository-wide checks (import layering, documentation coverage). It has no code of its own.
package e2e
