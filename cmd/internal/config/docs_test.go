package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docsRoot is the repository root, from this package's directory.
const docsRoot = "../../.."

// config.example.yaml turns the restore watch on with an embedded SQLite file beside it, so
// the restore audit export and the subscriptions work from the example as they do in --demo.
func TestExampleConfigEnablesTheWatchOnSQLite(t *testing.T) {
	c, err := Load(filepath.Join(docsRoot, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Watch.Enabled || c.Store.Driver != "sqlite" {
		t.Fatalf("watch %+v, store %+v: want the watch on with sqlite", c.Watch, c.Store)
	}
	if want := filepath.Join(docsRoot, "vbo-gateway.db"); c.Store.Path != want {
		t.Errorf("store.path = %q, want %q (beside the example)", c.Store.Path, want)
	}
	if err := c.Watch.WithDefaults().Validate(); err != nil {
		t.Error(err)
	}
}

// docFiles are the README and docs/*.md, with config.example.yaml: what a user reads.
func docFiles(t *testing.T) map[string]string {
	t.Helper()
	names := []string{"README.md", "config.example.yaml"}
	mds, err := filepath.Glob(filepath.Join(docsRoot, "docs", "*.md"))
	if err != nil || len(mds) == 0 {
		t.Fatalf("docs/*.md: %v (%d files)", err, len(mds))
	}
	for _, m := range mds {
		names = append(names, strings.TrimPrefix(m, docsRoot+string(filepath.Separator)))
	}
	out := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(docsRoot, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

var (
	gatewayVar = regexp.MustCompile(`\bVBO_GATEWAY_[A-Z0-9_]+\b`)
	// Config keys that name an environment variable, and the variable: "dsnEnv: X",
	// "passwordEnv: X", "cursorKey: {env: X}" (YAML block or flow style, in docs or the example).
	boundVar = regexp.MustCompile(`\b(dsnEnv|passwordEnv|env)\s*:\s*"?(VBO_GATEWAY_[A-Z0-9_]+)`)
	// A Go source reading a variable by its literal name.
	readVar = regexp.MustCompile(`(?:Getenv|LookupEnv)\("(VBO_GATEWAY_[A-Z0-9_]+)"\)`)
)

// Every VBO_GATEWAY_* name the README, docs and the example mention is one the gateway reads,
// under one name everywhere. The gateway reads no fixed VBO_GATEWAY_* variable of its own: it
// reads the variables its configuration names (store.dsnEnv, cursorKey.env, passwordEnv), and
// its hints suggest suggestedDSNEnv and suggestedCursorKeyEnv. So a name in the docs must be
// read by Go code by its literal name, or be the suggested name of its secret, or be a VBO
// password variable a passwordEnv in the docs binds; every dsnEnv and cursorKey env in the docs
// is the suggested name (VBO_GATEWAY_PG in one page and VBO_GATEWAY_PG_DSN in another was a
// user's first PostgreSQL start failing).
func TestDocsNameTheVariablesTheCodeReads(t *testing.T) {
	docs := docFiles(t)
	read := map[string]bool{suggestedDSNEnv: true, suggestedCursorKeyEnv: true}
	err := filepath.WalkDir(docsRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != docsRoot {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range readVar.FindAllStringSubmatch(string(b), -1) {
			read[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range docs {
		for _, m := range boundVar.FindAllStringSubmatch(text, -1) {
			key, v := m[1], m[2]
			switch key {
			case "dsnEnv":
				if v != suggestedDSNEnv {
					t.Errorf("%s: dsnEnv: %s, want %s (the name everywhere else)", name, v, suggestedDSNEnv)
				}
			case "env":
				if v != suggestedCursorKeyEnv {
					t.Errorf("%s: cursorKey env: %s, want %s", name, v, suggestedCursorKeyEnv)
				}
			case "passwordEnv":
				read[v] = true
			}
		}
	}
	var mentioned []string
	for name, text := range docs {
		for i, line := range strings.Split(text, "\n") {
			for _, v := range gatewayVar.FindAllString(line, -1) {
				mentioned = append(mentioned, v)
				if !read[v] {
					t.Errorf("%s:%d: %s is not a variable the gateway reads (known: %s)", name, i+1, v, strings.Join(sortedKeys(read), ", "))
				}
			}
		}
	}
	for _, v := range []string{suggestedDSNEnv, suggestedCursorKeyEnv} {
		if !slices.Contains(mentioned, v) {
			t.Errorf("no doc mentions %s, the variable the gateway's hints suggest", v)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The Kubernetes example's gateway.yaml (docs/deploy.md) is a valid configuration with the
// watch on PostgreSQL, its DSN and cursor key from the variables the Secret provides, and its
// Deployment runs two or more replicas with both probes.
func TestDeployDocKubernetesExample(t *testing.T) {
	doc := docFiles(t)["docs/deploy.md"]
	var manifests string
	for _, block := range strings.Split(doc, "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "kind: ConfigMap") {
			manifests = block
		}
	}
	if manifests == "" {
		t.Fatal("docs/deploy.md has no yaml block with a ConfigMap")
	}
	var gatewayYAML, deployment string
	for _, m := range strings.Split(manifests, "\n---\n") {
		var obj struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(m), &obj); err != nil {
			t.Fatalf("manifest does not parse: %v\n%s", err, m)
		}
		switch obj.Kind {
		case "ConfigMap":
			gatewayYAML = obj.Data["gateway.yaml"]
		case "Deployment":
			deployment = m
			if obj.Spec.Replicas < 2 {
				t.Errorf("Deployment replicas = %d, want 2 or more", obj.Spec.Replicas)
			}
		}
	}
	for _, w := range []string{"livenessProbe", "path: /healthz", "readinessProbe", "path: /readyz", "secretRef", "secretName"} {
		if !strings.Contains(deployment, w) {
			t.Errorf("the Deployment has no %q", w)
		}
	}
	for _, w := range []string{suggestedDSNEnv, suggestedCursorKeyEnv} {
		if !strings.Contains(manifests, w+": \"") {
			t.Errorf("no Secret holds %s", w)
		}
	}
	// The placeholder fingerprint stands for a real one.
	gatewayYAML = strings.Replace(gatewayYAML, `"AB:CD:..."`, strings.Repeat("ab", 32), 1)
	env := map[string]string{suggestedDSNEnv: "postgres://u:p@db/gw", suggestedCursorKeyEnv: strings.Repeat("k", 48)}
	c, err := Parse([]byte(gatewayYAML), func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		func(string) ([]byte, error) { return []byte("pw\n"), nil })
	if err != nil {
		t.Fatalf("the ConfigMap's gateway.yaml: %v\n%s", err, gatewayYAML)
	}
	if !c.Watch.Enabled || c.Store.Driver != "postgres" || c.Store.DSN() != env[suggestedDSNEnv] || len(c.CursorKey.Secret()) == 0 {
		t.Errorf("watch %+v, store %+v, cursor key set %v: want the watch on PostgreSQL with a cursor key", c.Watch, c.Store, len(c.CursorKey.Secret()) > 0)
	}
}
