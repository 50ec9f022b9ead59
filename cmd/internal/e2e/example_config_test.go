package e2e_test

import (
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// The repository's config.example.yaml loads as is and serves against two simulators built
// exactly as `go run ./cmd/vbo-sim --servers 2` builds them (defaults: seed 1, admin/password,
// 8 organisations, sim1 on :4443 and sim2 on :4444), only on free ports here: every tenant's
// organisations resolve and every example key works.
func TestExampleConfigStartsAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../../../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if err := app.Check(cfg); err != nil {
		t.Fatalf("check: %v", err)
	}
	wantURLs := []string{"http://127.0.0.1:4443", "http://127.0.0.1:4444"} // vbo-sim's default ports
	for i := range cfg.Servers {
		s := &cfg.Servers[i]
		if s.Name != []string{"sim1", "sim2"}[i] || s.URL != wantURLs[i] {
			t.Fatalf("servers[%d] = %s %s: the example no longer pairs with vbo-sim --servers 2", i, s.Name, s.URL)
		}
		sim := vbosim.New(vbosim.Options{Name: s.Name, Seed: 1, Username: "admin", Password: "password", Orgs: 8, Sessions: 50, Now: fixedNow})
		ts := httptest.NewServer(sim)
		t.Cleanup(ts.Close)
		if s.Password() != "password" || s.Username != "admin" {
			t.Fatalf("servers[%d]: credentials do not match vbo-sim's defaults", i)
		}
		s.URL = ts.URL
	}
	if !cfg.Watch.Enabled || cfg.Store.Driver != "sqlite" {
		t.Fatalf("the example runs the watch on SQLite (watch %v, store %q)", cfg.Watch.Enabled, cfg.Store.Driver)
	}
	cfg.Store.Path = filepath.Join(t.TempDir(), "example.db") // not beside the example, in the checkout
	gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	e := &opsEnv{t: t, gw: gw}
	for key, want := range map[string][]string{
		"example-admin-key":    {`"role":"PROVIDER_ADMIN"`, `"sim1"`, `"sim2"`},
		"example-contoso-key":  {`"tenant":"contoso"`, "First Up Consultants", "Trey Research"},
		"example-fabrikam-key": {`"tenant":"fabrikam"`, "Alpine Ski House"},
	} {
		_, _, body := e.post(`{ viewer { role tenant organizations { name server { name } } } }`, map[string]string{"Authorization": "Bearer " + key})
		for _, w := range want {
			if !strings.Contains(body, w) || strings.Contains(body, `"errors"`) {
				t.Errorf("%s: %s, want %s and no error", key, body, w)
			}
		}
	}
}
