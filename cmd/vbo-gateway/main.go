// Command vbo-gateway serves one GraphQL schema over every configured VBO server.
//
//	vbo-gateway --config gateway.yaml
//	vbo-gateway --demo                       # built-in simulated VBO servers, no config needed
//	vbo-gateway --demo --config limits.yaml  # the demo with the file's limits, listen, auth...
//	vbo-gateway --check-config --config gateway.yaml
//	vbo-gateway --version
//
// SIGHUP reloads tenants, API keys, JWT settings, limits and the log level from --config.
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
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/schedules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "vbo-gateway:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// flags are the command line.
type flags struct {
	configPath, listen, logLevel, logFormat  string
	cpuProfile                               string
	demo, allowMissing, checkConfig, version bool
	grace, healthInterval                    time.Duration
}

// errUsage wraps command-line mistakes (printed once, with a hint).
var errUsage = errors.New("see vbo-gateway --help")

func parseFlags(args []string, stdout io.Writer) (*flags, error) {
	var f flags
	fs := flag.NewFlagSet("vbo-gateway", flag.ContinueOnError)
	fs.StringVar(&f.configPath, "config", "", "YAML config file (with --demo: overrides for the demo, e.g. limits, listen, auth)")
	fs.BoolVar(&f.demo, "demo", false, "run against three built-in simulated VBO servers (no config needed)")
	fs.StringVar(&f.listen, "listen", "", "listen address (overrides the config; default 127.0.0.1:8080)")
	fs.BoolVar(&f.allowMissing, "allow-missing", false, "accepted for compatibility: tenants' organisations now always resolve in the background")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default: the config's logLevel, else info)")
	fs.StringVar(&f.logFormat, "log-format", telemetry.FormatJSON, "json or text")
	fs.DurationVar(&f.grace, "shutdown-grace", 20*time.Second, "time to finish in-flight requests on SIGTERM (longer than the request deadline)")
	fs.DurationVar(&f.healthInterval, "health-interval", 30*time.Second, "how often each VBO server is probed in the background (0: never)")
	fs.BoolVar(&f.checkConfig, "check-config", false, "validate --config and exit (no VBO server is contacted)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.StringVar(&f.cpuProfile, "cpu-profile", "", "write a CPU profile (pprof) of the whole run to this file, completed at shutdown (for profiling; docs/benchmarks.md)")
	fs.SetOutput(io.Discard) // errors are returned and printed once, by main
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "Usage: vbo-gateway --config FILE | --demo [--config FILE] [flags]\n\n")
			fs.PrintDefaults()
			fmt.Fprintf(stdout, "\nSIGHUP reloads tenants, API keys, JWT settings, limits and logLevel from --config.\n"+
				"Tracing: set OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP; the other OTEL_* variables apply).\n")
			return nil, flag.ErrHelp
		}
		return nil, fmt.Errorf("%w (%w)", err, errUsage)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a --flag (%w)", fs.Arg(0), errUsage)
	}
	return &f, nil
}

// stampedVersion is set by release builds (the Dockerfile): -ldflags "-X main.stampedVersion=v1.2.3".
// It names the build where the toolchain knows no module version ("(devel)": a build from a
// checkout) and no VCS revision (VCS stamping off, e.g. no .git in a container build).
var stampedVersion string

// version is the module version (or the stamped one), VCS revision and whether the tree was
// modified, from the build information the Go toolchain embeds.
func version() string {
	v, rev, modified := "(unknown)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if stampedVersion != "" && (v == "(devel)" || v == "(unknown)" || v == "") {
		v = stampedVersion
	}
	out := v
	if rev != "" {
		out += " revision " + rev
		if modified {
			out += " (modified)"
		}
	}
	return out
}

// demoSetup is what --demo runs besides the gateway.
type demoSetup struct {
	fleet demo.Options
	// watchInterval is the restore watch's poll interval.
	watchInterval time.Duration
	// started, if set, receives the running fleet (tests add sessions through it).
	started func(*demo.Fleet)
}

// defaultDemo is --demo's: live simulators, the watch polling every 5 s.
func defaultDemo() demoSetup {
	return demoSetup{fleet: demo.Options{Live: true}, watchInterval: 5 * time.Second}
}

// run parses flags and serves until ctx ends. ready, if set, receives the listen address.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	return runDemo(ctx, args, stdout, stderr, ready, defaultDemo())
}

// runDemo is run with the demo's setup given (it applies only with --demo): it reads the
// command line, then starts (startDemo, configLoader, prepare) and serves (serve).
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string), setup demoSetup) error {
	f, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if f.version {
		fmt.Fprintf(stdout, "vbo-gateway %s %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	level := new(slog.LevelVar)
	logger, err := newLogger(f, stderr, level)
	if err != nil {
		return err
	}
	if f.checkConfig {
		return checkConfig(f, configLoader(f, nil), stdout)
	}
	// The demo's webhook receiver checks each delivery's signature with its rule's secrets,
	// which it asks the gateway for once the gateway exists.
	var gateway atomic.Pointer[app.Gateway]
	var fleet *demo.Fleet
	if f.demo {
		var stopDemo func()
		if fleet, stopDemo, err = startDemo(setup, logger, &gateway); err != nil {
			return err
		}
		defer stopDemo()
	}
	load := configLoader(f, fleet)
	cfg, err := load()
	if err != nil {
		return err
	}
	tracing, finish, err := prepare(ctx, f, cfg, level, logger)
	if err != nil {
		return err
	}
	served := false
	defer func() { finish(served) }()
	// Background work (probes, name resolution, the watch) lives until shutdown.
	gwCtx, cancelGW := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelGW()
	gw, err := app.New(gwCtx, cfg, gatewayOptions(f, cfg, fleet, level, logger, tracing))
	if err != nil {
		return err
	}
	gateway.Store(gw)
	if f.demo {
		demoReportSchedule(gwCtx, gw, fleet, logger)
	}
	ran := make(chan error, 1)
	go func() { ran <- gw.Run(gwCtx) }()
	return serve(ctx, f, gw, cfg, load, fleet, stdout, logger, ready, ran, &served)
}

// demoReportSchedule makes the demo's report schedule: tenant 1's restore audit every few
// minutes, to the demo's receiver (with the watch, and so the schedules, on).
func demoReportSchedule(ctx context.Context, gw *app.Gateway, fleet *demo.Fleet, logger *slog.Logger) {
	if gw.Reports == nil || fleet == nil || fleet.Receiver == nil {
		return
	}
	tenant := demo.ReportTenant
	created, err := gw.Reports.Create(ctx, &tenant, "demo", demo.ReportSchedule(fleet.Receiver.URL()))
	if err != nil {
		logger.Warn("demo: the report schedule was not created", "err", err)
		return
	}
	logger.Info("demo: report schedule created", "schedule", created.Schedule.ID, "tenant", tenant, "every", string(created.Schedule.Every))
}

// newLogger is the process's logger, at the level --log-level asks (the config's may change it).
func newLogger(f *flags, stderr io.Writer, level *slog.LevelVar) (*slog.Logger, error) {
	if f.logLevel != "" {
		if _, err := telemetry.ParseLevel(f.logLevel); err != nil {
			return nil, fmt.Errorf("--log-level: %w", err)
		}
	}
	logger, err := telemetry.NewLogger(stderr, f.logFormat, level)
	if err != nil {
		return nil, fmt.Errorf("--log-format: %w", err)
	}
	return logger, nil
}

// startDemo starts the demo's simulators and webhook receiver, with the restore watch on
// SQLite in a temporary directory (subscriptions work with no configuration, and nothing is
// left behind). stop closes them and removes the directory.
func startDemo(setup demoSetup, logger *slog.Logger, gateway *atomic.Pointer[app.Gateway]) (fleet *demo.Fleet, stop func(), err error) {
	o := setup.fleet
	o.Receiver = &demo.ReceiverOptions{Logger: logger, Secrets: func(ctx context.Context, ruleID string) ([]webhooks.Secret, error) {
		gw := gateway.Load()
		switch {
		case gw != nil && gw.Reports != nil && strings.HasPrefix(ruleID, schedules.IDPrefix):
			return gw.Reports.SigningSecrets(ctx, ruleID)
		case gw != nil && gw.Rules != nil:
			return gw.Rules.SigningSecrets(ctx, ruleID)
		}
		return nil, errors.New("the gateway's watch rules are off")
	}}
	dir, err := os.MkdirTemp("", "vbo-gateway-demo-")
	if err != nil {
		return nil, nil, err
	}
	if fleet, err = demo.Start(o); err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	if setup.started != nil {
		setup.started(fleet)
	}
	fleet.Config.Watch = config.Watch{Enabled: true, Interval: setup.watchInterval}
	fleet.Config.Restore = config.Restore{Enabled: true}.WithDefaults()
	fleet.Config.Restore.Organizations = fleet.RestoreOrganizations()
	fleet.Config.Store = config.Store{Driver: "sqlite", Path: filepath.Join(dir, "demo.db")}
	return fleet, func() { fleet.Close(); _ = os.RemoveAll(dir) }, nil
}

// configLoader reads the configuration (the demo's alone without --config), --listen applied;
// a reload calls it again.
func configLoader(f *flags, fleet *demo.Fleet) func() (*config.Config, error) {
	return func() (*config.Config, error) {
		var cfg *config.Config
		switch {
		case f.configPath == "" && fleet != nil:
			cfg = fleet.Config
		case f.configPath == "":
			return nil, errors.New("give --config FILE, or --demo to try it with simulated VBO servers")
		default:
			ov := config.Overrides{AllowMissing: f.allowMissing}
			if fleet != nil {
				ov.Servers, ov.Tenants, ov.APIKeys = fleet.Config.Servers, fleet.Config.Tenants, fleet.Config.Auth.APIKeys
			}
			var err error
			if cfg, err = config.Load(f.configPath, ov); err != nil {
				return nil, err
			}
		}
		if f.listen != "" {
			cfg.Listen = f.listen
		}
		return cfg, nil
	}
}

// checkConfig is --check-config: validate without contacting any server.
func checkConfig(f *flags, load func() (*config.Config, error), stdout io.Writer) error {
	if f.configPath == "" {
		return errors.New("--check-config needs --config FILE")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if err := app.Check(cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK (%d servers, %d tenants, %d API keys, JWT %v)\n", f.configPath,
		len(cfg.Servers), len(cfg.Tenants), len(cfg.Auth.APIKeys), cfg.Auth.JWT != nil)
	return nil
}

// prepare applies the log level, starts the CPU profile, makes the logger the default,
// tunes the runtime and starts tracing (nil when off). finish undoes it all, in reverse;
// served says whether the gateway served (the CPU profile reaches its file only then).
func prepare(ctx context.Context, f *flags, cfg *config.Config, level *slog.LevelVar, logger *slog.Logger) (tracing *telemetry.Tracing, finish func(served bool), err error) {
	var undo []func(served bool)
	undoAll := func(served bool) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i](served)
		}
	}
	defer func() {
		if err != nil {
			undoAll(false)
		}
	}()
	switch {
	case f.logLevel != "":
		l, _ := telemetry.ParseLevel(f.logLevel)
		level.Set(l)
		cfg.LogLevel = "" // the flag wins at start-up; a reload applies the file's
	case cfg.LogLevel != "":
		l, err := telemetry.ParseLevel(cfg.LogLevel)
		if err != nil {
			return nil, nil, fmt.Errorf("logLevel: %w", err)
		}
		level.Set(l)
	}
	// The profile starts once the command line and the configuration are read, and reaches
	// its file only if the gateway served: a start-up that fails later (app.New refuses the
	// configuration, the address is taken) leaves an existing profile file as it was.
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return nil, nil, fmt.Errorf("--cpu-profile: %w", err)
		}
		undo = append(undo, func(served bool) {
			if err := stop(served); err != nil {
				logger.Error("--cpu-profile: the profile could not be written", "err", err)
			}
		})
	}
	// Third-party libraries that log through slog.Default or the log package (JWKS refresh,
	// gqlgen) write into the same structured log.
	prevDefault := slog.Default()
	slog.SetDefault(logger)
	undo = append(undo, func(bool) { slog.SetDefault(prevDefault) })
	restore := tuneRuntime(cfg.Runtime, os.Getenv, processKnobs, logger)
	undo = append(undo, func(bool) { restore() })
	if f.allowMissing {
		logger.Info("--allow-missing is no longer needed: tenants' organisations resolve in the background and are retried")
	}
	if tracing, err = telemetry.TracingFromEnv(ctx, os.Getenv, version()); err != nil {
		return nil, nil, err
	}
	if tracing != nil {
		logger.Info("tracing on: exporting spans over OTLP/HTTP (OTEL_* environment)")
	}
	undo = append(undo, func(bool) {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(sctx); err != nil {
			logger.Warn("flushing traces", "err", err)
		}
	})
	return tracing, undoAll, nil
}

// gatewayOptions are the gateway's options that come from the command line and the demo.
func gatewayOptions(f *flags, cfg *config.Config, fleet *demo.Fleet, level *slog.LevelVar, logger *slog.Logger, tracing *telemetry.Tracing) app.Options {
	o := app.Options{Logger: logger, LogLevel: level, Tracing: tracing, HealthInterval: f.healthInterval, Demo: f.demo}
	if f.demo {
		o.GraphiQLHeaders = `{"Authorization": "Bearer ` + demo.AdminKey + `"}`
		if cfg.Watch.Enabled && fleet.Receiver != nil {
			o.GraphiQLTabs = append(o.GraphiQLTabs, demo.WatchRuleTab(fleet.Receiver.URL()), demo.ReportScheduleTab())
		}
		if cfg.Restore.Enabled {
			if tab, ok := fleet.RestoreTabFor(); ok {
				o.GraphiQLTabs = append(o.GraphiQLTabs, tab)
			}
			if tab, ok := fleet.RestoreActionsTabFor(); ok {
				o.GraphiQLTabs = append(o.GraphiQLTabs, tab)
			}
		}
	}
	return o
}

// serve listens and serves gw until ctx ends, reloading the configuration on SIGHUP, then
// shuts down: no new connections, in-flight requests finish within --shutdown-grace.
func serve(ctx context.Context, f *flags, gw *app.Gateway, cfg *config.Config, load func() (*config.Config, error), fleet *demo.Fleet,
	stdout io.Writer, logger *slog.Logger, ready func(string), ran <-chan error, served *bool) error {
	hc := cfg.HTTP.WithDefaults() // validated by app.New
	ln, err := listenLimited(cfg.Listen, hc)
	if err != nil {
		return err
	}
	// Requests live under baseCtx: once the shutdown grace is over it is cancelled, which
	// cancels every upstream call still in flight.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := newServer(gw.Handler, hc, baseCtx)
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	printBanner(stdout, ln.Addr().String(), cfg, fleet)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	*served = true
	go func() { errc <- srv.Serve(ln) }()
	for done := false; !done; {
		select {
		case err := <-errc:
			return err
		case err := <-ran: // the background work could not start
			_ = srv.Close()
			return err
		case <-hup:
			if f.configPath == "" {
				logger.Warn("SIGHUP: nothing to reload without --config")
				continue
			}
			logger.Info("SIGHUP: reloading the configuration", "config", f.configPath)
			_ = gw.Reload(load) // logged and counted; the running configuration stays on error
		case <-ctx.Done():
			done = true
		}
	}
	logger.Info("shutting down: no new connections, finishing in-flight requests", "grace", f.grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), f.grace)
	defer cancel()
	// Subscriptions never finish on their own: end them first (clients resume by position on
	// another replica), let in-flight requests finish on a store still open, then stop the
	// background work (the watcher releases its leases, deliveries finish) and close the store.
	gw.EndSubscriptions()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown grace over; cancelling the requests still running", "err", err)
		cancelBase()
		_ = srv.Close()
	}
	gw.Close()
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

// printBanner says where the gateway listens; in the demo (fleet set), the demo keys and the
// webhook receiver too.
func printBanner(stdout io.Writer, addr string, cfg *config.Config, fleet *demo.Fleet) {
	url := "http://" + addr + "/"
	if fleet == nil {
		fmt.Fprintf(stdout, "vbo-gateway listening on %s (%d VBO servers)\n", url, len(cfg.Servers))
		return
	}
	fmt.Fprintf(stdout, "vbo-gateway demo: %d simulated VBO servers (%v)\n", len(cfg.Servers), strings.Join(demo.Names, ", "))
	fmt.Fprintf(stdout, "GraphiQL:  %s\nGraphQL:   %sgraphql\n", url, url)
	if cfg.Watch.Enabled && cfg.Console.Enabled() {
		fmt.Fprintf(stdout, "Console:   %sconsole/  (sign in with any key below)\n", url)
	}
	fmt.Fprintf(stdout, "Auth:      send 'Authorization: Bearer <key>' (GraphiQL has the admin key pre-filled):\n")
	fmt.Fprintf(stdout, "           %-22s PROVIDER_ADMIN, every server and organisation\n", demo.AdminKey)
	for i, t := range cfg.Tenants[:min(len(cfg.Tenants), demo.Tenants)] { // the demo's come first
		fmt.Fprintf(stdout, "           %-22s TENANT_AUDITOR of %s (%d organisations)\n", demo.TenantKey(i+1), t.ID, len(t.Organizations))
		fmt.Fprintf(stdout, "           %-22s TENANT_ADMIN of %s: also manages its watch rules, approves restores\n", demo.TenantAdminKey(i+1), t.ID)
		if cfg.Restore.Enabled {
			fmt.Fprintf(stdout, "           %-22s RESTORE_OPERATOR of %s: starts, browses and acts in restore sessions\n", demo.TenantOperatorKey(i+1), t.ID)
		}
	}
	if fleet.Receiver != nil && cfg.Watch.Enabled {
		fmt.Fprintf(stdout, "Webhooks:  %s  the demo receiver: logs each delivery, signature checked\n", fleet.Receiver.URL())
		fmt.Fprintf(stdout, "           (GraphiQL's last tab creates a watch rule against it as %s)\n", demo.TenantAdminKey(1))
	}
}

// startCPUProfile profiles the process into a new file next to path until finish is called
// (at shutdown). finish(true) moves the complete profile to path, replacing it at once (a run
// still reading the old one keeps it); finish(false) removes it.
func startCPUProfile(path string) (finish func(keep bool) error, err error) {
	out, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		_ = out.Close()
		_ = os.Remove(out.Name())
		return nil, err
	}
	return func(keep bool) error {
		pprof.StopCPUProfile()
		err := out.Close()
		if keep && err == nil {
			err = os.Rename(out.Name(), path)
		}
		if !keep || err != nil {
			_ = os.Remove(out.Name())
		}
		return err
	}, nil
}
