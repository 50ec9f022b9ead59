// Command vbo-gateway serves one GraphQL schema over every configured VBO server.
//
//	vbo-gateway --config gateway.yaml
//	vbo-gateway --demo            # built-in simulated VBO servers, no config needed
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "vbo-gateway:", err)
		os.Exit(1)
	}
}

// run parses flags and serves until ctx ends. ready, if set, receives the listen address.
func run(ctx context.Context, args []string, stdout io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("vbo-gateway", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file")
	demoMode := fs.Bool("demo", false, "run against three built-in simulated VBO servers (no config needed)")
	listen := fs.String("listen", "", "listen address (overrides the config; default 127.0.0.1:8080)")
	allowMissing := fs.Bool("allow-missing", false, "start even if a tenant names an unknown server or organisation (logged; retried on refresh)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	grace := fs.Duration("shutdown-grace", 20*time.Second, "time to finish in-flight requests on SIGTERM (longer than the request deadline)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	var cfg *config.Config
	var gopts app.Options
	switch {
	case *demoMode && *configPath != "":
		return errors.New("use --demo or --config, not both")
	case *demoMode:
		fleet, err := demo.Start(demo.Options{})
		if err != nil {
			return err
		}
		defer fleet.Close()
		cfg = fleet.Config
	case *configPath != "":
		var err error
		if cfg, err = config.Load(*configPath, config.Overrides{AllowMissing: *allowMissing}); err != nil {
			return err
		}
	default:
		return errors.New("give --config FILE, or --demo to try it with simulated VBO servers")
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	gopts.Logger = logger
	if *demoMode {
		gopts.GraphiQLHeaders = `{"Authorization": "Bearer ` + demo.AdminKey + `"}`
	}
	gw, err := app.New(ctx, cfg, gopts)
	if err != nil {
		return err
	}
	hc := cfg.HTTP.WithDefaults()
	if err := hc.Validate(cfg.Resilience.WithDefaults().RequestTimeout); err != nil {
		return err
	}
	ln, err := listenLimited(cfg.Listen, hc)
	if err != nil {
		return err
	}
	// Requests live under baseCtx: once the shutdown grace is over it is cancelled, which
	// cancels every upstream call still in flight.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := newServer(gw.Handler, hc, baseCtx)
	url := "http://" + ln.Addr().String() + "/"
	if *demoMode {
		fmt.Fprintf(stdout, "vbo-gateway demo: %d simulated VBO servers (%v)\n", len(cfg.Servers), demo.Names)
		fmt.Fprintf(stdout, "GraphiQL:  %s\nGraphQL:   %sgraphql\n", url, url)
		fmt.Fprintf(stdout, "Auth:      send 'Authorization: Bearer <key>' (GraphiQL has the admin key pre-filled):\n")
		fmt.Fprintf(stdout, "           %-16s PROVIDER_ADMIN, every server and organisation\n", demo.AdminKey)
		for i, t := range cfg.Tenants {
			fmt.Fprintf(stdout, "           %-16s TENANT_AUDITOR of %s (%d organisations)\n", fmt.Sprintf("%s%d", demo.TenantKeyPrefix, i+1), t.ID, len(t.Organizations))
		}
	} else {
		fmt.Fprintf(stdout, "vbo-gateway listening on %s (%d VBO servers)\n", url, len(cfg.Servers))
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: no new connections, finishing in-flight requests", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown grace over; cancelling the requests still running", "err", err)
		cancelBase()
		_ = srv.Close()
	}
	logger.Info("stopped")
	return nil
}

// listenLimited opens the listening socket, holding at most hc.MaxConnections connections at once
// (further clients wait in the kernel's accept queue).
func listenLimited(addr string, hc config.HTTP) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if hc.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, hc.MaxConnections)
	}
	return ln, nil
}

// newServer bounds every connection's time (headers, whole request, response, idle) and its
// headers' size. WriteTimeout is above the request deadline, which itself ends slow queries.
func newServer(h http.Handler, hc config.HTTP, base context.Context) *http.Server {
	return &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: hc.ReadHeaderTimeout,
		ReadTimeout:       hc.ReadTimeout,
		WriteTimeout:      hc.WriteTimeout,
		IdleTimeout:       hc.IdleTimeout,
		MaxHeaderBytes:    hc.MaxHeaderBytes,
	}
}
