package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The mesh system is Hive Gateway serving a supergraph that GraphQL Mesh composed from the
// simulator's OpenAPI document (testdata/openapi/vb365_rest_v6.trimmed.json). Its setup lives
// in cmd/vbo-bench/mesh: package.json + package-lock.json (pinned), mesh.config.ts and
// mesh.sh. The parent process installs (npm ci, once) and composes once with placeholders for
// the simulator's URL and token; each child substitutes them and starts the gateway with node.

const (
	meshURLPlaceholder   = "http://vbo-sim.invalid:9"
	meshTokenPlaceholder = "VBO_BENCH_TOKEN_PLACEHOLDER"
)

func meshSupergraph(o *options) string { return filepath.Join(o.meshDir, "supergraph.graphql") }

// meshAvailable reports why the mesh system cannot run (nil = it can).
func meshAvailable(o *options) error {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found in PATH (install Node.js >= 20 to compare with Mesh / Hive Gateway)", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(o.meshDir, "mesh.sh")); err != nil {
		return fmt.Errorf("no Mesh setup at %s (run from the repository root or pass --mesh-dir)", o.meshDir)
	}
	return nil
}

// meshPrepare installs the pinned packages (npm ci, offline-first) and composes the supergraph.
func meshPrepare(ctx context.Context, o *options) error {
	cmd := exec.CommandContext(ctx, "sh", "mesh.sh", "compose")
	cmd.Dir = o.meshDir
	cmd.Env = append(os.Environ(), "VBO_URL="+meshURLPlaceholder, "VBO_TOKEN="+meshTokenPlaceholder)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	logf(o, "mesh: installing (npm ci) and composing the supergraph ...")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mesh.sh compose: %v\n%s", err, tail(out.String(), 2000))
	}
	if _, err := os.Stat(meshSupergraph(o)); err != nil {
		return fmt.Errorf("mesh.sh compose produced no supergraph: %s", tail(out.String(), 2000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// meshProc is a running Hive Gateway.
type meshProc struct {
	p   *proc
	url string
	dir string
}

// startMesh starts Hive Gateway over the first simulator with a token of its own.
func (e *env) startMesh(ctx context.Context) (*meshProc, error) {
	s := e.sims[0]
	clients, err := e.directClients(0)
	if err != nil {
		return nil, err
	}
	tok, err := clients[0].Token(ctx)
	if err != nil {
		return nil, err
	}
	sg, err := os.ReadFile(meshSupergraph(e.o))
	if err != nil {
		return nil, err
	}
	sg = bytes.ReplaceAll(sg, []byte(meshURLPlaceholder), []byte(s.url))
	sg = bytes.ReplaceAll(sg, []byte(meshTokenPlaceholder), []byte(tok.AccessToken))
	dir, err := os.MkdirTemp("", "vbo-bench-mesh-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "supergraph.graphql"), sg, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &meshProc{url: fmt.Sprintf("http://127.0.0.1:%d/graphql", port), dir: dir}
	abs, _ := filepath.Abs(e.o.meshDir)
	// Pinned like the gateway (same CPU set); mesh.sh execs node, so the pid is node's.
	cmd := pinned(ctx, e.o.systemCPUs, "sh", filepath.Join(abs, "mesh.sh"), "serve", filepath.Join(dir, "supergraph.graphql"), fmt.Sprint(port))
	cmd.Dir = abs
	if m.p, err = startProc(cmd, nil); err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, m.p, fmt.Sprintf("http://127.0.0.1:%d/healthcheck", port), 60*time.Second); err != nil {
		m.stop()
		return nil, fmt.Errorf("hive-gateway: %w", err)
	}
	e.systemPID = m.pid
	return m, nil
}

// pid is the node process serving (mesh.sh execs node, so it is the script's pid).
func (m *meshProc) pid() int { return m.p.pid() }

func (m *meshProc) stop() {
	m.p.stop()
	_ = os.RemoveAll(m.dir)
}

// Mesh field names come from the OpenAPI operationIds.
const (
	meshQOverhead = `query Overhead($limit: Int!) { RestoreSession_GetPage(limit: $limit) { ... on PageOfRESTRestoreSession { offset limit
  results { id creationTime endTime type state result initiatedBy details } } } }`
	meshQList = `query List($limit: Int!) { RestoreSession_GetPage(limit: $limit) { ... on PageOfRESTRestoreSession {
  results { id creationTime type state result initiatedBy } } } }`
	meshEventsF = `e%d: RestoreSessionEvent_Get(restoreSessionId: %q, limit: 1000) { ... on PageOfRESTRestoreSessionEvent { results { type status itemName itemSizeBytes } } }`
)

func (e *env) meshScenario(ctx context.Context, sc string) ([]row, error) {
	m, err := e.startMesh(ctx)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	note := "RSS and CPU: the Hive Gateway node process"
	var rows []row
	switch sc {
	case "overhead":
		vars := map[string]any{"limit": e.o.overheadN}
		rows, err = e.overheadRows(ctx, func() error { return e.gql(ctx, m.url, meshQOverhead, vars, nil) }, e.o.concurrency,
			"Hive Gateway + Mesh-composed OpenAPI source; "+note, nil)
	case "flat-sessions-events":
		// Mesh has no relation from a session to its events in the OpenAPI document, so the
		// client asks twice: the page, then the events of each session (aliases).
		var s *sample
		s, err = iterate(ctx, e, nil, func() error {
			var res struct {
				Page struct {
					Results []struct {
						ID string `json:"id"`
					} `json:"results"`
				} `json:"RestoreSession_GetPage"`
			}
			if err := e.gql(ctx, m.url, meshQList, map[string]any{"limit": 10}, &res); err != nil {
				return err
			}
			if len(res.Page.Results) != 10 {
				return fmt.Errorf("mesh listed %d sessions, want 10", len(res.Page.Results))
			}
			var b strings.Builder
			b.WriteString("query Events {\n")
			for i, r := range res.Page.Results {
				fmt.Fprintf(&b, meshEventsF+"\n", i, r.ID)
			}
			b.WriteString("}")
			return e.gql(ctx, m.url, b.String(), nil, nil)
		})
		if err == nil {
			r := row{Mode: "steady", MinimumCalls: float64(e.flatMinimum()), Note: "two GraphQL requests (page, then aliased events); " + note,
				Extra: map[string]float64{"criticalPathMs": 2 * ms(e.o.latency)}}
			s.fill(&r)
			rows = []row{r}
		}
	default:
		err = errors.New("not expressible with Mesh here")
	}
	if err != nil {
		return nil, fmt.Errorf("%w (hive-gateway log: %s)", err, tail(m.p.output(), 800))
	}
	hwm := vmHWM(m.pid())
	for i := range rows {
		rows[i].PeakRssBytes = hwm
		if !strings.Contains(rows[i].Note, note) {
			rows[i].Note += "; " + note
		}
	}
	return rows, nil
}
