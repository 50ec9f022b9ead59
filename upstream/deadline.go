package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Per-attempt deadlines. The transport's ResponseHeaderTimeout only bounds the wait for the
// headers: a server that sends its headers and then trickles the body (a byte every half
// second) would hold the call until the caller's whole deadline, and take every other server's
// answer in the same request down with it. So each attempt also gets a total deadline (headers
// and body) and an idle deadline (no byte of the body for a while); either fails the attempt
// alone, as a timeout of that server.

var (
	// ErrAttemptTimeout: one attempt (request, headers and whole body) took longer than
	// Timeouts.Attempt.
	ErrAttemptTimeout = errors.New("vbo: no complete answer within the attempt timeout")
	// ErrIdleTimeout: the server sent no byte of the response body for Timeouts.Idle.
	ErrIdleTimeout = errors.New("vbo: the response body stalled")
)

// attemptDeadline starts the deadlines of one attempt: it returns the attempt's context, a
// function that wraps the response body (arming the idle deadline, re-armed by every byte
// read), and stop, which releases the timers.
func (to Timeouts) attemptDeadline(parent context.Context) (ctx context.Context, watch func(io.ReadCloser) io.ReadCloser, stop func()) {
	if to.Attempt <= 0 && to.Idle <= 0 {
		return parent, func(b io.ReadCloser) io.ReadCloser { return b }, func() {}
	}
	ctx, cancel := context.WithCancelCause(parent)
	var total *time.Timer
	if to.Attempt > 0 {
		total = time.AfterFunc(to.Attempt, func() { cancel(fmt.Errorf("%w (%s)", ErrAttemptTimeout, to.Attempt)) })
	}
	var idle *time.Timer
	watch = func(b io.ReadCloser) io.ReadCloser {
		if to.Idle <= 0 {
			return b
		}
		idle = time.AfterFunc(to.Idle, func() { cancel(fmt.Errorf("%w: no byte for %s", ErrIdleTimeout, to.Idle)) })
		return &idleBody{ReadCloser: b, timer: idle, idle: to.Idle}
	}
	stop = func() {
		if total != nil {
			total.Stop()
		}
		if idle != nil {
			idle.Stop()
		}
		cancel(nil)
	}
	return ctx, watch, stop
}

// attemptTimeout returns the attempt deadline that ended ctx, if one did (nil when the
// attempt is still running or the caller's own context ended it).
func attemptTimeout(parent, ctx context.Context) error {
	if parent.Err() != nil || ctx.Err() == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrAttemptTimeout) || errors.Is(cause, ErrIdleTimeout) {
		return timeoutError{cause}
	}
	return nil
}

// idleBody re-arms the idle deadline whenever bytes arrive.
type idleBody struct {
	io.ReadCloser
	timer *time.Timer
	idle  time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	return n, err
}
