// Package config reads and validates the gateway's YAML configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the HTTP listen address (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// HTTP bounds the gateway's HTTP server (connections, timeouts, trusted proxies); see http.go.
	HTTP HTTP `yaml:"http"`
	// CursorKey is the secret that seals pagination cursors (default: one drawn at start); see
	// cursors.go.
	CursorKey CursorKey `yaml:"cursorKey"`
	// Servers are the VBO servers behind the gateway, in display order.
	Servers []VBOServer `yaml:"servers"`
	// Introspection enables GraphQL introspection (default true). Like every query, it needs
	// credentials.
	Introspection *bool `yaml:"introspection"`
	// GraphiQL serves the GraphiQL page at / (default true). The page itself holds no data;
	// its queries need credentials like any other.
	GraphiQL *bool `yaml:"graphiql"`
	// Metrics serves Prometheus metrics at /metrics (default true): per-server health (circuit
	// breaker), upstream requests, retries, short-circuits, cache and request latency. They name
	// servers, never organisations or tenants.
	Metrics *bool `yaml:"metrics"`
	// Cache tunes the immutable-data cache and the listing TTL.
	Cache Cache `yaml:"cache"`
	// MaxConcurrencyPerServer bounds in-flight calls to each VBO server (default 8).
	MaxConcurrencyPerServer int `yaml:"maxConcurrencyPerServer"`
	// Limits bounds queries and callers (depth, query cost, body size, rate...); see limits.go.
	Limits Limits `yaml:"limits"`
	// Resilience tunes deadlines, retries and circuit breaking towards VBO; see limits.go.
	Resilience Resilience `yaml:"resilience"`
	// Auth configures authentication (JWT via JWKS, API keys); see auth.go.
	Auth Auth `yaml:"auth"`
	// Tenants binds customers to their organisations; see auth.go.
	Tenants []Tenant `yaml:"tenants"`
	// Webhooks configures trigger-rule deliveries; see webhooks.go.
	Webhooks Webhooks `yaml:"webhooks"`
	// Store is where the archive and the watcher's state live; see watch.go.
	Store Store `yaml:"store"`
	// Watch configures the restore watch (pollers, archive, subscriptions); see watch.go.
	Watch Watch `yaml:"watch"`
	// Reads selects VBO or the watch's archive for session reads; see reads.go.
	Reads Reads `yaml:"reads"`
	// LogLevel is debug, info, warn or error (default: --log-level, info). Reloaded on SIGHUP.
	LogLevel string `yaml:"logLevel"`
	// Runtime tunes the Go runtime (garbage collection) at start-up; see runtime.go.
	Runtime Runtime `yaml:"runtime"`
	// Email is how reports are sent by email (SMTP); see email.go.
	Email Email `yaml:"email"`
	// Restore configures the restore front door (off by default).
	Restore Restore `yaml:"restore"`
	// Console is the auditor's console at /console/ (sign-in, sessions); see console.go.
	Console Console `yaml:"console"`

	// file and lines place errors found after Load (Locate): the file and each key's line.
	file  string
	lines keyLines
}

// VBOServer is one VBO server behind the gateway.
type VBOServer struct {
	Name         string             `yaml:"name"`
	URL          string             `yaml:"url"`
	APIVersion   string             `yaml:"apiVersion"`
	Username     string             `yaml:"username"`
	PasswordEnv  string             `yaml:"passwordEnv"`
	PasswordFile string             `yaml:"passwordFile"`
	TLS          upstream.TLSConfig `yaml:"tls"`

	// password is resolved at load time (never from the file itself, never logged).
	password string
}

// Cache tunes caching.
type Cache struct {
	// MaxBytes bounds the immutable-data cache (default 256 MiB, 0 = default, -1 = off).
	MaxBytes int `yaml:"maxBytes"`
	// ListingTTL keeps organisation lists and session listings this long (default 5s, "-1s" = off).
	ListingTTL time.Duration `yaml:"listingTTL"`
}

// Defaults.
const (
	DefaultListen         = "127.0.0.1:8080"
	DefaultMaxConcurrency = 8
)

// Overrides are command-line settings that win over the file.
type Overrides struct {
	// AllowMissing is --allow-missing: unknown servers in tenants are accepted (organisations
	// always resolve in the background, so this no longer matters at start-up).
	AllowMissing bool
	// Servers, when set, replace the file's servers (which may then be absent): --demo with
	// --config runs the built-in simulators with the file's other settings.
	Servers []VBOServer
	// Tenants and APIKeys are added before the file's own (--demo's tenants and keys).
	Tenants []Tenant
	APIKeys []APIKey
}

// Load reads and validates a config file. Relative paths in it (passwordFile, tls.caFile,
// cursorKey.file, limits.persistedQueries.manifest, store.path) are relative to the file's
// directory; the default store path (./vbo-gateway.db) stays relative to the working directory.
func Load(path string, o ...Overrides) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dir := filepath.Dir(path)
	readFile := func(name string) ([]byte, error) { return os.ReadFile(relativeTo(dir, name)) }
	c, err := Parse(b, os.LookupEnv, readFile, o...)
	if err != nil {
		return nil, inFile(path, err)
	}
	c.file = path
	for i := range c.Servers {
		c.Servers[i].TLS.CAFile = relativeTo(dir, c.Servers[i].TLS.CAFile)
	}
	c.Limits.PersistedQueries.Manifest = relativeTo(dir, c.Limits.PersistedQueries.Manifest)
	if c.Store.Path != DefaultStorePath {
		c.Store.Path = relativeTo(dir, c.Store.Path)
	}
	return c, nil
}

// relativeTo resolves a relative, non-empty path against dir.
func relativeTo(dir, name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// Parse decodes YAML strictly (unknown keys are errors), resolves secrets with lookupEnv and
// readFile, applies defaults and validates. Its errors are *Error or Errors, placed at the line
// of the key they are about where the file has it (Load adds the file's name).
func Parse(b []byte, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error), o ...Overrides) (*Config, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlSyntax(err, b)
	}
	lines, errs := checkSchema(&doc, reflect.TypeFor[Config]())
	if len(errs) > 0 {
		return nil, errs
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlTypeErrors(err, lines) // what checkSchema did not foresee
	}
	c.lines = lines
	if err := c.validate(lookupEnv, readFile, o); err != nil {
		return nil, lines.locate(err)
	}
	return &c, nil
}

// validate applies the overrides and defaults and checks c.
func (c *Config) validate(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error), o []Overrides) error {
	var fixed []VBOServer
	for _, ov := range o {
		c.Auth.AllowMissing = c.Auth.AllowMissing || ov.AllowMissing
		if ov.Servers != nil {
			fixed = ov.Servers
		}
		c.Tenants = append(slices.Clone(ov.Tenants), c.Tenants...)
		c.Auth.APIKeys = append(slices.Clone(ov.APIKeys), c.Auth.APIKeys...)
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxConcurrencyPerServer == 0 {
		c.MaxConcurrencyPerServer = DefaultMaxConcurrency
	}
	if fixed != nil {
		if len(c.Servers) > 0 {
			return errors.New("servers are given on the command line (--demo): remove the servers section")
		}
		c.Servers = slices.Clone(fixed)
	}
	if len(c.Servers) == 0 {
		return errors.New("no servers configured")
	}
	seen := map[string]bool{}
	for i := range c.Servers {
		if fixed != nil {
			break // already resolved (in-process simulators)
		}
		s := &c.Servers[i]
		if err := s.validate(lookupEnv, readFile); err != nil {
			return fmt.Errorf("servers[%d] (%s): %w", i, s.Name, err)
		}
		if seen[s.Name] {
			return fmt.Errorf("servers[%d]: duplicate name %q", i, s.Name)
		}
		seen[s.Name] = true
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	c.Webhooks = c.Webhooks.WithDefaults()
	if err := c.Webhooks.Validate(); err != nil {
		return err
	}
	if err := c.HTTP.WithDefaults().Validate(c.Resilience.WithDefaults().RequestTimeout); err != nil {
		return err
	}
	if err := c.validateStore(lookupEnv); err != nil {
		return err
	}
	if err := c.Reads.WithDefaults().Validate(); err != nil {
		return err
	}
	c.Runtime = c.Runtime.WithDefaults()
	if err := c.Runtime.Validate(); err != nil {
		return err
	}
	if err := c.CursorKey.resolve(lookupEnv, readFile); err != nil {
		return err
	}
	c.Restore = c.Restore.WithDefaults()
	if err := c.Restore.Validate(c.Watch.Enabled); err != nil {
		return err
	}
	if err := c.validateRestoreActions(lookupEnv, readFile); err != nil {
		return err
	}
	if err := c.validateConsole(lookupEnv); err != nil {
		return err
	}
	return c.validateEmail(lookupEnv)
}

func (s *VBOServer) validate(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	if !gid.ValidServerName(s.Name) {
		return fmt.Errorf("name %q: use 1-64 letters, digits, '.', '_' or '-'", s.Name)
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("url %q: want https://host:4443 (http:// for a simulator or TLS offload)", s.URL)
	}
	switch s.APIVersion {
	case "":
		s.APIVersion = upstream.APIv6
	case upstream.APIv6, upstream.APIv7, upstream.APIv8:
	default:
		return fmt.Errorf("apiVersion %q: want v6, v7 or v8", s.APIVersion)
	}
	if s.Username == "" {
		return errors.New("username is required")
	}
	switch {
	case s.PasswordEnv != "" && s.PasswordFile != "":
		return errors.New("set passwordEnv or passwordFile, not both")
	case s.PasswordEnv != "":
		v, ok := lookupEnv(s.PasswordEnv)
		if !ok || v == "" {
			return fmt.Errorf("passwordEnv: environment variable %s is not set (or empty)", s.PasswordEnv)
		}
		s.password = v
	case s.PasswordFile != "":
		b, err := readFile(s.PasswordFile)
		if err != nil {
			return fmt.Errorf("passwordFile: %w", err)
		}
		s.password = strings.TrimRight(string(b), "\r\n")
	default:
		return errors.New("passwordEnv or passwordFile is required")
	}
	if s.TLS.FingerprintSHA256 != "" {
		if _, err := upstream.ParseFingerprint(s.TLS.FingerprintSHA256); err != nil {
			return err
		}
	}
	return nil
}

// WithPassword returns a copy of s using password (for in-process simulators).
func (s VBOServer) WithPassword(password string) VBOServer {
	s.password = password
	return s
}

// Password is the resolved password (from passwordEnv or passwordFile, or WithPassword).
func (s VBOServer) Password() string { return s.password }

// MetricsEnabled reports the metrics switch (default on).
func (c *Config) MetricsEnabled() bool { return c.Metrics == nil || *c.Metrics }

// GraphiQLEnabled reports the GraphiQL switch (default on).
func (c *Config) GraphiQLEnabled() bool { return c.GraphiQL == nil || *c.GraphiQL }

// IntrospectionEnabled reports the introspection switch (default on).
func (c *Config) IntrospectionEnabled() bool { return c.Introspection == nil || *c.Introspection }
