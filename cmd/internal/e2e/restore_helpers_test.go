package e2e_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/graphiql"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// Helpers shared by the restore end-to-end tests (front door, item actions, hostile inputs,
// the audit join and the destructive rules).

// restoreEnv is a restore-enabled gateway over the demo fleet, with a GraphQL client on its
// handler.
type restoreEnv struct {
	fleet *demo.Fleet
	gw    *app.Gateway
	c     *client.Client
}

// restoreFleet starts the demo fleet with syd1 on VBO API v6 and the others on v8, and
// answers its configuration with the watch on (polling every watchEvery) and the store in a
// SQLite file of the test's temporary directory (cfg.Store.Path). The caller sets
// cfg.Restore.
func restoreFleet(t *testing.T, sessions int, watchEvery time.Duration) (*demo.Fleet, *config.Config) {
	t.Helper()
	fleet, err := demo.Start(demo.Options{Orgs: 6, Sessions: sessions, Now: time.Now().Add(-time.Hour), Sim: func(name string, o *vbosim.Options) {
		if name != "syd1" {
			o.APIVersion = "v8"
		}
	}})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(fleet.Close)
	fleet.Config = fleet.Config.WithCursorSecret([]byte(testCursorSecret))
	cfg := fleet.Config
	cfg.Watch = config.Watch{Enabled: true, Interval: watchEvery, Backfill: 24 * time.Hour}
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "gw.db")}
	return fleet, cfg
}

// restoreGateway runs the gateway on cfg (logging to logger) until the test ends and answers
// it as a restoreEnv; the front door must be on.
func restoreGateway(t *testing.T, fleet *demo.Fleet, cfg *config.Config, logger *slog.Logger) *restoreEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // after the gateway's own clean-up has closed it
	gw, err := runGateway(t, ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if gw.Restore == nil {
		t.Fatal("restore.enabled built no front door")
	}
	return &restoreEnv{fleet: fleet, gw: gw, c: client.New(gw.Handler, client.Path("/graphql"))}
}

// startExchange starts an EXCHANGE session of org as key and returns its id (fails the test
// on error).
func (e *restoreEnv) startExchange(t *testing.T, key, org, reason string) string {
	t.Helper()
	var s struct{ StartRestoreSession struct{ ID string } }
	postAs(t, e.c, key, rfStart, map[string]any{"org": org, "reason": reason}).decode(t, &s)
	return s.StartRestoreSession.ID
}

// tabRunner runs the operations of a demo GraphiQL tab as tenant 1's operator, with the
// tab's variables (vars, which the caller may extend between operations), decoding each
// answer's data into out; an error answer fails the test.
func (e *restoreEnv) tabRunner(t *testing.T, tab graphiql.Tab) (run func(op string, out any), vars map[string]any) {
	t.Helper()
	if err := json.Unmarshal([]byte(tab.Variables), &vars); err != nil {
		t.Fatal(err)
	}
	return func(op string, out any) {
		t.Helper()
		opts := []client.Option{asKey(demo.TenantOperatorKey(1)), client.Operation(op)}
		for k, v := range vars {
			opts = append(opts, client.Var(k, v))
		}
		resp, err := e.c.RawPost(tab.Query, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
			t.Fatalf("%s: %s", op, resp.Errors)
		}
		b, _ := json.Marshal(resp.Data)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}, vars
}

// simOrgID is the simulator's id of the organisation named name ("" if none).
func simOrgID(sim *vbosim.Server, name string) string {
	for _, o := range sim.Organizations() {
		if o.Name == name {
			return o.ID
		}
	}
	return ""
}

// tenant1Org is tenant 1's first organisation: its configuration, its simulator and the
// simulator's id for it.
func tenant1Org(fleet *demo.Fleet) (config.TenantOrg, *vbosim.Server, string) {
	org := fleet.Config.Tenants[0].Organizations[0]
	sim := fleet.Sims[org.Server]
	return org, sim, simOrgID(sim, org.Name)
}

// withRestoreItemActions gives every organisation of the fleet Microsoft 365 user credentials
// whose password is raSecret (the secret the logs are searched for), makes tenant 1's
// restores to the original location need approval and lets tenant 1's admin key approve them
// (an approving key needs allowRestoreToOriginal, as a requesting one does).
func withRestoreItemActions(fleet *demo.Fleet, cfg *config.Config) {
	cfg.Auth.APIKeys = slices.Clone(cfg.Auth.APIKeys) // the fleet's own config is shared
	for i, k := range cfg.Auth.APIKeys {
		if k.Name == demo.TenantAdminKey(1) {
			cfg.Auth.APIKeys[i].AllowRestoreToOriginal = true
		}
	}
	creds := config.M365Credentials{UserName: "restore@demo.test"}
	for name, sim := range fleet.Sims {
		for _, o := range sim.Organizations() {
			cfg.Restore.Organizations = append(cfg.Restore.Organizations, config.RestoreOrg{Server: name, ID: o.ID,
				Credentials: creds.WithSecrets("", "", raSecret)})
		}
	}
	cfg.Tenants[0].Restore.Approval = config.ApprovalRequired
}

// destructiveRules creates the destructive:true ITEM rule on RESTORE events ("restore over
// the original") and its destructive:false twin ("restore elsewhere").
func destructiveRules(t *testing.T, gw *app.Gateway) (destr, other *hookReceiver) {
	t.Helper()
	return rulePair(t, gw, map[string]any{"name": "restore over the original", "on": "ITEM", "eventTypes": []string{"RESTORE"}},
		"destructive", "restore elsewhere")
}

// rulePair creates two webhook rules from in, each delivering to its own receiver: in itself
// with flag true, and one named name2 with flag false.
func rulePair(t *testing.T, gw *app.Gateway, in map[string]any, flag, name2 string) (on, off *hookReceiver) {
	t.Helper()
	on, off = newHookReceiver(t), newHookReceiver(t)
	in = with(in, "url", on.URL, flag, true)
	mustPost(t, gw, demo.AdminKey, createRule, map[string]any{"in": in}, nil)
	mustPost(t, gw, demo.AdminKey, createRule, map[string]any{"in": with(in, "name", name2, "url", off.URL, flag, false)}, nil)
	return on, off
}

// mustActionLog opens the gateway store's restore action log.
func mustActionLog(t *testing.T, gw *app.Gateway) *actionlog.Log {
	t.Helper()
	log, err := actionlog.New(gw.Store)
	if err != nil {
		t.Fatal(err)
	}
	return log
}
