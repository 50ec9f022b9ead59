// Command vbo-trimopenapi trims a Veeam Backup for Microsoft 365 OpenAPI document down to the
// operations the vbo-sim simulator serves (token, Organizations list+get, RestoreSessions
// list+get, restore session Events list+get, in v8 the /Events change feed, and the restore
// front door operations of vbosim.RestoreOperations: explore, stop, statistics, browse,
// search and the item actions) and the
// component schemas they reference
// transitively. The output is the fixture used by the simulator's contract tests.
//
// Regenerate (from the repository root):
//
//	go run ./cmd/vbo-trimopenapi -version v6 \
//	    -in /path/to/vb365_rest_v6.json -out testdata/openapi/vb365_rest_v6.trimmed.json
//	go run ./cmd/vbo-trimopenapi -version v8 \
//	    -in /path/to/vb365_rest_v8.json -out testdata/openapi/vb365_rest_v8.trimmed.json
//
// The source documents are the ones published by VBM365 servers, as copied in the public
// repository Cenvora/veeam-365 (openapi_schemas/, Apache-2.0).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// operations kept: path template (without version) -> methods.
var keep = map[string][]string{
	"/token":                                               {"post"},
	"/Organizations":                                       {"get"},
	"/Organizations/{organizationId}":                      {"get"},
	"/RestoreSessions":                                     {"get"},
	"/RestoreSessions/{restoreSessionId}":                  {"get"},
	"/RestoreSessions/{restoreSessionId}/Events":           {"get"},
	"/RestoreSessions/{restoreSessionId}/Events/{eventId}": {"get"},
}

// keepVersion adds operations that exist from one API version on: path template -> version ->
// methods. v8's change feed (GET /v8/Events) has no v6 counterpart.
var keepVersion = map[string]map[string][]string{
	"/Events": {"v8": {"get"}},
}

// operations returns the operations kept for version.
func operations(version string) map[string][]string {
	ops := make(map[string][]string, len(keep)+len(keepVersion))
	for tmpl, methods := range keep {
		ops[tmpl] = methods
	}
	for tmpl, byVersion := range keepVersion {
		if methods, ok := byVersion[version]; ok {
			ops[tmpl] = methods
		}
	}
	for tmpl, methods := range vbosim.RestoreOperations(version) {
		ops[tmpl] = append(ops[tmpl], methods...)
	}
	return ops
}

func main() {
	in := flag.String("in", "", "source OpenAPI JSON (vb365_rest_vN.json)")
	out := flag.String("out", "", "output file")
	version := flag.String("version", "", "API version prefix, e.g. v6")
	flag.Parse()
	if *in == "" || *out == "" || *version == "" {
		flag.Usage()
		os.Exit(2)
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	res, err := Trim(b, *version)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, res, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes)\n", *out, len(res))
}

// Trim returns the trimmed document, indented, with sorted keys.
func Trim(src []byte, version string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	newPaths := map[string]any{}
	for tmpl, methods := range operations(version) {
		full := "/" + version + tmpl
		var item map[string]any
		for k, v := range paths {
			if strings.EqualFold(k, full) {
				item, _ = v.(map[string]any)
				full = k
				break
			}
		}
		if item == nil {
			return nil, fmt.Errorf("path %s not found", full)
		}
		ni := map[string]any{}
		for k, v := range item {
			if k == "parameters" {
				ni[k] = v
			}
		}
		for _, m := range methods {
			op, ok := item[m]
			if !ok {
				return nil, fmt.Errorf("%s %s not found", m, full)
			}
			ni[m] = op
		}
		newPaths[full] = ni
	}
	comps, _ := doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	used := map[string]bool{}
	var queue []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				if s, ok := y.(string); ok && k == "$ref" {
					const pfx = "#/components/schemas/"
					if name, ok := strings.CutPrefix(s, pfx); ok && !used[name] {
						used[name] = true
						queue = append(queue, name)
					}
					continue
				}
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(newPaths)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		sc, ok := schemas[n]
		if !ok {
			return nil, fmt.Errorf("schema %s not found", n)
		}
		walk(sc)
	}
	newSchemas := map[string]any{}
	names := make([]string, 0, len(used))
	for n := range used {
		newSchemas[n] = schemas[n]
		names = append(names, n)
	}
	sort.Strings(names)
	newDoc := map[string]any{
		"openapi":    doc["openapi"],
		"servers":    doc["servers"],
		"security":   doc["security"],
		"paths":      newPaths,
		"components": map[string]any{"schemas": newSchemas, "securitySchemes": comps["securitySchemes"]},
	}
	info, _ := doc["info"].(map[string]any)
	ni := map[string]any{}
	for k, v := range info {
		ni[k] = v
	}
	note := fmt.Sprintf("Trimmed copy of the Veeam Backup for Microsoft 365 REST API OpenAPI document %s, "+
		"as copied in the public repository Cenvora/veeam-365 (openapi_schemas/vb365_rest_%s.json, Apache-2.0). "+
		"Trimmed by cmd/vbo-trimopenapi to the operations served by vbo-sim and the schemas they reference.",
		version, version)
	if d, ok := ni["description"].(string); ok && d != "" {
		note += "\n\nOriginal description: " + d
	}
	ni["description"] = note
	newDoc["info"] = ni
	newDoc["x-origin"] = map[string]any{
		"repository": "https://github.com/Cenvora/veeam-365",
		"path":       "openapi_schemas/vb365_rest_" + version + ".json",
		"license":    "Apache-2.0",
		"trimmedBy":  "go run ./cmd/vbo-trimopenapi",
		"schemas":    names,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(newDoc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
