package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// modulePath is the module's import path.
const modulePath = "github.com/vbo-gateway/vbo-gateway"

// listedPackage is what the layering and documentation tests read of `go list -json`.
type listedPackage struct {
	ImportPath   string
	Dir          string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// rel is a module import path relative to the module root ("" for other paths).
func rel(importPath string) string {
	if importPath == modulePath {
		return "."
	}
	r, ok := strings.CutPrefix(importPath, modulePath+"/")
	if !ok {
		return ""
	}
	return r
}

// moduleRoot is the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := moduleRootOnce()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var moduleRootOnce = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: %q, %v", gomod, err)
	}
	return filepath.Dir(gomod), nil
})

// goList lists the module's packages (`go list -e -json ./...`), test imports included.
func goList(t *testing.T) []listedPackage {
	t.Helper()
	pkgs, err := goListOnce()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

var goListOnce = sync.OnceValues(func() ([]listedPackage, error) {
	root, err := moduleRootOnce()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("go list: %w\n%s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("go list: %w", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, errors.New("go list found no packages")
	}
	return pkgs, nil
})

// Layers, outermost first. A package may import module packages of its own layer or of a
// layer below it: cmd -> resolvers -> graph -> upstream.
var layers = []string{"cmd", "resolvers", "graph", "upstream"}

func layerOf(relPath string) int {
	for i, l := range layers {
		if relPath == l || strings.HasPrefix(relPath, l+"/") {
			return i
		}
	}
	return -1
}

// parentImports are the allowed imports of a package's own ancestor folder. Otherwise an
// outer package never sits inside the folder of the package it wraps (as resolvers/server once
// imported resolvers from below).
var parentImports = map[[2]string]string{
	{"upstream/vbosim", "upstream"}:                                    "the simulator speaks the client's wire types",
	{"cmd/internal/audit/store/storetest", "cmd/internal/audit/store"}: "the store's test helpers open stores, as net/http/httptest wraps net/http",
}

// Groups inside cmd/internal, and the groups each may import (its own group always). The edge
// (what a request meets) and the audit wing (watch -> remember -> tell) never import each other:
// app, the composition root, hands the edge the audit wing through interfaces declared in
// resolvers. ops (telemetry, metrics, health) and config are below both.
var groupImports = map[string][]string{
	"app":     {"config", "demo", "edge", "ops", "audit", "restore", "console"},
	"e2e":     {"app", "config", "demo", "edge", "ops", "audit", "restore", "console"},
	"console": {"config", "ops", "audit/store", "edge/clientaddr"}, // its own tables; its clients as the edge sees them
	"demo":    {"config", "edge/graphiql", "audit/webhooks"},
	"edge":    {"config", "ops"},
	"audit":   {"config", "ops"},
	// restore (the front door's log, downloads, policy) keeps its tables in the store; the
	// front door's reaper runs on the process's River client (audit/jobs).
	"restore": {"config", "ops", "audit/store", "audit/jobs"},
	"ops":     {"config"},
	"config":  {},
}

// groupOf is the cmd/internal group of a module-relative path ("" outside cmd/internal).
func groupOf(relPath string) string {
	r, ok := strings.CutPrefix(relPath, "cmd/internal/")
	if !ok {
		return ""
	}
	g, _, _ := strings.Cut(r, "/")
	return g
}

// groupViolation says why from may not import to across cmd/internal's groups ("" when it may).
func groupViolation(from, to string) string {
	gt := groupOf(to)
	if gt == "" {
		return ""
	}
	if gt == "e2e" {
		return "cmd/internal/e2e holds tests only: nothing imports it"
	}
	gf := groupOf(from)
	if gf == "" {
		if strings.HasPrefix(from, "cmd/") {
			return ""
		}
		return "cmd/internal/... is imported from cmd/ only"
	}
	if gf == gt {
		return ""
	}
	allowed, ok := groupImports[gf]
	if !ok {
		return "cmd/internal/" + gf + " is in no group of the layering test: add it to groupImports"
	}
	t, _ := strings.CutPrefix(to, "cmd/internal/")
	for _, a := range allowed {
		if t == a || strings.HasPrefix(t, a+"/") {
			return ""
		}
	}
	return "cmd/internal/" + gf + " may import only " + strings.Join(allowed, ", ") + " of cmd/internal (the edge and the audit wing meet only in app)"
}

// importViolation says why from may not import to ("" when it may).
func importViolation(from, to string) string {
	lf, lt := layerOf(from), layerOf(to)
	switch {
	case lf < 0:
		return "the package is in no layer (" + strings.Join(layers, ", ") + "): add it under one"
	case lt < 0:
		return "the imported package is in no layer"
	case lt < lf:
		return "upward import: " + layers[lf] + " is below " + layers[lt] + " (imports run " + strings.Join(layers, " -> ") + ")"
	case strings.HasPrefix(to, "cmd/internal/") && !strings.HasPrefix(from, "cmd/"):
		return "cmd/internal/... is imported from cmd/ only"
	case strings.HasPrefix(from, to+"/"):
		if _, ok := parentImports[[2]string{from, to}]; !ok {
			return "a package imports the package of a folder it sits in (an outer layer inside the folder it wraps)"
		}
	}
	return groupViolation(from, to)
}

// Imports run one way, cmd -> resolvers -> graph -> upstream, tests included: nothing under
// resolvers/, graph/ or upstream/ imports cmd/...; graph never imports resolvers; upstream
// imports neither; cmd/internal/... is imported from cmd/ only.
func TestImportDirection(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, p := range goList(t) {
		from := rel(p.ImportPath)
		if p.Error != nil {
			t.Errorf("%s: %s", from, p.Error.Err)
		}
		for kind, imports := range map[string][]string{"imports": p.Imports, "test imports": p.TestImports, "external test imports": p.XTestImports} {
			for _, imp := range imports {
				to := rel(imp)
				if to == "" || to == from {
					continue
				}
				checked++
				if why := importViolation(from, to); why != "" {
					t.Errorf("%s %s %s: %s", from, kind, to, why)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no import between the module's packages: the test checks nothing")
	}
}

// The rules themselves, on the edges the issue names.
func TestImportViolation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"cmd/internal/app", "resolvers", true},
		{"cmd/internal/app", "cmd/internal/edge/httpapi", true},
		{"cmd/vbo-gateway", "cmd/internal/app", true},
		{"resolvers", "graph", true},
		{"resolvers", "upstream", true},
		{"resolvers/loaders", "graph/gid", true},
		{"graph/model", "upstream", true},
		{"upstream/vbosim", "upstream", true},
		{"resolvers", "resolvers/loaders", true},

		{"resolvers", "cmd/internal/config", false},
		{"resolvers/loaders", "cmd/internal/ops/metrics", false},
		{"graph", "cmd/internal/app", false},
		{"upstream", "cmd/internal/config", false},
		{"graph", "resolvers", false},
		{"graph/model", "resolvers/auth", false},
		{"upstream", "graph/gid", false},
		{"upstream", "resolvers/loaders", false},
		{"resolvers/server", "resolvers", false},
		{"cmd/internal/app/sub", "cmd/internal/app", false},
		{"store", "upstream", false},
	}
	for _, tt := range tests {
		why := importViolation(tt.from, tt.to)
		if (why == "") != tt.ok {
			t.Errorf("%s -> %s: violation %q, want allowed=%v", tt.from, tt.to, why, tt.ok)
		}
	}
}
