// Package requestid carries a request's id in its context: the HTTP edge sets it (from
// X-Request-Id or a new one), and every layer that logs or masks an error quotes it (resolvers'
// masked errors, the access line, VBO call logs, exports), so one id ties a client's error to
// the gateway's log lines.
package requestid

import "context"

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
