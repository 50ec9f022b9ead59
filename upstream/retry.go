package upstream

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// RetryPolicy says when and how often a failed call is sent again. Only idempotent calls are
// retried (GET/HEAD, and the token grant, which creates nothing on the server), and only when the
// server could not serve them for now: a transport error, 429 (after its Retry-After), 502, 503
// or 504. Never 500 or another 4xx (401 has its own path: one re-authentication in get).
// A retry never starts if its wait would end past the caller's context deadline.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included (1 = no retries).
	MaxAttempts int
	// BaseDelay and MaxDelay bound the full-jitter backoff: attempt n waits
	// rand[0, min(MaxDelay, BaseDelay*2^n)).
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for; a longer one ends the
	// call at once with the 429/503 error (the deadline would pass anyway).
	MaxRetryAfter time.Duration
}

// Retry defaults (the gateway's; a bare NewClient does not retry unless ClientOptions.Retry is set).
const (
	DefaultRetryAttempts      = 3
	DefaultRetryBaseDelay     = 100 * time.Millisecond
	DefaultRetryMaxDelay      = 2 * time.Second
	DefaultRetryMaxRetryAfter = 10 * time.Second
)

// DefaultRetryPolicy is the policy the gateway uses unless configured otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: DefaultRetryAttempts, BaseDelay: DefaultRetryBaseDelay,
		MaxDelay: DefaultRetryMaxDelay, MaxRetryAfter: DefaultRetryMaxRetryAfter}
}

func (p RetryPolicy) normalized() RetryPolicy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetryBaseDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = max(p.BaseDelay, DefaultRetryMaxDelay)
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultRetryMaxRetryAfter
	}
	return p
}

// idempotent reports whether req may be sent again: GET/HEAD, or the token grant.
func (c *Client) idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		return req.URL.Path == c.tokenPath()
	}
	return false
}

// retryDelay decides whether the failed attempt (0-based) is retried and after how long.
func (c *Client) retryDelay(ctx context.Context, attempt int, err error) (time.Duration, bool) {
	p := c.retry
	if attempt+1 >= p.MaxAttempts || ctx.Err() != nil {
		return 0, false
	}
	var e *Error
	if !errors.As(err, &e) || !e.Unavailable() || errors.Is(err, ErrCircuitOpen) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	var wait time.Duration
	if e.RetryAfter > 0 {
		if e.RetryAfter > p.MaxRetryAfter {
			return 0, false
		}
		wait = e.RetryAfter
	} else {
		ceil := p.BaseDelay << min(attempt, 20)
		if ceil <= 0 || ceil > p.MaxDelay {
			ceil = p.MaxDelay
		}
		wait = time.Duration(rand.Int64N(int64(ceil) + 1))
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(dl) {
		return 0, false // the retry would end past the deadline: answer now instead
	}
	return wait, true
}

// sleepCtx waits d or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// timeoutError marks a transport timeout (connect, TLS handshake, response headers) so that
// errors.Is(err, context.DeadlineExceeded) holds for it as for a context deadline: callers
// report both as a timeout.
type timeoutError struct{ err error }

func (e timeoutError) Error() string        { return e.err.Error() }
func (e timeoutError) Unwrap() error        { return e.err }
func (e timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
func (e timeoutError) Timeout() bool        { return true }

func markTimeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
		return timeoutError{err}
	}
	return err
}
