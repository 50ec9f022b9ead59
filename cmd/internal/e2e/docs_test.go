package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// packagePaths lists the module's packages relative to the module root, as go list prints them.
func packagePaths(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range goList(t) {
		if r := rel(p.ImportPath); r != "" {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// section returns the text of a markdown document from the heading line `heading` to the next
// heading of the same or a higher level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	level := strings.Index(heading, " ")
	lines := strings.Split(doc, "\n")
	start := slices.Index(lines, heading)
	if start < 0 {
		t.Fatalf("no %q heading", heading)
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if n := strings.IndexFunc(lines[i], func(r rune) bool { return r != '#' }); n > 0 && n <= level && strings.HasPrefix(lines[i][n:], " ") {
			end = i
			break
		}
	}
	return strings.Join(lines[start+1:end], "\n")
}

// diff reports what one list has that the other lacks.
func diff(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: missing %s", what, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("%s: %s is not a package (go list ./...)", what, g)
		}
	}
}

func readDoc(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docs/architecture.md has one section per package, by path, and none for a package that is gone.
func TestArchitectureDocCoversEveryPackage(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	doc := readDoc(t, root, "docs/architecture.md")
	heading := regexp.MustCompile("(?m)^### `([^`]+)`$")
	var documented []string
	for _, m := range heading.FindAllStringSubmatch(section(t, doc, "## Packages"), -1) {
		documented = append(documented, m[1])
	}
	diff(t, "docs/architecture.md, ## Packages", documented, packagePaths(t))
}

// README's layout table has one row per package and otherwise only folders that are not
// packages; it links the architecture document.
func TestReadmeLayoutMatchesGoList(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	layout := section(t, readDoc(t, root, "README.md"), "## Layout")
	if !strings.Contains(layout, "(docs/architecture.md)") {
		t.Error("README's layout section does not link docs/architecture.md")
	}
	pkgs := packagePaths(t)
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")
	var rows []string
	for _, m := range row.FindAllStringSubmatch(layout, -1) {
		name := m[1]
		if folder, ok := strings.CutSuffix(name, "/"); ok && !slices.Contains(pkgs, folder) {
			if fi, err := os.Stat(filepath.Join(root, folder)); err != nil || !fi.IsDir() {
				t.Errorf("README layout: %s is neither a package nor a folder", name)
			}
			continue
		}
		rows = append(rows, name)
	}
	diff(t, "README layout table", rows, pkgs)
}
