package httpapi

import (
	"fmt"
	"sync"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// SubscriptionSlots counts the subscriptions open in one gateway process, in all and per
// principal, so limits.subscriptions can bound them: subscriptions skip the request deadline
// and the per-principal concurrency limit, and each holds a goroutine, a feed registration and
// its buffer for as long as the client likes. One SubscriptionSlots serves every handler the
// process builds (a reload builds a new handler while the old one's websockets live on), so the
// bounds hold per process. A principal's entry lives only while it has subscriptions open.
type SubscriptionSlots struct {
	mu          sync.Mutex
	open        int
	byPrincipal map[string]int
}

// NewSubscriptionSlots returns an empty count.
func NewSubscriptionSlots() *SubscriptionSlots {
	return &SubscriptionSlots{byPrincipal: map[string]int{}}
}

// Open is the number of subscriptions open (the vbo_gateway_subscriptions_open gauge).
func (s *SubscriptionSlots) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// principals is how many principals have subscriptions open (for tests: the count's memory).
func (s *SubscriptionSlots) principals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byPrincipal)
}

// Which bound refused a subscription (extensions.limit).
const (
	limitSubscriptionsPerPrincipal = "subscriptions.perPrincipal"
	limitSubscriptionsTotal        = "subscriptions.total"
)

// slotRefusal says which bound refused a subscription, how many were open and the bound.
type slotRefusal struct {
	limit     string
	open, max int
}

// gqlError is the refusal as the client sees it: RATE_LIMITED, naming the bound.
func (r *slotRefusal) gqlError() *gqlerror.Error {
	msg := fmt.Sprintf("too many open subscriptions for this caller: %d open, the limit (limits.%s) is %d; end one before starting another",
		r.open, r.limit, r.max)
	if r.limit == limitSubscriptionsTotal {
		msg = fmt.Sprintf("the gateway has too many open subscriptions: %d open, the limit (limits.%s) is %d; retry later",
			r.open, r.limit, r.max)
	}
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{
		"code": resolvers.CodeRateLimited, "limit": r.limit, "open": r.open, "max": r.max}}
}

// acquire takes a slot for one subscription of the principal key under bounds b (-1: no
// bound), or says which bound refuses it. The returned release gives the slot back; it may be
// called any number of times (only the first counts) and must be called at least once.
func (s *SubscriptionSlots) acquire(key string, b config.Subscriptions) (release func(), refused *slotRefusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.byPrincipal[key]; b.PerPrincipal >= 0 && n >= b.PerPrincipal {
		return nil, &slotRefusal{limit: limitSubscriptionsPerPrincipal, open: n, max: b.PerPrincipal}
	}
	if b.Total >= 0 && s.open >= b.Total {
		return nil, &slotRefusal{limit: limitSubscriptionsTotal, open: s.open, max: b.Total}
	}
	s.open++
	s.byPrincipal[key]++
	return sync.OnceFunc(func() { s.release(key) }), nil
}

func (s *SubscriptionSlots) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.byPrincipal[key]--; s.byPrincipal[key] <= 0 {
		delete(s.byPrincipal, key)
	}
}
