package config

import (
	"strings"
	"testing"
	"time"
)

// TestLimitsValidateMessages pins every refusal of Limits.Validate word for word (operators and
// tests read them), and which one wins when a section breaks two rules.
func TestLimitsValidateMessages(t *testing.T) {
	t.Parallel()
	one := 1
	for _, tc := range []struct {
		name   string
		mutate func(l *Limits)
		want   string // "" = valid
	}{
		{"defaults", func(*Limits) {}, ""},
		{"maxDepth", func(l *Limits) { l.MaxDepth = -1 }, "limits.maxDepth: must be positive (got -1)"},
		{"maxUpstreamCalls", func(l *Limits) { l.MaxUpstreamCalls = -2 }, "limits.maxUpstreamCalls: must be positive (got -2)"},
		{"maxResponseObjects", func(l *Limits) { l.MaxResponseObjects = -3 }, "limits.maxResponseObjects: must be positive (got -3)"},
		{"maxSelections", func(l *Limits) { l.MaxSelections = -4 }, "limits.maxSelections: must be positive (got -4)"},
		{"maxEventsCounted", func(l *Limits) { l.MaxEventsCounted = -5 }, "limits.maxEventsCounted: must be positive (got -5)"},
		{"maxAliases", func(l *Limits) { l.MaxAliases = -6 }, "limits.maxAliases: must be positive (got -6)"},
		{"maxDirectives", func(l *Limits) { l.MaxDirectives = -7 }, "limits.maxDirectives: must be positive (got -7)"},
		{"maxTokens", func(l *Limits) { l.MaxTokens = -8 }, "limits.maxTokens: must be positive (got -8)"},
		{"parserTokenLimit", func(l *Limits) { l.ParserTokenLimit = -9 }, "limits.parserTokenLimit: must be positive (got -9)"},
		{"maxBodyBytes", func(l *Limits) { l.MaxBodyBytes = -10 }, "limits.maxBodyBytes: must be positive (got -10)"},
		{"maxFirst negative", func(l *Limits) { l.MaxFirst = -11 }, "limits.maxFirst: must be positive (got -11)"},
		{"first of two non-positive", func(l *Limits) { l.MaxFirst, l.MaxDepth = -1, -2 }, "limits.maxDepth: must be positive (got -2)"},
		{"positivity before the rest", func(l *Limits) { l.MaxAliases, l.CostMode = -1, "x" }, "limits.maxAliases: must be positive (got -1)"},
		{"maxComplexity", func(l *Limits) { l.MaxComplexity = &one },
			`limits.maxComplexity was replaced by limits.maxUpstreamCalls and limits.maxResponseObjects (README, "Query cost"); remove it`},
		{"maxComplexity before costMode", func(l *Limits) { l.MaxComplexity, l.CostMode = &one, "x" },
			`limits.maxComplexity was replaced by limits.maxUpstreamCalls and limits.maxResponseObjects (README, "Query cost"); remove it`},
		{"costMode", func(l *Limits) { l.CostMode = "Enforce" }, `limits.costMode: "Enforce", want "enforce" or "measure"`},
		{"costMode measure", func(l *Limits) { l.CostMode = CostMeasure }, ""},
		{"unknown role", func(l *Limits) { l.Roles = map[string]RoleLimits{"TENANT_ADMIN": {}} },
			`limits.roles: unknown role "TENANT_ADMIN" (want PROVIDER_ADMIN or TENANT_AUDITOR)`},
		{"role calls negative", func(l *Limits) { l.Roles = map[string]RoleLimits{RoleTenantAuditor: {MaxUpstreamCalls: -1}} },
			"limits.roles.TENANT_AUDITOR: limits must be positive"},
		{"role objects negative", func(l *Limits) { l.Roles = map[string]RoleLimits{RoleProviderAdmin: {MaxResponseObjects: -1}} },
			"limits.roles.PROVIDER_ADMIN: limits must be positive"},
		{"role zero", func(l *Limits) { l.Roles = map[string]RoleLimits{RoleProviderAdmin: {}} }, ""},
		{"maxFirst over the ceiling", func(l *Limits) { l.MaxFirst = DefaultMaxFirst + 1 },
			"limits.maxFirst: at most 500 (the schema's page-size ceiling), got 501"},
		{"maxTokens over the parser's", func(l *Limits) { l.MaxTokens, l.ParserTokenLimit = 20, 10 },
			"limits.maxTokens (20) must not exceed limits.parserTokenLimit (10)"},
		{"concurrency perPrincipal 0", func(l *Limits) { l.Concurrency.PerPrincipal = 0 },
			"limits.concurrency: perPrincipal and maxQueued positive or -1, queueTimeout not negative (got {PerPrincipal:0 MaxQueued:32 QueueTimeout:2s})"},
		{"concurrency perPrincipal -2", func(l *Limits) { l.Concurrency.PerPrincipal = -2 },
			"limits.concurrency: perPrincipal and maxQueued positive or -1, queueTimeout not negative (got {PerPrincipal:-2 MaxQueued:32 QueueTimeout:2s})"},
		{"concurrency maxQueued -2", func(l *Limits) { l.Concurrency.MaxQueued = -2 },
			"limits.concurrency: perPrincipal and maxQueued positive or -1, queueTimeout not negative (got {PerPrincipal:8 MaxQueued:-2 QueueTimeout:2s})"},
		{"concurrency queueTimeout negative", func(l *Limits) { l.Concurrency.QueueTimeout = -time.Second },
			"limits.concurrency: perPrincipal and maxQueued positive or -1, queueTimeout not negative (got {PerPrincipal:8 MaxQueued:32 QueueTimeout:-1s})"},
		{"concurrency off", func(l *Limits) { l.Concurrency.PerPrincipal, l.Concurrency.MaxQueued = -1, -1 }, ""},
		{"subscriptions perPrincipal 0", func(l *Limits) { l.Subscriptions.PerPrincipal = 0 },
			"limits.subscriptions: perPrincipal and total positive or -1 (no bound), got perPrincipal 0, total 4096"},
		{"subscriptions perPrincipal -2", func(l *Limits) { l.Subscriptions.PerPrincipal = -2 },
			"limits.subscriptions: perPrincipal and total positive or -1 (no bound), got perPrincipal -2, total 4096"},
		{"subscriptions total 0", func(l *Limits) { l.Subscriptions.Total = 0 },
			"limits.subscriptions: perPrincipal and total positive or -1 (no bound), got perPrincipal 16, total 0"},
		{"subscriptions total -2", func(l *Limits) { l.Subscriptions.Total = -2 },
			"limits.subscriptions: perPrincipal and total positive or -1 (no bound), got perPrincipal 16, total -2"},
		{"rateLimit perSecond", func(l *Limits) { l.RateLimit.PerSecond = -0.5 }, "limits.rateLimit: perSecond and burst must not be negative"},
		{"rateLimit burst", func(l *Limits) { l.RateLimit.Burst = -1 }, "limits.rateLimit: perSecond and burst must not be negative"},
		{"cors origins", func(l *Limits) {
			l.CORSAllowedOrigins = []string{"https://portal.example.net", "http://localhost:3000/"}
		}, ""},
		{"cors scheme", func(l *Limits) { l.CORSAllowedOrigins = []string{"ftp://portal.example.net"} },
			`limits.corsAllowedOrigins: "ftp://portal.example.net" is not an origin like https://portal.example.net`},
		{"cors host", func(l *Limits) { l.CORSAllowedOrigins = []string{"https://"} },
			`limits.corsAllowedOrigins: "https://" is not an origin like https://portal.example.net`},
		{"cors path", func(l *Limits) {
			l.CORSAllowedOrigins = []string{"https://portal.example.net", "https://portal.example.net/app"}
		},
			`limits.corsAllowedOrigins: "https://portal.example.net/app" is not an origin like https://portal.example.net`},
		{"cors unparsable", func(l *Limits) { l.CORSAllowedOrigins = []string{"https://a b\x7f"} },
			"limits.corsAllowedOrigins: \"https://a b\\x7f\" is not an origin like https://portal.example.net"},
		{"persisted only without manifest", func(l *Limits) { l.PersistedQueries.Only = true }, "limits.persistedQueries.only needs a manifest"},
		{"persisted only with manifest", func(l *Limits) { l.PersistedQueries = PersistedQueries{Only: true, Manifest: "m.json"} }, ""},
		{"rules in order: cors before persisted", func(l *Limits) {
			l.PersistedQueries.Only, l.CORSAllowedOrigins = true, []string{"x"}
		}, `limits.corsAllowedOrigins: "x" is not an origin like https://portal.example.net`},
		{"rules in order: maxFirst before subscriptions", func(l *Limits) {
			l.MaxFirst, l.Subscriptions.Total = 501, -5
		}, "limits.maxFirst: at most 500 (the schema's page-size ceiling), got 501"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := Limits{}.WithDefaults()
			tc.mutate(&l)
			err := l.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("Validate() = %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestValidateAuthMessages pins every refusal of (*Config).validateAuth word for word, the
// order its rules are checked in, and the defaults it fills in.
func TestValidateAuthMessages(t *testing.T) {
	t.Parallel()
	hexA, hexB := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	base := func() *Config {
		return &Config{
			Servers: []VBOServer{{Name: "syd1"}, {Name: "mel1"}},
			Tenants: []Tenant{{ID: "t1", Organizations: []TenantOrg{{Server: "syd1", Name: "Contoso"}, {Server: "mel1", ID: "o-1"}}}},
			Auth: Auth{APIKeys: []APIKey{
				{Name: "ops", SHA256: hexA, Role: "PROVIDER_ADMIN"},
				{Name: "t1-siem", SHA256: hexB, Tenant: "t1"},
			}},
		}
	}
	jwt := func() *JWT { return &JWT{JWKSURL: "https://idp/jwks", Issuer: "https://idp/", Audience: "gw"} }
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		want   string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"tenant without id", func(c *Config) { c.Tenants = append(c.Tenants, Tenant{Name: "T"}) }, "tenants[1]: id is required"},
		{"tenant ids duplicate", func(c *Config) { c.Tenants = append(c.Tenants, Tenant{ID: "t1"}) }, `tenants[1]: duplicate id "t1"`},
		{"org on unknown server", func(c *Config) { c.Tenants[0].Organizations[1].Server = "akl1" },
			`tenants[0].organizations[1]: unknown server "akl1"`},
		{"org on unknown server, allowMissing", func(c *Config) {
			c.Tenants[0].Organizations[1].Server, c.Auth.AllowMissing = "akl1", true
		}, ""},
		{"org with both", func(c *Config) { c.Tenants[0].Organizations[0].ID = "o-2" },
			"tenants[0].organizations[0]: give exactly one of id or name"},
		{"org with neither", func(c *Config) { c.Tenants[0].Organizations[1].ID = "" },
			"tenants[0].organizations[1]: give exactly one of id or name"},
		{"org with neither, allowMissing", func(c *Config) {
			c.Tenants[0].Organizations[1] = TenantOrg{Server: "akl1"}
			c.Auth.AllowMissing = true
		}, "tenants[0].organizations[1]: give exactly one of id or name"},
		{"unknown server before id or name", func(c *Config) { c.Tenants[0].Organizations[1] = TenantOrg{Server: "akl1"} },
			`tenants[0].organizations[1]: unknown server "akl1"`},
		{"tenants before jwt", func(c *Config) { c.Tenants[0].ID, c.Auth.JWT = "", &JWT{} }, "tenants[0]: id is required"},
		{"jwt valid", func(c *Config) { c.Auth.JWT = jwt() }, ""},
		{"jwt http", func(c *Config) { c.Auth.JWT = jwt(); c.Auth.JWT.JWKSURL = "http://idp/jwks" }, ""},
		{"jwt without jwksURL", func(c *Config) { c.Auth.JWT = jwt(); c.Auth.JWT.JWKSURL = "" }, "auth.jwt.jwksURL must be an http(s) URL"},
		{"jwt jwksURL a file", func(c *Config) { c.Auth.JWT = jwt(); c.Auth.JWT.JWKSURL = "file:///etc/jwks.json" },
			"auth.jwt.jwksURL must be an http(s) URL"},
		{"jwt without issuer", func(c *Config) { c.Auth.JWT = jwt(); c.Auth.JWT.Issuer = "" }, "auth.jwt: issuer and audience are required"},
		{"jwt without audience", func(c *Config) { c.Auth.JWT = jwt(); c.Auth.JWT.Audience = "" }, "auth.jwt: issuer and audience are required"},
		{"jwt before keys", func(c *Config) { c.Auth.JWT = jwt(); c.Auth.JWT.Issuer = ""; c.Auth.APIKeys[0].Name = "" },
			"auth.jwt: issuer and audience are required"},
		{"key name missing", func(c *Config) { c.Auth.APIKeys[1].Name = "" }, "auth.apiKeys[1]: name missing or duplicate"},
		{"key names duplicate", func(c *Config) { c.Auth.APIKeys[1].Name = "ops" }, "auth.apiKeys[1]: name missing or duplicate"},
		{"sha256 not hex", func(c *Config) { c.Auth.APIKeys[0].SHA256 = strings.Repeat("zz", 32) },
			"auth.apiKeys[0] (ops): sha256 must be 64 hex digits (the SHA-256 of the key, never the key)"},
		{"sha256 too short", func(c *Config) { c.Auth.APIKeys[0].SHA256 = strings.Repeat("ab", 31) },
			"auth.apiKeys[0] (ops): sha256 must be 64 hex digits (the SHA-256 of the key, never the key)"},
		{"sha256 missing", func(c *Config) { c.Auth.APIKeys[1].SHA256 = "" },
			"auth.apiKeys[1] (t1-siem): sha256 must be 64 hex digits (the SHA-256 of the key, never the key)"},
		{"sha256 before role", func(c *Config) { c.Auth.APIKeys[0].SHA256, c.Auth.APIKeys[0].Role = "", "" },
			"auth.apiKeys[0] (ops): sha256 must be 64 hex digits (the SHA-256 of the key, never the key)"},
		{"key with unknown tenant", func(c *Config) { c.Auth.APIKeys[1].Tenant = "t2" }, `auth.apiKeys[1] (t1-siem): unknown tenant "t2"`},
		{"tenant key, admin role", func(c *Config) { c.Auth.APIKeys[1].Role = "TENANT_ADMIN" }, ""},
		{"tenant key, auditor role", func(c *Config) { c.Auth.APIKeys[1].Role = "TENANT_AUDITOR" }, ""},
		{"tenant key, provider role", func(c *Config) { c.Auth.APIKeys[1].Role = "PROVIDER_ADMIN" },
			"auth.apiKeys[1] (t1-siem): a key with a tenant has role TENANT_AUDITOR (default), TENANT_ADMIN or RESTORE_OPERATOR"},
		{"unknown tenant before role", func(c *Config) { c.Auth.APIKeys[1].Tenant, c.Auth.APIKeys[1].Role = "t2", "X" },
			`auth.apiKeys[1] (t1-siem): unknown tenant "t2"`},
		{"key without tenant or role", func(c *Config) { c.Auth.APIKeys[0].Role = "" },
			"auth.apiKeys[0] (ops): give a tenant, or role PROVIDER_ADMIN"},
		{"key without tenant, auditor", func(c *Config) { c.Auth.APIKeys[0].Role = "TENANT_AUDITOR" },
			"auth.apiKeys[0] (ops): give a tenant, or role PROVIDER_ADMIN"},
		{"key without tenant, lower case", func(c *Config) { c.Auth.APIKeys[0].Role = "provider_admin" },
			"auth.apiKeys[0] (ops): give a tenant, or role PROVIDER_ADMIN"},
		{"first bad key wins", func(c *Config) { c.Auth.APIKeys[0].Role, c.Auth.APIKeys[1].Name = "", "" },
			"auth.apiKeys[0] (ops): give a tenant, or role PROVIDER_ADMIN"},
		{"no tenants, no keys", func(c *Config) { c.Tenants, c.Auth.APIKeys = nil, nil }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := base()
			tc.mutate(c)
			err := c.validateAuth()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("validateAuth() = %v, want nil", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("validateAuth() = %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestValidateAuthDefaults: validateAuth fills in the JWT's clock skew and claims and the
// tenant refresh, keeps values given, and leaves a refused JWT as it was.
func TestValidateAuthDefaults(t *testing.T) {
	t.Parallel()
	base := func() *Config { return &Config{Servers: []VBOServer{{Name: "syd1"}}} }
	jwt := func() *JWT { return &JWT{JWKSURL: "https://idp/jwks", Issuer: "https://idp/", Audience: "gw"} }
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		c := base()
		c.Auth.JWT = jwt()
		if err := c.validateAuth(); err != nil {
			t.Fatal(err)
		}
		if j := *c.Auth.JWT; j.ClockSkew != 30*time.Second || j.TenantClaim != "tenant" || j.RoleClaim != "role" || c.Auth.TenantRefresh != 5*time.Minute {
			t.Fatalf("defaults: jwt %+v, tenantRefresh %s", j, c.Auth.TenantRefresh)
		}
		c = base()
		c.Auth.JWT = jwt()
		c.Auth.JWT.ClockSkew, c.Auth.JWT.TenantClaim, c.Auth.JWT.RoleClaim, c.Auth.TenantRefresh = time.Second, "org", "groups", time.Minute
		if err := c.validateAuth(); err != nil {
			t.Fatal(err)
		}
		if j := *c.Auth.JWT; j.ClockSkew != time.Second || j.TenantClaim != "org" || j.RoleClaim != "groups" || c.Auth.TenantRefresh != time.Minute {
			t.Fatalf("given values replaced: jwt %+v, tenantRefresh %s", j, c.Auth.TenantRefresh)
		}
	})
	t.Run("a refused jwt gets no defaults", func(t *testing.T) {
		t.Parallel()
		c := base()
		c.Auth.JWT = jwt()
		c.Auth.JWT.Audience = ""
		if err := c.validateAuth(); err == nil {
			t.Fatal("accepted")
		}
		if j := *c.Auth.JWT; j.ClockSkew != 0 || j.TenantClaim != "" || c.Auth.TenantRefresh != 0 {
			t.Fatalf("defaults filled in before the refusal: jwt %+v, tenantRefresh %s", j, c.Auth.TenantRefresh)
		}
	})
}
