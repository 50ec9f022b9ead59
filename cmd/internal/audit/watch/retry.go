package watch

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Retries inside a poll (issue 22 item 3). The client retries only what any caller may
// resend (transport errors, 429, 502-504; never 500). The watcher's calls are all GETs that
// change nothing and it runs in the background, so it also retries a 500 and the client's
// own exhausted retries, per call, with full-jitter backoff: a server answering 30% random 500s
// costs a few short waits, not the poll. An open breaker, a 4xx other than 429, a 404 and a
// cancelled poll are not retried. What still fails after the retries fails only its own
// session (archiveBatch, followOpen), never the batch.

// retryAttempts is the number of attempts per call, the first included.
const retryAttempts = 4

// retryable reports whether err may go away if the same GET is sent again.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, upstream.ErrCircuitOpen) || errors.Is(err, upstream.ErrNotFound) {
		return false
	}
	var e *upstream.Error
	if errors.As(err, &e) {
		return e.StatusCode == 0 || e.StatusCode == 429 || e.StatusCode >= 500
	}
	return false
}

// retryDelay is the full-jitter backoff before attempt n (1-based retries): up to a twentieth
// of the interval, doubling, at most a quarter of it (and between 5 ms and 2 s).
func (p *poller) retryDelay(n int) time.Duration {
	base := min(max(p.w.o.Interval/20, 5*time.Millisecond), 2*time.Second)
	ceil := min(base<<n, max(p.w.o.Interval/4, base))
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// retry runs call until it succeeds, fails for good, or retryAttempts are spent.
func retry[T any](ctx context.Context, p *poller, call func() (T, error)) (T, error) {
	var v T
	var err error
	for n := range retryAttempts {
		if n > 0 {
			t := time.NewTimer(p.retryDelay(n))
			select {
			case <-ctx.Done():
				t.Stop()
				return v, errors.Join(err, ctx.Err())
			case <-t.C:
			}
		}
		if v, err = call(); !retryable(err) {
			return v, err
		}
		p.countRetry()
	}
	return v, err
}

func (p *poller) countRetry() {
	p.mu.Lock()
	p.stats.Retries++
	p.mu.Unlock()
}

func (p *poller) listSessions(ctx context.Context, o upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], error) {
	return retry(ctx, p, func() (*upstream.Page[upstream.RestoreSession], error) {
		page, _, err := p.src.RestoreSessions(ctx, o)
		return page, err
	})
}

func (p *poller) getSession(ctx context.Context, id string) (*upstream.RestoreSession, error) {
	return retry(ctx, p, func() (*upstream.RestoreSession, error) {
		s, _, err := p.src.RestoreSession(ctx, id)
		return s, err
	})
}

func (p *poller) getEvents(ctx context.Context, id string, o upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], error) {
	return retry(ctx, p, func() (*upstream.Page[upstream.RestoreSessionEvent], error) {
		page, _, err := p.src.RestoreSessionEvents(ctx, id, o)
		return page, err
	})
}

func (p *poller) getOrgs(ctx context.Context) ([]upstream.Organization, error) {
	return retry(ctx, p, func() ([]upstream.Organization, error) { return p.src.Organizations(ctx) })
}
