package upstream

import (
	"context"
	"sync"
)

// Fair sharing of a server's concurrency slots between principals.
//
// A plain semaphore serves waiters in arrival order, so a principal that queues a hundred
// calls makes everyone who comes after wait for all of them. Instead, each call carries a
// fairness key (the principal, set by the HTTP layer with WithFairnessKey), and a freed slot
// goes to the waiting key that holds the fewest slots at that moment (the longest-waiting key
// among equals; first come, first served within one key). While others wait, a key that
// already holds slots gets no more until everyone waiting holds as many: one principal cannot
// keep all of a server's slots while another principal waits, and a newcomer waits at most for
// the next slot to free up.

type fairnessKey struct{}

// WithFairnessKey returns ctx tagged with key, the opaque identity (e.g. "sub:<subject>") on
// whose behalf upstream calls made with ctx run. Calls without a key share the key "".
func WithFairnessKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, fairnessKey{}, key)
}

// FairnessKey returns the key set by WithFairnessKey, or "".
func FairnessKey(ctx context.Context) string {
	k, _ := ctx.Value(fairnessKey{}).(string)
	return k
}

// fairSem is a counting semaphore whose slots are handed out fairly across keys.
type fairSem struct {
	mu      sync.Mutex
	free    int
	held    map[string]int       // slots held per key (no zero entries)
	queues  map[string][]*waiter // waiters per key, oldest first (no empty entries)
	waiting int                  // total waiters
	seq     uint64               // arrival counter
}

type waiter struct {
	seq   uint64
	ready chan struct{} // closed when the slot is granted
}

func newFairSem(n int) *fairSem {
	return &fairSem{free: n, held: map[string]int{}, queues: map[string][]*waiter{}}
}

// acquire waits for a slot for key, or until ctx ends (then it returns ctx.Err() and holds
// nothing).
func (s *fairSem) acquire(ctx context.Context, key string) error {
	s.mu.Lock()
	if s.free > 0 && s.waiting == 0 {
		s.free--
		s.held[key]++
		s.mu.Unlock()
		return nil
	}
	s.seq++
	w := &waiter{seq: s.seq, ready: make(chan struct{})}
	s.queues[key] = append(s.queues[key], w)
	s.waiting++
	s.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.ready: // granted just as ctx ended: give it on
		s.releaseLocked(key)
	default:
		q := s.queues[key]
		for i, x := range q {
			if x == w {
				q = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(s.queues, key)
		} else {
			s.queues[key] = q
		}
		s.waiting--
	}
	return ctx.Err()
}

// release frees a slot held by key.
func (s *fairSem) release(key string) {
	s.mu.Lock()
	s.releaseLocked(key)
	s.mu.Unlock()
}

func (s *fairSem) releaseLocked(key string) {
	if s.held[key]--; s.held[key] <= 0 {
		delete(s.held, key)
	}
	if s.waiting == 0 {
		s.free++
		return
	}
	// The waiting key holding the fewest slots; among equals, the one waiting longest.
	next, best := "", (*waiter)(nil)
	for k, q := range s.queues {
		if best == nil || s.held[k] < s.held[next] || s.held[k] == s.held[next] && q[0].seq < best.seq {
			next, best = k, q[0]
		}
	}
	if q := s.queues[next][1:]; len(q) == 0 {
		delete(s.queues, next)
	} else {
		s.queues[next] = q
	}
	s.waiting--
	s.held[next]++
	close(best.ready)
}
