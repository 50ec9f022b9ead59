package httpapi

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

func TestSubscriptionSlots(t *testing.T) {
	// A step takes a slot for key, or (release >= 0) gives back the slot step `release` took.
	type step struct {
		key     string
		release int
		refused string // the bound that refuses it ("" accepted)
	}
	take := func(key, refused string) step { return step{key: key, release: -1, refused: refused} }
	give := func(i int) step { return step{release: i} }
	cases := []struct {
		name     string
		bounds   config.Subscriptions
		steps    []step
		wantOpen int
	}{
		{"per principal: the third of one principal is refused, another principal is not",
			config.Subscriptions{PerPrincipal: 2, Total: 100},
			[]step{take("a", ""), take("a", ""), take("a", limitSubscriptionsPerPrincipal), take("b", ""), take("b", "")}, 4},
		{"a release frees the principal's slot",
			config.Subscriptions{PerPrincipal: 2, Total: 100},
			[]step{take("a", ""), take("a", ""), give(0), take("a", ""), take("a", limitSubscriptionsPerPrincipal)}, 2},
		{"a second release of the same slot counts once",
			config.Subscriptions{PerPrincipal: 2, Total: 100},
			[]step{take("a", ""), give(0), give(0), take("a", ""), take("a", ""), take("a", limitSubscriptionsPerPrincipal)}, 2},
		{"total: refused across principals, until one ends",
			config.Subscriptions{PerPrincipal: 5, Total: 3},
			[]step{take("a", ""), take("b", ""), take("c", ""), take("d", limitSubscriptionsTotal), give(1), take("d", ""), take("a", limitSubscriptionsTotal)}, 3},
		{"the per-principal bound is checked first",
			config.Subscriptions{PerPrincipal: 1, Total: 1},
			[]step{take("a", ""), take("a", limitSubscriptionsPerPrincipal), take("b", limitSubscriptionsTotal)}, 1},
		{"no bounds (-1): every one accepted, still counted",
			config.Subscriptions{PerPrincipal: -1, Total: -1},
			[]step{take("a", ""), take("a", ""), take("a", ""), take("b", "")}, 4},
		{"everything released: nothing open, no principal left",
			config.Subscriptions{PerPrincipal: 2, Total: 2},
			[]step{take("a", ""), take("b", ""), give(0), give(1)}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSubscriptionSlots()
			releases := map[int]func(){}
			for i, st := range tc.steps {
				if st.release >= 0 {
					releases[st.release]()
					continue
				}
				release, refused := s.acquire(st.key, tc.bounds)
				switch {
				case st.refused == "" && refused != nil:
					t.Fatalf("step %d (%s): refused by %s, want accepted", i, st.key, refused.limit)
				case st.refused != "" && refused == nil:
					t.Fatalf("step %d (%s): accepted, want refused by %s", i, st.key, st.refused)
				case refused != nil && refused.limit != st.refused:
					t.Fatalf("step %d (%s): refused by %s, want %s", i, st.key, refused.limit, st.refused)
				case refused == nil:
					releases[i] = release
				}
			}
			if got := s.Open(); got != tc.wantOpen {
				t.Errorf("open = %d, want %d", got, tc.wantOpen)
			}
			if tc.wantOpen == 0 && s.principals() != 0 {
				t.Errorf("%d principals still tracked with nothing open", s.principals())
			}
		})
	}
}

func TestSubscriptionRefusalMessage(t *testing.T) {
	for _, tc := range []struct {
		r    slotRefusal
		want []string
	}{
		{slotRefusal{limit: limitSubscriptionsPerPrincipal, open: 2, max: 2},
			[]string{"2 open", "limits.subscriptions.perPrincipal", "is 2", "this caller"}},
		{slotRefusal{limit: limitSubscriptionsTotal, open: 4096, max: 4096},
			[]string{"4096 open", "limits.subscriptions.total", "is 4096", "the gateway"}},
	} {
		e := tc.r.gqlError()
		for _, w := range tc.want {
			if !strings.Contains(e.Message, w) {
				t.Errorf("%q does not say %q", e.Message, w)
			}
		}
		if e.Extensions["code"] != resolvers.CodeRateLimited || e.Extensions["limit"] != tc.r.limit ||
			e.Extensions["open"] != tc.r.open || e.Extensions["max"] != tc.r.max {
			t.Errorf("extensions %v", e.Extensions)
		}
	}
}

// Concurrent takers never hold more than the bounds, and once every one has released (some
// twice) nothing is open and no principal is tracked. Run with -race.
func TestSubscriptionSlotsConcurrent(t *testing.T) {
	const perPrincipal, total, principals = 3, 10, 6
	s := NewSubscriptionSlots()
	bounds := config.Subscriptions{PerPrincipal: perPrincipal, Total: total}
	var held [principals]atomic.Int32
	var all, accepted, refused atomic.Int32
	var wg sync.WaitGroup
	for g := range 40 {
		wg.Go(func() {
			for i := range 300 {
				p := (g + i) % principals
				release, no := s.acquire(fmt.Sprintf("tenant-%d|key", p), bounds)
				if no != nil {
					refused.Add(1)
					continue
				}
				accepted.Add(1)
				if n := held[p].Add(1); n > perPrincipal {
					t.Errorf("principal %d holds %d slots, bound %d", p, n, perPrincipal)
				}
				if n := all.Add(1); n > total {
					t.Errorf("%d slots held, bound %d", n, total)
				}
				held[p].Add(-1)
				all.Add(-1)
				release()
				if i%3 == 0 {
					release() // a second release must not free another slot
				}
			}
		})
	}
	wg.Wait()
	if s.Open() != 0 || s.principals() != 0 {
		t.Fatalf("after every release: %d open, %d principals tracked; want 0, 0", s.Open(), s.principals())
	}
	t.Logf("%d accepted, %d refused", accepted.Load(), refused.Load())
	if accepted.Load() == 0 {
		t.Fatal("nothing accepted")
	}
}
