package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// A partly failed batch (issue 22 item 3). Every session of a batch is read on its own; what
// could be read is archived, and the checkpoint (high-water mark) advances only as far as the
// sessions before the first one that could not be archived at all, so the next poll lists that
// one again. A session whose events failed is still archived (so STARTED is told at once) and
// stays open: the next poll reads its events from where the archive stopped.

// settle records a batch's failures in ps and returns the high-water mark the batch may
// commit: the batch's newest start time when every session was archived, else the start of
// the last session before the first one left out (zero: no advance). Once a session was left
// out, later batches of the poll do not advance it either.
func (p *poller) settle(ctx context.Context, ps *pollState, batch []upstream.RestoreSession, changes []*store.Change, errs []error) time.Time {
	hw := batch[len(batch)-1].CreationTime
	for i := range batch {
		if changes[i] == nil && errs[i] != nil {
			if !ps.failed {
				ps.failed = true
				if i > 0 {
					hw = batch[i-1].CreationTime
				} else {
					hw = time.Time{}
				}
				p.log.Warn("watch: a session could not be read; the next poll resumes from it",
					"session", batch[i].ID, "created", batch[i].CreationTime, "err", errs[i])
			}
			break
		}
	}
	if ps.failed && hw.Equal(batch[len(batch)-1].CreationTime) {
		hw = time.Time{}
	}
	if ctx.Err() == nil {
		ps.noteErrs(errs)
	}
	return hw
}

// noteErrs keeps a poll's per-session errors (at most a few, for the poll's error text).
func (ps *pollState) noteErrs(errs []error) {
	for _, err := range errs {
		if err != nil && len(ps.errs) < 5 {
			ps.errs = append(ps.errs, err)
		}
	}
}

// partialErr is the poll's error when some sessions could not be read (nil otherwise).
func (ps *pollState) partialErr() error {
	if len(ps.errs) == 0 {
		return nil
	}
	return fmt.Errorf("watch: poll partly failed (the rest is archived; resumed next poll): %w", errors.Join(ps.errs...))
}
