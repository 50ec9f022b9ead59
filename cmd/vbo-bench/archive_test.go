package main

import (
	"os"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// gateway-archive's configuration is valid and turns on what the system stands for: the watch
// (backfilling past the simulators' oldest session, no sweep), SQLite in the bench's
// directory, reads from the archive, the caches off; the gateway system's has none of it.
func TestArchiveGatewayConfig(t *testing.T) {
	t.Parallel()
	o := benchTestOptions()
	e := &env{o: o, sims: testSims(t, o), dir: t.TempDir()}
	getenv := func(string) (string, bool) { return demo.Password, true }
	cfg, err := config.Parse(e.gatewayConfig("127.0.0.1:0", gatewaySettings{archive: true, noListingCache: true, noImmutableCache: true}), getenv, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Watch.WithDefaults()
	oldest := fixedNow.Add(-90 * 24 * time.Hour) // the simulators' data span 90 days
	if !w.Enabled || w.Sweep.Interval >= 0 || !time.Now().Add(-w.Backfill).Before(oldest) {
		t.Errorf("watch = %+v", w)
	}
	if got := cfg.Reads.WithDefaults().From; got != config.ReadsArchive {
		t.Errorf("reads.from = %q, want archive", got)
	}
	if cfg.Store.Driver != "sqlite" || cfg.Store.Path == "" || cfg.Cache.ListingTTL >= 0 || cfg.Cache.MaxBytes >= 0 {
		t.Errorf("store %+v, cache %+v", cfg.Store, cfg.Cache)
	}
	plain, err := config.Parse(e.gatewayConfig("127.0.0.1:0", gatewaySettings{}), getenv, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Watch.Enabled {
		t.Error("the gateway system's configuration turns the watch on")
	}
}
