package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

// LiveReplicas reads the heartbeats without beating: the replicas seen within ttl, sorted; a
// replica that left is not among them, and reading adds nobody.
func TestLiveReplicas(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			if live, err := st.LiveReplicas(ctx, time.Minute); err != nil || len(live) != 0 {
				t.Fatalf("empty store: %v %v", live, err)
			}
			for _, h := range []string{"r2", "r1", "r3"} {
				if _, err := st.Heartbeat(ctx, h, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Leave(ctx, "r3"); err != nil {
				t.Fatal(err)
			}
			live, err := st.LiveReplicas(ctx, time.Minute)
			if err != nil || !slices.Equal(live, []string{"r1", "r2"}) {
				t.Fatalf("live %v (%v), want [r1 r2]", live, err)
			}
			if live, err := st.LiveReplicas(ctx, time.Nanosecond); err != nil || len(live) != 0 {
				t.Fatalf("ttl 1ns: %v (%v), want none", live, err)
			}
		})
	}
}
