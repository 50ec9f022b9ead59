package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is a configuration error at a place in the file: Load's errors read
// "FILE:LINE: KEY.PATH: what is wrong; what to write instead".
type Error struct {
	// File is the configuration file (set by Load; empty from Parse).
	File string
	// Line is the 1-based line of the key (0: not known, e.g. a required key that is absent).
	Line int
	// Path is the key path, e.g. servers[0].passwordEnv (empty when Msg names it itself).
	Path string
	// Msg says what is wrong and, where it can, what to write instead.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are several configuration errors, one a line (every unknown key and malformed value
// of a file is reported at once).
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// inFile names file in err's configuration errors; other errors are prefixed with it.
func inFile(file string, err error) error {
	var es Errors
	var e *Error
	switch {
	case errors.As(err, &es):
		for _, e := range es {
			e.File = file
		}
		return es
	case errors.As(err, &e):
		e.File = file
		return e
	}
	return fmt.Errorf("%s: %w", file, err)
}

var durationType = reflect.TypeFor[time.Duration]()

// keyLines maps key paths (servers[0].url) to the line they are on.
type keyLines map[string]int

// leadingPath matches the key path a validation message starts with: "servers[1] (syd1): url
// ...", "watch.interval 5ms: ...", "limits.roles.PROVIDER_ADMIN: ...".
var leadingPath = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*)(?: \([^)]*\))?:? ?([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)?`)

// locate gives err (a validation error whose message starts with a key path, as every one in
// this package does) the line of the longest part of that path the file has: a required key
// that is absent points at its section, a default that conflicts with nothing in the file at
// no line.
func (kl keyLines) locate(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	m := leadingPath.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{Msg: err.Error()}
	}
	candidates := []string{m[1]}
	if m[2] != "" {
		candidates = []string{m[1] + "." + m[2], m[1]} // servers[0] (x): url ... -> servers[0].url
	}
	for _, p := range candidates {
		for ; p != ""; p = parentPath(p) {
			if line, ok := kl[p]; ok {
				return &Error{Line: line, Msg: err.Error()}
			}
		}
	}
	return &Error{Msg: err.Error()}
}

// Locate gives err the file's line when it is a configuration error naming a key path (as
// the limits and log level checks made after Load do), so callers report it like Load's own.
func (c *Config) Locate(err error) error {
	if err == nil || c == nil || c.lines == nil {
		return err
	}
	return inFile(c.file, c.lines.locate(err))
}

// parentPath drops the last element of a key path ("" at the top).
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// checkSchema walks the YAML document against the type it decodes into and reports, with their
// lines, the mistakes yaml's own errors explain badly: unknown keys (with the key meant), keys
// given twice, durations without a unit, values of the wrong kind. It also records every key's
// line for locate.
func checkSchema(doc *yaml.Node, t reflect.Type) (keyLines, Errors) {
	w := &walker{lines: keyLines{}}
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		w.node(doc.Content[0], t, "")
	}
	return w.lines, w.errs
}

type walker struct {
	lines keyLines
	errs  Errors
	depth int
}

func (w *walker) fail(n *yaml.Node, path, format string, args ...any) {
	w.errs = append(w.errs, &Error{Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *walker) node(n *yaml.Node, t reflect.Type, path string) {
	if w.depth > 64 { // aliases can nest a document into itself; yaml refuses that too
		return
	}
	w.depth++
	defer func() { w.depth-- }()
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // the zero value
	}
	switch {
	case t == durationType:
		w.duration(n, path)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(n, path, "want a section of keys (%s), got %s", strings.Join(fieldNames(t), ", "), describe(n))
			return
		}
		w.mapping(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(n, path, "want a list (one \"- item\" a line, or [a, b]), got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = item.Line
			w.node(item, t.Elem(), p)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(n, path, "want a section of keys, got %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			w.lines[p] = k.Line
			w.node(v, t.Elem(), p)
		}
	default:
		w.scalar(n, t, path)
	}
}

// mapping checks a section's keys against the struct t.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge") {
			w.merge(v, t, path)
			continue
		}
		p := join(path, k.Value)
		if line, ok := seen[k.Value]; ok {
			w.fail(k, p, "given twice (first at line %d): keep one", line)
			continue
		}
		seen[k.Value] = k.Line
		w.lines[p] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			w.fail(k, p, "%s", unknownKey(t, k.Value))
			continue
		}
		w.node(v, f, p)
	}
}

// merge checks a merge key's mapping (or list of mappings) as part of the section.
func (w *walker) merge(v *yaml.Node, t reflect.Type, path string) {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		w.mapping(v, t, path)
	case yaml.SequenceNode:
		for _, m := range v.Content {
			w.merge(m, t, path)
		}
	}
}

func (w *walker) duration(n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode {
		w.fail(n, path, "want a duration such as 15s, got %s", describe(n))
		return
	}
	if _, err := time.ParseDuration(n.Value); err == nil {
		return
	}
	w.fail(n, path, "%s", durationHint(n.Value))
}

// unitWords are the unit spellings people write, in Go's.
var unitWords = map[string]struct {
	unit string
	mult int
}{
	"": {"s", 1}, "ns": {"ns", 1}, "us": {"us", 1}, "µs": {"µs", 1}, "ms": {"ms", 1},
	"msec": {"ms", 1}, "millisecond": {"ms", 1}, "milliseconds": {"ms", 1},
	"s": {"s", 1}, "sec": {"s", 1}, "secs": {"s", 1}, "second": {"s", 1}, "seconds": {"s", 1},
	"m": {"m", 1}, "min": {"m", 1}, "mins": {"m", 1}, "minute": {"m", 1}, "minutes": {"m", 1},
	"h": {"h", 1}, "hr": {"h", 1}, "hrs": {"h", 1}, "hour": {"h", 1}, "hours": {"h", 1},
	"d": {"h", 24}, "day": {"h", 24}, "days": {"h", 24},
	"w": {"h", 168}, "week": {"h", 168}, "weeks": {"h", 168},
}

var durationWords = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-zµ]*)\s*$`)

// durationHint explains a value that is not a Go duration, with what to write where it can.
func durationHint(v string) string {
	const units = "a number with a unit: 500ms, 15s, 5m, 2h"
	if m := durationWords.FindStringSubmatch(v); m != nil {
		if u, ok := unitWords[strings.ToLower(m[2])]; ok {
			num := m[1]
			if u.mult != 1 {
				if f, err := strconv.ParseFloat(num, 64); err == nil {
					num = strconv.FormatFloat(f*float64(u.mult), 'f', -1, 64)
				}
			}
			if m[2] == "" {
				return fmt.Sprintf("%s is not a duration: write %s%s for %s seconds (%s)", v, num, u.unit, num, units)
			}
			return fmt.Sprintf("%q is not a duration: write %s%s (%s; Go durations have no days)", v, num, u.unit, units)
		}
	}
	return fmt.Sprintf("%q is not a duration: write %s", v, units)
}

func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.fail(n, path, "want a single value, got %s", describe(n))
		return
	}
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.Bool:
		if tag != "!!bool" {
			w.fail(n, path, "%q: want true or false", n.Value)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if tag != "!!int" {
			w.fail(n, path, "%q: want a whole number", n.Value)
		}
	case reflect.Float32, reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			w.fail(n, path, "%q: want a number", n.Value)
		}
	}
}

// describe names a node's kind for a message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section of keys"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// yamlFields maps a struct's YAML keys to their types (inline structs' keys included).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml's default
		}
		out[name] = f.Type
	}
	return out
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for name := range yamlFields(t) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// The environment variables this package's hints suggest for the secrets the file only names
// (store.dsnEnv, cursorKey.env). The gateway reads whichever variable the file names; the
// documentation uses these names, one per secret (TestDocsNameTheVariablesTheCodeReads).
const (
	suggestedDSNEnv       = "VBO_GATEWAY_PG_DSN"
	suggestedCursorKeyEnv = "VBO_GATEWAY_CURSOR_KEY"
)

// knownMistakes are keys people write that the gateway takes elsewhere or not at all, by the
// section they are written in.
var knownMistakes = map[reflect.Type]map[string]string{
	reflect.TypeFor[VBOServer](): {
		"password":           "the password never sits in this file: write passwordEnv: NAME (an environment variable holding it) or passwordFile: PATH (a file holding it)",
		"pass":               "the password never sits in this file: write passwordEnv: NAME (an environment variable holding it) or passwordFile: PATH (a file holding it)",
		"user":               "write username",
		"host":               "write url: https://HOST:4443",
		"address":            "write url: https://HOST:4443",
		"version":            "write apiVersion: v6, v7 or v8",
		"fingerprintSHA256":  "it belongs under tls: write tls: {fingerprintSHA256: ...}",
		"caFile":             "it belongs under tls: write tls: {caFile: ...}",
		"insecureSkipVerify": "it belongs under tls: write tls: {insecureSkipVerify: true}",
	},
	reflect.TypeFor[Store](): {
		"dsn":      "the DSN never sits in this file: put it in an environment variable and write dsnEnv: ITS_NAME (e.g. dsnEnv: " + suggestedDSNEnv + ")",
		"url":      "the DSN never sits in this file: put it in an environment variable and write dsnEnv: ITS_NAME (e.g. dsnEnv: " + suggestedDSNEnv + ")",
		"type":     "write driver: sqlite or driver: postgres",
		"file":     "write path: FILE (the SQLite file)",
		"enabled":  "the store is used when the watch is: write watch: {enabled: true}",
		"interval": "it belongs under watch: write watch: {interval: ...}",
	},
	reflect.TypeFor[Watch](): {
		"driver": "the store is its own section: write store: {driver: ...}",
		"path":   "the store is its own section: write store: {path: ...}",
		"dsnEnv": "the store is its own section: write store: {dsnEnv: ...}",
	},
	reflect.TypeFor[CursorKey](): {
		"secret": "the secret never sits in this file: write env: NAME (an environment variable holding it, e.g. " + suggestedCursorKeyEnv + ") or file: PATH",
		"key":    "the secret never sits in this file: write env: NAME (an environment variable holding it, e.g. " + suggestedCursorKeyEnv + ") or file: PATH",
		"value":  "the secret never sits in this file: write env: NAME (an environment variable holding it, e.g. " + suggestedCursorKeyEnv + ") or file: PATH",
	},
	reflect.TypeFor[APIKey](): {
		"key":  "the key itself never sits in this file: write sha256: its SHA-256 in hex (echo -n KEY | sha256sum)",
		"hash": "write sha256: the key's SHA-256 in hex (echo -n KEY | sha256sum)",
	},
	reflect.TypeFor[Tenant](): {
		"orgs": "write organizations",
	},
	reflect.TypeFor[Limits](): {
		"maxComplexity": "replaced by maxUpstreamCalls and maxResponseObjects (README, \"Query cost\")",
	},
}

// unknownKey explains a key the section t does not have: a known mistake, the key meant
// (edit distance, letter case, or a longer key it starts), the section it belongs to, or the
// keys there are.
func unknownKey(t reflect.Type, key string) string {
	if hint, ok := knownMistakes[t][key]; ok {
		return "unknown key; " + hint
	}
	names := fieldNames(t)
	if s := closest(key, names); len(s) > 0 {
		return fmt.Sprintf("unknown key; did you mean %s?", strings.Join(s, " or "))
	}
	if where := elsewhere(t, key); len(where) > 0 {
		return fmt.Sprintf("unknown key here; it belongs under %s", strings.Join(where, " or "))
	}
	return fmt.Sprintf("unknown key; the keys here are %s", strings.Join(names, ", "))
}

// closest returns the names nearest key: a different letter case, at most a few edits (one per
// four letters, at least one), or a name key is the start of (or that starts key).
func closest(key string, names []string) []string {
	lk := strings.ToLower(key)
	best, bestD := []string(nil), 1<<30
	limit := max(1, len(key)/4)
	for _, n := range names {
		ln := strings.ToLower(n)
		d := editDistance(lk, ln)
		if d > limit {
			if len(lk) >= 4 && (strings.HasPrefix(ln, lk) || strings.HasPrefix(lk, ln)) {
				d = limit // maxConcurrency -> maxConcurrencyPerServer
			} else {
				continue
			}
		}
		switch {
		case d < bestD:
			best, bestD = []string{n}, d
		case d == bestD:
			best = append(best, n)
		}
	}
	if len(best) > 2 {
		return nil // too ambiguous to help
	}
	return best
}

// elsewhere finds the sections under t (two levels down) that have key exactly: maxDepth at
// the top belongs under limits.
func elsewhere(t reflect.Type, key string) []string {
	var out []string
	var walk func(t reflect.Type, path string, depth int)
	walk = func(t reflect.Type, path string, depth int) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == durationType || depth > 2 {
			return
		}
		for _, name := range fieldNames(t) {
			ft := yamlFields(t)[name]
			p := join(path, name)
			if depth > 0 && name == key {
				out = append(out, path)
			}
			walk(ft, p, depth+1)
		}
	}
	walk(t, "", 0)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > 2 {
		return nil
	}
	return out
}

// editDistance is the optimal-string-alignment distance: insertions, deletions, substitutions
// and transpositions of neighbours each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// yamlSyntax turns yaml's parse error ("yaml: line 3: mapping values are not allowed in this
// context") into an Error at its line.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlSyntax(err error, src []byte) error {
	msg := err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if strings.Contains(text, "cannot start any token") && lineHasTab(src, line) {
		text += " (a tab: indent with spaces)"
	}
	return &Error{Line: line, Msg: "YAML: " + text}
}

func lineHasTab(src []byte, line int) bool {
	lines := strings.Split(string(src), "\n")
	return line >= 1 && line <= len(lines) && strings.Contains(lines[line-1], "\t")
}

// yamlTypeErrors turns the decoder's remaining errors ("line 7: cannot unmarshal ...") into
// Errors at their lines and keys.
func yamlTypeErrors(err error, kl keyLines) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return yamlSyntax(err, nil)
	}
	byLine := map[int]string{}
	for p, l := range kl {
		if q, ok := byLine[l]; !ok || len(p) > len(q) {
			byLine[l] = p
		}
	}
	var es Errors
	for _, s := range te.Errors {
		m := yamlLine.FindStringSubmatch(s)
		if m == nil {
			es = append(es, &Error{Msg: s})
			continue
		}
		line, _ := strconv.Atoi(m[1])
		es = append(es, &Error{Line: line, Path: byLine[line], Msg: m[2]})
	}
	return es
}
