package watch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// TestLeasesSpread: 30 servers on 3 watchers sharing one store end up 10±2 leases each, never
// two holders for one server; when one leaves, the other two hold all 30 within the takeover
// bound, 15±2 each. Issue 22 item 4.
func TestLeasesSpread(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			var servers []watch.Server
			for i := range 30 {
				name := fmt.Sprintf("srv%02d", i)
				servers = append(servers, watch.Server{Name: name, Source: startSim(t, name, vbosim.Options{Sessions: 1, Orgs: 1}).client})
			}
			const interval = 100 * time.Millisecond
			var ws []*watch.Watcher
			var stops []func()
			for i := range 3 {
				w, stop := runWatcher(t, watch.Options{Store: st, Servers: servers, Interval: interval, Holder: fmt.Sprintf("replica-%d", i)})
				ws, stops = append(ws, w), append(stops, stop)
			}
			// Counted from the store: one holder per server by construction (and the epoch
			// fences a replica whose lease was taken while it stalled).
			counts := func(live []*watch.Watcher) ([]int, error) {
				n := make([]int, len(live))
				now, err := st.Now(context.Background())
				if err != nil {
					return nil, err
				}
				states, err := st.States(context.Background())
				if err != nil {
					return nil, err
				}
				for _, x := range states {
					for i, w := range live {
						if x.LeaseHolder == w.Holder() && x.LeaseUntil.After(now) {
							n[i]++
						}
					}
				}
				return n, nil
			}
			balanced := func(live []*watch.Watcher, want int) func() bool {
				return func() bool {
					n, err := counts(live)
					if err != nil {
						t.Fatal(err)
					}
					total := 0
					for _, c := range n {
						total += c
						if c < want-2 || c > want+2 {
							return false
						}
					}
					return total == len(servers)
				}
			}
			waitFor(t, "30 leases spread over 3 replicas", 10*time.Second, balanced(ws, 10))
			n, _ := counts(ws)
			t.Logf("%s: leases per replica %v", eng.Name, n)

			stops[2]()
			left := time.Now()
			bound := ws[0].TakeoverBound()
			held := func() bool {
				n, err := counts(ws[:2])
				if err != nil {
					t.Fatal(err)
				}
				return n[0]+n[1] == len(servers)
			}
			// Every lease is held again within the bound (plus scheduling slack on a busy machine)...
			waitFor(t, "the leaving replica's leases taken over", bound+time.Second, held)
			took := time.Since(left)
			if took > bound+250*time.Millisecond {
				t.Fatalf("takeover took %v, bound %v", took, bound)
			}
			// ...and the two survivors share them evenly.
			waitFor(t, "30 leases spread over 2 replicas", 10*time.Second, balanced(ws[:2], 15))
			n, _ = counts(ws[:2])
			t.Logf("%s: after one left, leases per replica %v; all held again after %v (bound %v)", eng.Name, n, took, bound)
		})
	}
}
