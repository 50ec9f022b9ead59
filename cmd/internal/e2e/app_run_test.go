package e2e_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// The composition root builds and does not start (issue 21): after New, no server is polled
// and no archive row is written; Run starts the watch; Close stops Run and Run after Close is
// refused with ErrClosed.
func TestNewStartsNothingRunStarts(t *testing.T) {
	t.Parallel()
	fleet, err := demo.Start(demo.Options{Orgs: 3, Sessions: 10, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	cfg := fleet.Config
	cfg.Watch = config.Watch{Enabled: true, Interval: 20 * time.Millisecond, Backfill: 24 * time.Hour}
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "gw.db")}
	gw, err := app.New(t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HealthInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	listings := func() int {
		n := 0
		for _, sim := range fleet.Sims {
			n += sim.Calls("GET /" + sim.APIVersion() + "/RestoreSessions")
		}
		return n
	}
	time.Sleep(100 * time.Millisecond) // five poll intervals and ten probe intervals
	if n := listings(); n != 0 {
		t.Fatalf("New alone listed sessions %d times: it started the watch", n)
	}
	ran := make(chan error, 1)
	go func() { ran <- gw.Run(t.Context()) }()
	waitFor(t, 10*time.Second, func() bool { return listings() > 0 }, "Run polls the servers")
	if err := gw.Run(t.Context()); err == nil {
		t.Error("a second Run was accepted")
	}
	gw.Close()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not stop Run")
	}
	if err := gw.Run(t.Context()); !errors.Is(err, app.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}
