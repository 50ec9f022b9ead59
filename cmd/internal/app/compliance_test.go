package app_test

import (
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
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// overHTTPDir holds the pinned npm package that runs the GraphQL-over-HTTP reference audit
// (graphql-http's auditServer) against a URL: package.json, package-lock.json, audit.mjs.
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
	node := npmPackage(t, overHTTPDir, map[string]string{"graphql-http": "1.23.1"})

	fleet, err := demo.Start(demo.Options{Orgs: 3, Sessions: 30, Now: fixedNow})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(fleet.Close)
	gw, err := app.New(t.Context(), fleet.Config, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	if _, err := os.ReadFile(filepath.Join(dir, "audit.mjs")); err != nil { // (read: go test's cache then depends on it)
		t.Fatal(err)
	}
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
