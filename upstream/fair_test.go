package upstream

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond (under no lock of its own) until it holds, failing after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *fairSem) waiters() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

func (s *fairSem) state() (free int, held map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.free, maps.Clone(s.held)
}

// A freed slot goes to the waiting key that holds the fewest, not to whoever queued first.
func TestFairSemHandsSlotsToTheLeastServedKey(t *testing.T) {
	tests := []struct {
		name  string
		slots int
		held  []string // acquired at once, in order
		queue []string // then queued, in order
		// releases, in order; after each, the key that must have been granted
		release []string
		granted []string
	}{
		{"newcomer before the flood's backlog", 2, []string{"A", "A"}, []string{"A", "A", "A", "B"},
			[]string{"A", "A", "A"}, []string{"B", "A", "A"}},
		{"two newcomers both before the backlog", 3, []string{"A", "A", "A"}, []string{"A", "A", "B", "C"},
			[]string{"A", "A", "A"}, []string{"B", "C", "A"}},
		{"the key holding fewer first, though it queued later", 2, []string{"A", "B"}, []string{"B", "A"},
			[]string{"A", "B"}, []string{"A", "B"}},
		{"equal holders: the longest waiting first", 3, []string{"A", "B", "C"}, []string{"C", "B"},
			[]string{"A", "C"}, []string{"C", "B"}},
		{"within one key, first come first served", 1, []string{"A"}, []string{"A", "A"},
			[]string{"A", "A"}, []string{"A", "A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newFairSem(tc.slots)
			for _, k := range tc.held {
				if err := s.acquire(context.Background(), k); err != nil {
					t.Fatal(err)
				}
			}
			got := make(chan int, len(tc.queue)) // index into tc.queue
			for i, k := range tc.queue {
				go func() {
					if s.acquire(context.Background(), k) == nil {
						got <- i
					}
				}()
				waitFor(t, fmt.Sprintf("waiter %d to queue", i), func() bool { return s.waiters() == i+1 })
			}
			for j, k := range tc.release {
				s.release(k)
				select {
				case i := <-got:
					if tc.queue[i] != tc.granted[j] {
						t.Fatalf("release %d: slot went to %s, want %s", j, tc.queue[i], tc.granted[j])
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("release %d: no waiter got the slot", j)
				}
			}
		})
	}
}

// A waiter that gives up leaves the queue, and no slot is lost or handed to it.
func TestFairSemCancelledWaiterLeavesNoTrace(t *testing.T) {
	s := newFairSem(1)
	if err := s.acquire(context.Background(), "A"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.acquire(ctx, "B") }()
	waitFor(t, "B to queue", func() bool { return s.waiters() == 1 })
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatalf("cancelled acquire = %v", err)
	}
	if s.waiters() != 0 {
		t.Fatal("the cancelled waiter is still queued")
	}
	s.release("A")
	if free, held := s.state(); free != 1 || len(held) != 0 {
		t.Fatalf("after release: free %d, held %v; want 1 free, none held", free, held)
	}
	// Many acquire/cancel races end with every slot free again.
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*time.Microsecond)
			defer cancel()
			key := string(rune('A' + i%3))
			if s.acquire(ctx, key) == nil {
				s.release(key)
			}
		})
	}
	wg.Wait()
	if free, held := s.state(); free != 1 || len(held) != 0 || s.waiters() != 0 {
		t.Fatalf("after the races: free %d, held %v, waiting %d", free, held, s.waiters())
	}
}

// Through the client: one principal flooding a server (30 calls in flight at a time, two
// slots) does not make another principal's calls wait behind its backlog. Compared by medians
// with a wide margin (2-core machine, other builds running): without fairness the other
// principal's median is about the flooder's (~15 server latencies), with it about two.
func TestClientSlotsFairAcrossPrincipals(t *testing.T) {
	const latency = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"tok","expires_in":3600}`)
			return
		}
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[]`)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, ClientOptions{Name: "fair", Username: "u", Password: "p", MaxConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	call := func(key string) time.Duration {
		start := time.Now()
		if _, err := c.Organizations(WithFairnessKey(context.Background(), key)); err != nil {
			t.Error(err)
		}
		return time.Since(start)
	}

	ctx, stop := context.WithCancel(context.Background())
	var flood sync.WaitGroup
	var mu sync.Mutex
	var floodTimes []time.Duration
	for range 30 {
		flood.Go(func() {
			for ctx.Err() == nil {
				d := call("sub:flooder")
				mu.Lock()
				floodTimes = append(floodTimes, d)
				mu.Unlock()
			}
		})
	}
	time.Sleep(10 * latency) // the backlog builds up
	var other []time.Duration
	for range 15 {
		other = append(other, call("sub:other"))
	}
	stop()
	flood.Wait()

	median := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	mu.Lock()
	mf := median(floodTimes)
	mu.Unlock()
	mo := median(other)
	t.Logf("median latency: flooder %v, other principal %v", mf, mo)
	if mo*3 > mf {
		t.Errorf("the other principal's median %v is not well below the flooder's %v: it waits behind the flood", mo, mf)
	}
}
