// Command vbo-bench compares the gateway with hand-written REST integrations (and, when node/npm
// are installed, with GraphQL Mesh / Hive Gateway) on named scenarios against simulated VBO
// servers: upstream calls against the minimum the simulator's own data require, the system's
// own CPU time per request, latency percentiles, throughput and peak RSS. See
// docs/benchmarks.md.
//
// Each system runs in its own process: the vbo-gateway binary (built once with go build, started
// with a generated config), Hive Gateway (node), the simulators in one vbo-sim process, the load
// generator in this one; the gateway and Hive Gateway are pinned to the same CPU set (taskset).
//
//	go run ./cmd/vbo-bench                           # every scenario, every system, table on stdout
//	go run ./cmd/vbo-bench --scenario dashboard --systems gateway,direct-parallel
//	go run ./cmd/vbo-bench --json > results.json --svg docs/benchmarks.svg
//	go run ./cmd/vbo-bench --url http://127.0.0.1:8080/graphql --systems gateway
//
// By default every (scenario, system) pair runs in a fresh child process (the same binary,
// re-executed, pinned to the harness CPUs), with its own simulators and gateway processes;
// --in-process runs the pairs in this process instead.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scenario names, in run order.
var allScenarios = []string{"dashboard", "audit-window", "cross-server-page", "node-lookups",
	"repeat-dashboard", "overhead", "flat-sessions-events", "memory"}

// System names.
var allSystems = []string{"gateway", "gateway-archive", "direct-sequential", "direct-parallel", "mesh"}

// options are the command-line flags; children receive the same flags.
type options struct {
	scenarios    []string
	systems      []string
	jsonOut      bool
	svgPath      string
	savePath     string
	url          string
	simStats     []string
	inProcess    bool
	child        string // "scenario/system": run one pair and print its rows as JSON
	gatewayBin   string
	simBin       string
	profileDir   string // --gateway-cpu-profile: each gateway process profiles itself into it
	systemCPUs   string // resolved by parseFlags (cpuSets): a CPU list, or "" for no pinning
	harnessCPUs  string // likewise
	servers      int
	orgs         int
	sessions     int
	latency      time.Duration
	jitter       time.Duration
	maxConc      int
	iterations   int
	budget       time.Duration
	dashSessions int
	auditDays    int
	pageSize     int
	pages        int
	lookups      int
	overheadN    int
	concurrency  []int
	duration     time.Duration
	largeEvents  int
	eventsPage   int
	meshDir      string
	verbose      bool
}

type listFlag struct{ v *[]string }

func (l listFlag) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.v = append(*l.v, p)
		}
	}
	return nil
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("vbo-bench", flag.ContinueOnError)
	fs.Var(listFlag{&o.scenarios}, "scenario", "scenario to run (repeatable or comma-separated; default all): "+strings.Join(allScenarios, ", "))
	var systems string
	fs.StringVar(&systems, "systems", strings.Join(allSystems, ","), "systems to compare")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON array of rows instead of the table")
	fs.StringVar(&o.svgPath, "svg", "", "write a latency chart (SVG) to this file")
	fs.StringVar(&o.savePath, "save", "", "also write the JSON rows to this file")
	fs.StringVar(&o.url, "url", "", "benchmark a running gateway at this GraphQL URL instead of an in-process one (gateway system only)")
	fs.Var(listFlag{&o.simStats}, "sim-stats", "with --url: base URLs of the vbo-sim servers behind it, to read /_sim/stats (comma-separated)")
	fs.BoolVar(&o.inProcess, "in-process", false, "run every pair in this process (no child process per pair; the systems still run in their own processes)")
	fs.StringVar(&o.child, "child", "", "internal: run one scenario/system pair")
	fs.StringVar(&o.gatewayBin, "gateway-bin", "", "prebuilt vbo-gateway binary (default: go build into a temporary directory)")
	fs.StringVar(&o.profileDir, "gateway-cpu-profile", "", "write a CPU profile of every gateway process into this directory (merge them with: go tool pprof -proto DIR/*.pprof > merged.pb.gz)")
	fs.StringVar(&o.simBin, "sim-bin", "", "prebuilt vbo-sim binary (default: go build into a temporary directory)")
	fs.StringVar(&o.systemCPUs, "system-cpus", "auto", "CPU list (taskset -c) for the system under test, the gateway or Hive Gateway alike (auto: the last CPU when there are 2 or more; none: no pinning)")
	fs.StringVar(&o.harnessCPUs, "harness-cpus", "auto", "CPU list for the simulators and the load generator (auto: every other CPU; none: no pinning)")
	fs.IntVar(&o.servers, "servers", 3, "simulated VBO servers")
	fs.IntVar(&o.orgs, "orgs", 20, "organisations per server")
	fs.IntVar(&o.sessions, "sessions", 17000, "restore sessions per server (90 days; the largest organisation then has a few hundred in 7 days)")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "per-call upstream latency L (not for the token call)")
	fs.DurationVar(&o.jitter, "jitter", 2*time.Millisecond, "uniform random extra latency 0..jitter per call")
	fs.IntVar(&o.maxConc, "max-concurrency", 8, "in-flight calls per VBO server, for the gateway and direct-parallel")
	fs.IntVar(&o.iterations, "iterations", 5, "measured iterations per scenario and system")
	fs.DurationVar(&o.budget, "budget", 15*time.Second, "stop iterating a pair once another iteration would exceed this (at least one runs)")
	fs.IntVar(&o.dashSessions, "dashboard-sessions", 10, "dashboard: newest sessions per organisation")
	fs.IntVar(&o.auditDays, "audit-days", 7, "audit-window: window length in days")
	fs.IntVar(&o.pageSize, "page-size", 100, "cross-server-page: first")
	fs.IntVar(&o.pages, "pages", 5, "cross-server-page: pages (first + next ones)")
	fs.IntVar(&o.lookups, "lookups", 200, "node-lookups: node(id:) fields per query, half of them duplicates")
	fs.IntVar(&o.overheadN, "overhead-first", 50, "overhead: restoreSessions(first:)")
	var conc string
	fs.StringVar(&conc, "concurrency", "1,8,64", "overhead: client concurrency levels")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "overhead: measured time per concurrency level")
	fs.IntVar(&o.largeEvents, "large-events", 10000, "memory: events in the large session")
	fs.IntVar(&o.eventsPage, "events-page", 500, "memory: events(first:) page size")
	fs.StringVar(&o.meshDir, "mesh-dir", "cmd/vbo-bench/mesh", "directory of the Mesh / Hive Gateway setup (package.json, config, script)")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.systems = nil
	_ = listFlag{&o.systems}.Set(systems)
	for _, c := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--concurrency: bad level %q", c)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if len(o.scenarios) == 0 {
		o.scenarios = allScenarios
	}
	for _, s := range o.scenarios {
		if !slices.Contains(allScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
	}
	for _, s := range o.systems {
		if !slices.Contains(allSystems, s) {
			return nil, fmt.Errorf("unknown system %q (have %s)", s, strings.Join(allSystems, ", "))
		}
	}
	if o.servers < 1 || o.orgs < 1 || o.sessions < 1 || o.iterations < 1 {
		return nil, errors.New("--servers, --orgs, --sessions and --iterations must be positive")
	}
	o.systemCPUs, o.harnessCPUs = cpuSets(o)
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vbo-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.child != "" {
		scenario, system, _ := strings.Cut(o.child, "/")
		rows, err := runPair(ctx, o, &binaries{gateway: o.gatewayBin, sim: o.simBin}, scenario, system)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vbo-bench:", err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(rows)
		return
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "vbo-bench:", err)
		os.Exit(1)
	}
}

func logf(o *options, format string, args ...any) {
	if o.verbose || o.child == "" {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

func run(ctx context.Context, o *options) error {
	start := time.Now()
	var rows []row
	var skips []string
	var bins *binaries
	if o.url == "" {
		logf(o, "building vbo-gateway and vbo-sim ...")
		var err error
		if bins, err = buildBinaries(ctx, o); err != nil {
			return err
		}
		defer bins.remove()
	}
	if o.systemCPUs != "" {
		logf(o, "system under test on CPU %s, simulators and load generator on CPU %s (taskset)", o.systemCPUs, o.harnessCPUs)
	}
	if slices.Contains(o.systems, "mesh") {
		if err := meshAvailable(o); err != nil {
			skips = append(skips, "mesh: skipped: "+err.Error())
			logf(o, "mesh: skipped: %v", err)
			o.systems = slices.DeleteFunc(slices.Clone(o.systems), func(s string) bool { return s == "mesh" })
		} else if err := meshPrepare(ctx, o); err != nil {
			skips = append(skips, "mesh: skipped: "+err.Error())
			logf(o, "mesh: skipped: %v", err)
			o.systems = slices.DeleteFunc(slices.Clone(o.systems), func(s string) bool { return s == "mesh" })
		}
	}
	for _, sc := range o.scenarios {
		for _, sys := range o.systems {
			if why := notApplicable(o, sc, sys); why != "" {
				skips = append(skips, fmt.Sprintf("%s / %s: skipped: %s", sc, sys, why))
				continue
			}
			t0 := time.Now()
			logf(o, "running %s / %s ...", sc, sys)
			var rs []row
			var err error
			if o.inProcess || o.url != "" {
				rs, err = runPair(ctx, o, bins, sc, sys)
			} else {
				rs, err = runChild(ctx, o, bins, sc, sys)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				skips = append(skips, fmt.Sprintf("%s / %s: FAILED: %v", sc, sys, err))
				logf(o, "  %s / %s failed: %v", sc, sys, err)
				continue
			}
			logf(o, "  done in %s", time.Since(t0).Round(time.Millisecond))
			rows = append(rows, rs...)
		}
	}
	addRatios(rows)
	if o.svgPath != "" {
		if err := os.WriteFile(o.svgPath, renderSVG(rows, o), 0o644); err != nil {
			return err
		}
	}
	if rows == nil {
		rows = []row{}
	}
	if o.savePath != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(o.savePath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printTable(os.Stdout, rows)
	fmt.Println()
	printTargets(os.Stdout, rows, o)
	if len(skips) > 0 {
		fmt.Println()
		for _, s := range skips {
			fmt.Println(s)
		}
	}
	pin := "no CPU pinning"
	if o.systemCPUs != "" {
		pin = fmt.Sprintf("system under test on CPU %s, harness on CPU %s", o.systemCPUs, o.harnessCPUs)
	}
	fmt.Printf("\n%s; %d CPUs; %s; L=%s jitter=%s; max concurrency per server %d; total %s\n",
		runtime.Version(), runtime.NumCPU(), pin, o.latency, o.jitter, o.maxConc, time.Since(start).Round(time.Second))
	return nil
}

// notApplicable says why a system does not run a scenario ("" = it does).
func notApplicable(o *options, sc, sys string) string {
	switch {
	case o.url != "" && sys != "gateway":
		return "--url benchmarks the gateway only"
	case sys == "gateway-archive" && archiveScenarios[sc] == nil:
		return "archive reads are benchmarked on the dashboard and the overhead query"
	case o.url != "" && sc == "memory":
		return "needs the simulators' data (a bench-started vbo-sim only)"
	case sys == "mesh" && sc != "overhead" && sc != "flat-sessions-events":
		return "Mesh (OpenAPI source, no joins by organisation name, no cross-server merge or global IDs) cannot express it"
	case sc == "flat-sessions-events" && sys != "gateway" && sys != "mesh" && sys != "direct-parallel":
		return "Mesh comparison scenario: gateway, mesh and direct-parallel only"
	case sc == "memory" && sys != "gateway":
		return "gateway-only check"
	case sc == "repeat-dashboard" && sys == "direct-sequential":
		return "no cache: identical to dashboard"
	}
	return ""
}

// runChild re-executes this binary (on the harness CPUs) for one pair and decodes its rows. The
// CPU sets go to the child resolved: pinned to the harness CPUs, it would count only those and
// resolve "auto" to no pinning, leaving the system under test on the harness's CPU.
func runChild(ctx context.Context, o *options, bins *binaries, sc, sys string) ([]row, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := append(slices.Clone(os.Args[1:]), "--child", sc+"/"+sys, "--gateway-bin", bins.gateway, "--sim-bin", bins.sim,
		"--system-cpus", orNone(o.systemCPUs), "--harness-cpus", orNone(o.harnessCPUs))
	cmd := pinned(ctx, o.harnessCPUs, exe, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("child %s/%s: %w", sc, sys, err)
	}
	var rows []row
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		return nil, fmt.Errorf("child %s/%s: bad output: %w", sc, sys, err)
	}
	return rows, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// orNone is a resolved CPU list as a flag value ("" is no pinning: "none").
func orNone(cpus string) string {
	if cpus == "" {
		return "none"
	}
	return cpus
}
