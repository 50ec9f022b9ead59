// Package demo runs the built-in simulated VBO servers behind `vbo-gateway --demo`, the
// end-to-end tests and the benchmark: three independent simulators (syd1, mel1, akl1) on
// loopback ports with a fixed seed.
package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/config"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// Names of the demo servers.
var Names = []string{"syd1", "mel1", "akl1"}

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
}

// Fleet is a set of running simulators and the gateway config that points at them.
type Fleet struct {
	Sims    map[string]*vbosim.Server
	Config  *config.Config
	servers []*http.Server
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
		f.Config.Servers = append(f.Config.Servers, config.Server{
			Name: name, URL: "http://" + ln.Addr().String(), APIVersion: sim.APIVersion(), Username: Username,
		}.WithPassword(Password))
	}
	return f, nil
}

// Close stops the simulators.
func (f *Fleet) Close() {
	for _, s := range f.servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
}
