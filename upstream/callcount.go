package upstream

import (
	"context"
	"sync/atomic"
)

// CallCounter counts the calls clients make to VBO on behalf of one gateway request: one per
// logical GET (a page, an object), whatever its retries or re-authentication; token grants are
// not counted. It is safe for concurrent use.
type CallCounter struct{ n atomic.Int64 }

// Calls returns the calls counted so far.
func (c *CallCounter) Calls() int64 { return c.n.Load() }

type callCounterKey struct{}

// WithCallCounter makes every client call under ctx count on c.
func WithCallCounter(ctx context.Context, c *CallCounter) context.Context {
	return context.WithValue(ctx, callCounterKey{}, c)
}

func countCall(ctx context.Context) {
	if c, ok := ctx.Value(callCounterKey{}).(*CallCounter); ok {
		c.n.Add(1)
	}
}
