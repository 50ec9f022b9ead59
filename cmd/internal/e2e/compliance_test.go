package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// overHTTPDir holds the pinned npm package of the ecosystem's reference implementations:
// audit.mjs runs the GraphQL-over-HTTP audit (graphql-http's auditServer) against a URL,
// subscriptions.mjs subscribes with graphql-ws and graphql-sse.
var overHTTPDir = filepath.Join("..", "..", "..", "testdata", "graphql-over-http")

// csrfGETAudits are the audits that send a GET without any custom header. The gateway refuses
// such requests on purpose (README, "CSRF and CORS"): a cross-site <img> or link could send
// them. With a preflight header they pass like every other audit.
var csrfGETAudits = []string{
	"5A70", // MAY accept application/x-www-form-urlencoded formatted GET requests
	"D6D5", // MAY allow URL-encoded JSON string {variables} parameter in GETs (graphql-response+json)
	"6A70", // MAY allow URL-encoded JSON string {variables} parameter in GETs (application/json)
}

type auditResult struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"` // ok, notice, warn, error
	Reason      string `json:"reason"`
	HTTPStatus  int    `json:"httpStatus"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
}

// TestGraphQLOverHTTPAudit runs graphql-http's reference audit (the 61 checks GraphQL Yoga,
// Hive and others use to claim GraphQL-over-HTTP compliance) against the demo gateway on
// loopback, as a provider admin. Every audit must pass when the client sends the CSRF preflight
// header; without it exactly the documented CSRF GET audits may fail, with HTTP 400.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	node := npmPackage(t, overHTTPDir, map[string]string{"graphql-http": "1.23.1"})

	fleet, err := demo.Start(demo.Options{Orgs: 3, Sessions: 30, Now: fixedNow})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(fleet.Close)
	gw, err := runGateway(t, t.Context(), fleet.Config, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewServer(gw.Handler) // 127.0.0.1
	t.Cleanup(srv.Close)
	url := srv.URL + "/graphql"
	admin := "Bearer " + demo.AdminKey

	t.Run("with the CSRF preflight header", func(t *testing.T) {
		results := runAudit(t, node, url, map[string]string{"Authorization": admin, "GraphQL-Preflight": "1"})
		for _, r := range results {
			if r.Status != "ok" {
				t.Errorf("%s", r)
			}
		}
		t.Logf("graphql-http 1.23.1 auditServer: %s", tally(results))
	})

	t.Run("without a preflight header", func(t *testing.T) {
		results := runAudit(t, node, url, map[string]string{"Authorization": admin})
		var refused []string
		for _, r := range results {
			switch {
			case r.Status == "ok":
			case slices.Contains(csrfGETAudits, r.ID) && r.HTTPStatus == 400 && strings.Contains(r.Body, "cross-site request forgery"):
				refused = append(refused, r.ID)
			default:
				t.Errorf("%s", r)
			}
		}
		if !slices.Equal(refused, csrfGETAudits) {
			t.Errorf("CSRF-refused GET audits = %v, want %v (README documents exactly these)", refused, csrfGETAudits)
		}
		t.Logf("graphql-http 1.23.1 auditServer, no preflight header: %s (CSRF refusals: %v)", tally(results), refused)
	})
}

func (r auditResult) String() string {
	return fmt.Sprintf("audit %s %s: %s: %s (HTTP %d, %s) %s", r.ID, r.Status, r.Name, r.Reason, r.HTTPStatus, r.ContentType, r.Body)
}

func tally(results []auditResult) string {
	n := map[string]int{}
	for _, r := range results {
		n[r.Status]++
	}
	return fmt.Sprintf("%d audits: %d ok, %d notice, %d warn, %d error", len(results), n["ok"], n["notice"], n["warn"], n["error"])
}

// runAudit runs audit.mjs against url, adding headers to every request.
func runAudit(t *testing.T, node, url string, headers map[string]string) []auditResult {
	t.Helper()
	h, _ := json.Marshal(headers)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "audit.mjs")
	cmd.Dir = overHTTPDir
	cmd.Env = append(os.Environ(), "GRAPHQL_URL="+url, "GRAPHQL_HEADERS="+string(h))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node audit.mjs: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Results []auditResult `json:"results"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("audit output: %v\n%s", err, out)
	}
	// graphql-http 1.23.1 has 61 server audits: fewer means the audit did not run as pinned.
	if len(doc.Results) != 61 {
		t.Fatalf("audit ran %d checks, want graphql-http 1.23.1's 61", len(doc.Results))
	}
	return doc.Results
}

// npmPackage makes sure the pinned npm package in dir is installed (`npm ci`, skipped when
// node_modules already matches the lockfile) and returns the path of node. It skips the test
// when node or npm is not installed, and fails it when package.json does not pin want.
// npmMu serialises npmPackage's check and npm ci in the shared node_modules.
var npmMu sync.Mutex

func npmPackage(t *testing.T, dir string, want map[string]string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("skipped: node is not installed (needed to run the npm reference clients in " + dir + ")")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("skipped: npm is not installed (needed to install the npm reference clients in " + dir + ")")
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join(dir, "package.json"), &pkg)
	for name, version := range want {
		if got := pkg.Dependencies[name]; got != version {
			t.Fatalf("%s/package.json pins %s %q, want exactly %q", dir, name, got, version)
		}
	}
	for _, script := range []string{"audit.mjs", "subscriptions.mjs"} {
		if _, err := os.ReadFile(filepath.Join(dir, script)); err != nil { // (read: go test's cache then depends on it)
			t.Fatal(err)
		}
	}
	// Parallel tests share dir: one checks and installs at a time.
	npmMu.Lock()
	defer npmMu.Unlock()
	if installedMatchesLock(t, dir) {
		return node
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return node
}

// installedMatchesLock reports whether node_modules holds exactly the packages of
// package-lock.json (npm records what it installed in node_modules/.package-lock.json).
func installedMatchesLock(t *testing.T, dir string) bool {
	t.Helper()
	type lock struct {
		Packages map[string]json.RawMessage `json:"packages"`
	}
	var want, got lock
	readJSON(t, filepath.Join(dir, "package-lock.json"), &want)
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil || json.Unmarshal(b, &got) != nil {
		return false
	}
	delete(want.Packages, "") // the root package itself
	if len(got.Packages) != len(want.Packages) {
		return false
	}
	for k, w := range want.Packages {
		var a, b bytes.Buffer
		if json.Compact(&a, w) != nil || json.Compact(&b, got.Packages[k]) != nil || a.String() != b.String() {
			return false
		}
	}
	return true
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// clientLine is one line subscriptions.mjs reports.
type clientLine struct {
	Transport string          `json:"transport"`
	Event     string          `json:"event"`
	Code      int             `json:"code"`
	Status    int             `json:"status"`
	Message   string          `json:"message"`
	Data      json.RawMessage `json:"data"`
	Errors    json.RawMessage `json:"errors"`
}

// TestSubscriptionReferenceClients subscribes to restoreSessionStarted with the reference
// clients, graphql-ws (graphql-transport-ws, credentials in connection_init) and graphql-sse
// (distinct connections mode, credentials in the headers), as demo tenant 1. Once both are
// connected, the simulators add a session of tenant 2's and then one of tenant 1's: each client
// receives tenant 1's (and not tenant 2's, added first), completes, and the socket closes
// normally (1000). A refused key closes the websocket with 4403 and answers SSE with 401.
func TestSubscriptionReferenceClients(t *testing.T) {
	t.Parallel()
	node := npmPackage(t, overHTTPDir, map[string]string{"graphql-ws": "6.4.2", "graphql-sse": "2.6.1"})
	fleet, gw := watchGateway(t, 10, nil)
	srv := httptest.NewServer(gw.Handler) // 127.0.0.1
	t.Cleanup(srv.Close)
	waitFor(t, 30*time.Second, func() bool { return backfilled(gw, 3) })
	since := time.Now().UTC()

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "subscriptions.mjs")
	cmd.Dir = overHTTPDir
	cmd.Env = append(os.Environ(), "GRAPHQL_URL="+srv.URL+"/graphql",
		"AUTHORIZATION=Bearer "+demo.TenantKeyPrefix+"1", "REFUSED=Bearer not-a-key",
		"SINCE="+since.Format(time.RFC3339Nano))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan clientLine)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Logf("client: %s", sc.Text())
			var l clientLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = clientLine{Event: "error", Message: "not a report line: " + sc.Text()}
			}
			lines <- l
		}
	}()

	// Tenant 1 has syd1's organisations 0 and 1 and mel1's 0; tenant 2 syd1's 2 and 3.
	syd1 := fleet.Sims["syd1"]
	var want string
	got := map[string]clientLine{} // transport + " " + event -> the line
	connected := 0
	for l := range lines {
		if l.Event == "error" {
			t.Errorf("%s: %s", l.Transport, l.Message)
		}
		got[l.Transport+" "+l.Event] = l
		if l.Event == "connected" {
			if connected++; connected == 2 { // both subscriptions open: the simulator adds sessions
				syd1.AddSession(upstream.RestoreSession{Organization: syd1.Organizations()[2].Name})
				time.Sleep(5 * time.Millisecond) // a later start time than tenant 2's
				want = syd1.AddSession(upstream.RestoreSession{Organization: syd1.Organizations()[0].Name}).ID
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node subscriptions.mjs: %v\n%s", err, stderr.String())
	}
	if _, ok := got[" done"]; !ok {
		t.Fatalf("subscriptions.mjs did not finish\n%s", stderr.String())
	}
	if want == "" {
		t.Fatalf("the clients never both connected (%d)", connected)
	}
	for _, tr := range []string{"ws", "sse"} {
		l, ok := got[tr+" next"]
		var d startedData
		switch {
		case !ok:
			t.Errorf("%s: no result", tr)
		case len(l.Errors) > 0 && string(l.Errors) != "null":
			t.Errorf("%s: errors %s", tr, l.Errors)
		case json.Unmarshal(l.Data, &d) != nil:
			t.Errorf("%s: data %s", tr, l.Data)
		case d.RestoreSessionStarted.UpstreamID != want || d.RestoreSessionStarted.Organization.Server.Name != "syd1":
			t.Errorf("%s: received %s, want tenant 1's new session syd1/%s", tr, l.Data, want)
		}
	}
	if l := got["ws closed"]; l.Code != 1000 {
		t.Errorf("ws: closed with %d after completing, want 1000 (normal closure)", l.Code)
	}
	if _, ok := got["sse complete"]; !ok {
		t.Error("sse: did not complete")
	}
	if l := got["ws-refused closed"]; l.Code != 4403 {
		t.Errorf("ws with a refused key: closed with %d (%s), want 4403 (forbidden)", l.Code, l.Message)
	}
	if l := got["sse-refused refused"]; l.Status != 401 {
		t.Errorf("sse with a refused key: HTTP %d (%s), want 401", l.Status, l.Message)
	}
}
