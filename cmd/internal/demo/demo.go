// Package demo runs the built-in simulated VBO servers behind `vbo-gateway --demo`, the
// end-to-end tests and the benchmark: three independent simulators (syd1, mel1, akl1) on
// loopback ports with a fixed seed.
package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// Names of the demo servers.
var Names = []string{"syd1", "mel1", "akl1"}

// Demo API keys (documented in the README; fixed so a newcomer can paste them).
const (
	AdminKey = "demo-admin"
	// TenantKeyPrefix + n (1..Tenants) is the key of demo tenant n's TENANT_AUDITOR.
	TenantKeyPrefix = "demo-tenant-"
	// TenantKeyPrefix + n + TenantAdminKeySuffix is the key of demo tenant n's TENANT_ADMIN,
	// who may also manage the tenant's watch rules (TenantAdminKey).
	TenantAdminKeySuffix = "-admin"
	// TenantKeyPrefix + n + TenantOperatorKeySuffix is the key of demo tenant n's
	// RESTORE_OPERATOR, who may start, browse and stop restore sessions through the gateway
	// (TenantOperatorKey).
	TenantOperatorKeySuffix = "-operator"
	// Tenants is the number of demo tenants.
	Tenants = 3
)

// Fixed demo settings.
const (
	Seed     = 20261125
	Username = "svc-gateway"
	Password = "demo-password"
)

// Options size the demo fleet.
type Options struct {
	Servers  []string // default Names
	Orgs     int      // per server, default 12
	Sessions int      // per server, default 1500
	Now      time.Time
	// Sim adjusts each simulator's options before it starts (faults, latency...).
	Sim func(name string, o *vbosim.Options)
	// Live makes each simulator start, run and end restore sessions on its own, one every
	// 20-60 s (vbosim.RunLive), until Close. Off by default: tests keep deterministic data.
	Live bool
	// Receiver, when set, starts the demo webhook receiver (Fleet.Receiver) on 127.0.0.1 and
	// lets watch rules deliver to it: Config.Webhooks allows http and the single address
	// 127.0.0.1/32, and nothing else private. Close stops it.
	Receiver *ReceiverOptions
}

// Fleet is a set of running simulators and the gateway config that points at them.
type Fleet struct {
	Sims   map[string]*vbosim.Server
	Config *config.Config
	// Receiver is the demo webhook receiver (nil without Options.Receiver).
	Receiver *Receiver
	servers  []*http.Server
	stop     func() // stops the live activity (nil without Options.Live)
}

// Start starts the simulators on 127.0.0.1 ephemeral ports.
func Start(opts Options) (*Fleet, error) {
	if len(opts.Servers) == 0 {
		opts.Servers = Names
	}
	if opts.Orgs == 0 {
		opts.Orgs = 12
	}
	if opts.Sessions == 0 {
		opts.Sessions = 1500
	}
	f := &Fleet{Sims: map[string]*vbosim.Server{}, Config: &config.Config{
		Listen: config.DefaultListen, MaxConcurrencyPerServer: config.DefaultMaxConcurrency}}
	for i, name := range opts.Servers {
		so := vbosim.Options{Name: name, Seed: Seed + int64(i), Username: Username, Password: Password,
			Orgs: opts.Orgs, Sessions: opts.Sessions, Now: opts.Now}
		if opts.Sim != nil {
			opts.Sim(name, &so)
		}
		sim := vbosim.New(so)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("demo: listen: %w", err)
		}
		hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				panic(err)
			}
		}()
		f.servers = append(f.servers, hs)
		f.Sims[name] = sim
		f.Config.Servers = append(f.Config.Servers, config.VBOServer{
			Name: name, URL: "http://" + ln.Addr().String(), APIVersion: sim.APIVersion(), Username: Username,
		}.WithPassword(Password))
	}
	f.Config.Tenants, f.Config.Auth.APIKeys = demoTenants(f.Sims, opts.Servers)
	// The console (/console/) signs in with the demo's keys.
	f.Config.Console = config.Console{APIKeySignIn: true}
	if opts.Receiver != nil {
		rcv, err := StartReceiver(*opts.Receiver)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.Receiver = rcv
		f.Config.Webhooks = ReceiverPolicy()
	}
	if opts.Live {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, sim := range f.Sims {
			wg.Go(func() { sim.RunLive(ctx, vbosim.LiveOptions{}) })
		}
		f.stop = func() { cancel(); wg.Wait() }
	}
	return f, nil
}

// demoTenants makes three tenants owning different organisations; tenant 1 spans two servers.
// Organisations are named, as an operator would write them, and resolved at start-up.
func demoTenants(sims map[string]*vbosim.Server, servers []string) ([]config.Tenant, []config.APIKey) {
	pick := func(server string, idx ...int) []config.TenantOrg {
		sim, ok := sims[server]
		if !ok {
			return nil
		}
		orgs := sim.Organizations()
		var out []config.TenantOrg
		for _, i := range idx {
			if i < len(orgs) {
				out = append(out, config.TenantOrg{Server: server, Name: orgs[i].Name})
			}
		}
		return out
	}
	at := func(i int) string { return servers[i%len(servers)] }
	tenants := []config.Tenant{
		{ID: "tenant-1", Name: "Demo tenant 1", Organizations: append(pick(at(0), 0, 1), pick(at(1), 0)...)},
		{ID: "tenant-2", Name: "Demo tenant 2", Organizations: pick(at(0), 2, 3)},
		{ID: "tenant-3", Name: "Demo tenant 3", Organizations: pick(at(2), 0, 1)},
	}
	keys := []config.APIKey{{Name: AdminKey, SHA256: KeySHA256(AdminKey), Role: "PROVIDER_ADMIN"}}
	for i, t := range tenants {
		auditor, admin, operator := TenantKey(i+1), TenantAdminKey(i+1), TenantOperatorKey(i+1) // each key is named as it is spelled
		keys = append(keys, config.APIKey{Name: auditor, SHA256: KeySHA256(auditor), Tenant: t.ID},
			config.APIKey{Name: admin, SHA256: KeySHA256(admin), Tenant: t.ID, Role: "TENANT_ADMIN"},
			config.APIKey{Name: operator, SHA256: KeySHA256(operator), Tenant: t.ID, Role: "RESTORE_OPERATOR"})
	}
	return tenants, keys
}

// TenantKey is the key of demo tenant n's TENANT_AUDITOR (n from 1 to Tenants).
func TenantKey(n int) string { return TenantKeyPrefix + strconv.Itoa(n) }

// TenantAdminKey is the key of demo tenant n's TENANT_ADMIN (n from 1 to Tenants).
func TenantAdminKey(n int) string { return TenantKey(n) + TenantAdminKeySuffix }

// TenantOperatorKey is the key of demo tenant n's RESTORE_OPERATOR (n from 1 to Tenants).
func TenantOperatorKey(n int) string { return TenantKey(n) + TenantOperatorKeySuffix }

// KeySHA256 is the hex SHA-256 of an API key, as config.APIKey stores it.
func KeySHA256(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:])
}

// Close stops the simulators and the webhook receiver.
func (f *Fleet) Close() {
	if f.stop != nil {
		f.stop()
	}
	if f.Receiver != nil {
		f.Receiver.Close()
	}
	for _, s := range f.servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
}
