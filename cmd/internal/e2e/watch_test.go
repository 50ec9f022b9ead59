package e2e_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// watchGateway is the demo fleet (three servers, three tenants) behind a gateway with the
// restore watch on, on SQLite in a temporary directory (or on the given store).
func watchGateway(t *testing.T, sessions int, tune func(*config.Config)) (*demo.Fleet, *app.Gateway) {
	t.Helper()
	fleet, err := demo.Start(demo.Options{Orgs: 6, Sessions: sessions, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	cfg := fleet.Config
	cfg.Watch = config.Watch{Enabled: true, Interval: 50 * time.Millisecond, Backfill: 100 * 24 * time.Hour}
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "gw.db")}
	if tune != nil {
		tune(cfg)
	}
	gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return fleet, gw
}

func TestWatcherStatus(t *testing.T) {
	t.Parallel()
	_, gw := watchGateway(t, 60, nil)
	c := client.New(gw.Handler, client.Path("/graphql"))
	type status struct {
		Servers []struct {
			Name    string
			Watcher *struct {
				LastPoll         *string
				Lag              *float64
				ArchivedSessions int
				BackfillDone     bool
				LastError        *string
			}
		}
	}
	const q = `{ servers { name watcher { lastPoll lag archivedSessions backfillDone lastError } } }`
	var admin status
	waitFor(t, 20*time.Second, func() bool {
		admin = status{}
		c.MustPost(q, &admin, client.AddHeader("Authorization", "Bearer "+demo.AdminKey))
		done := len(admin.Servers) == 3
		for _, s := range admin.Servers {
			done = done && s.Watcher != nil && s.Watcher.BackfillDone && s.Watcher.LastPoll != nil
		}
		return done
	}, "the backfill reported done: ", lazy(func() string { b, _ := json.Marshal(admin); return string(b) }))
	for _, s := range admin.Servers {
		w := s.Watcher
		if w.ArchivedSessions != 60 || w.Lag == nil || *w.Lag < 0 || *w.Lag > 10 || w.LastError != nil {
			b, _ := json.Marshal(s)
			t.Fatalf("server status %s", b)
		}
	}
	var tenant status
	c.MustPost(q, &tenant, client.AddHeader("Authorization", "Bearer "+demo.TenantKeyPrefix+"1"))
	if len(tenant.Servers) == 0 {
		t.Fatal("tenant sees no servers")
	}
	for _, s := range tenant.Servers {
		if s.Watcher != nil {
			t.Fatalf("tenant sees the watcher of %s", s.Name)
		}
	}
}
