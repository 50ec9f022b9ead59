package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

// H3: reports cannot take the connections everyone else needs. With more report reads open
// (rows held, as a report over a long window holds them) than the store has connections, the
// watcher's state, the feed and a write still answer at once; the report reads beyond their
// share wait for it instead. On each engine.
func TestReportReadsKeepCapacityForOthers(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			if _, err := st.EnsureServer(ctx, "syd1", time.Now().Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			const holders = 12 // more than either engine's pool
			release := make(chan struct{})
			var wg sync.WaitGroup
			defer func() { close(release); wg.Wait() }()
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			opened := make(chan struct{}, holders)
			for range holders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rows, err := store.QueryReport(rctx, st, `SELECT server FROM watch_server`)
					if err != nil {
						return // cancelled while waiting for its share
					}
					defer rows.Close()
					rows.Next()
					opened <- struct{}{}
					<-release
				}()
			}
			<-opened // at least one report holds a connection
			time.Sleep(100 * time.Millisecond)

			wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
			defer wcancel()
			if _, err := st.States(wctx); err != nil {
				t.Fatalf("watcher state with %d report reads open: %v", holders, err)
			}
			if _, err := st.FeedAfter(wctx, "syd1", 0, 10); err != nil {
				t.Fatalf("feed with %d report reads open: %v", holders, err)
			}
			rows, err := st.Query(wctx, `SELECT server FROM watch_server`)
			if err != nil {
				t.Fatalf("a rule read with %d report reads open: %v", holders, err)
			}
			rows.Close()
			l, ok, err := st.AcquireLease(wctx, "syd1", "w", time.Minute)
			if err != nil || !ok {
				t.Fatalf("lease with %d report reads open: %v %v", holders, ok, err)
			}
			if err := st.SetPolled(wctx, l, time.Now(), ""); err != nil {
				t.Fatalf("write with %d report reads open: %v", holders, err)
			}
			cancel() // the report reads still waiting give up
		})
	}
}
