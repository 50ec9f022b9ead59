package loaders

import (
	"context"
	"fmt"
	"sync"
)

// memo runs each call at most once per key within a request: later callers of a key wait for
// the first call and share its result. The zero memo is ready to use.
type memo[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]*memoEntry[V]
}

type memoEntry[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// do returns fn's result for k, calling fn only if no call for k ran or is running. A caller
// that waits gives up when ctx ends. With forgetErr a failed call is not kept, so a later
// caller of k calls fn again (those already waiting share the failure). A panic in fn is the
// call's failure (an ErrPanic): the callers waiting for it get that error, not a zero value
// and no error.
func (m *memo[K, V]) do(ctx context.Context, k K, forgetErr bool, fn func() (V, error)) (V, error) {
	m.mu.Lock()
	if e, ok := m.entries[k]; ok {
		m.mu.Unlock()
		select {
		case <-e.done:
			return e.v, e.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	if m.entries == nil {
		m.entries = map[K]*memoEntry[V]{}
	}
	e := &memoEntry[V]{done: make(chan struct{})}
	m.entries[k] = e
	m.mu.Unlock()
	defer close(e.done)

	func() {
		defer func() {
			if p := recover(); p != nil {
				var zero V
				e.v, e.err = zero, fmt.Errorf("%w: %v", ErrPanic, p)
			}
		}()
		e.v, e.err = fn()
	}()
	if e.err != nil && forgetErr {
		m.mu.Lock()
		delete(m.entries, k)
		m.mu.Unlock()
	}
	return e.v, e.err
}
