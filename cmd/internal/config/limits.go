package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// Limits bounds queries and callers. Zero values take the defaults (see WithDefaults).
type Limits struct {
	// MaxDepth bounds selection-set nesting, fragments expanded (default 12).
	MaxDepth int `yaml:"maxDepth"`
	// MaxUpstreamCalls bounds the VBO calls an operation is estimated to make before it runs
	// (default 2,500; tenants 500, see Roles). See README "Query cost".
	MaxUpstreamCalls int `yaml:"maxUpstreamCalls"`
	// MaxResponseObjects bounds the objects an operation's response is estimated to hold
	// (default 250,000; tenants 50,000).
	MaxResponseObjects int `yaml:"maxResponseObjects"`
	// CostMode is "enforce" (default: refuse an operation over maxUpstreamCalls or
	// maxResponseObjects) or "measure" (log and report it in extensions.cost, never refuse).
	CostMode string `yaml:"costMode"`
	// Roles overrides maxUpstreamCalls and maxResponseObjects per caller role
	// (PROVIDER_ADMIN, TENANT_AUDITOR). TENANT_AUDITOR defaults to 500 calls and 50,000
	// objects; a role not listed gets the values above.
	Roles map[string]RoleLimits `yaml:"roles"`
	// MaxSelections bounds the field selections and fragment spreads of the query once
	// fragments are expanded (and of each fragment on its own), checked before validation
	// (default 500). It refuses fragment fan-outs and floods of repeated fields, and keeps
	// validation fast (gqlparser compares repeated fields and fragments pairwise).
	MaxSelections int `yaml:"maxSelections"`
	// MaxComplexity is gone (replaced by MaxUpstreamCalls and MaxResponseObjects); setting it
	// is an error that says so.
	MaxComplexity *int `yaml:"maxComplexity"`
	// MaxAliases bounds aliased fields, fragments expanded (default 30).
	MaxAliases int `yaml:"maxAliases"`
	// MaxDirectives bounds directive uses, fragments expanded (default 50).
	MaxDirectives int `yaml:"maxDirectives"`
	// MaxTokens bounds the lexical tokens of the query text (default 5000).
	MaxTokens int `yaml:"maxTokens"`
	// ParserTokenLimit is the parser's own hard stop (default 15000, as Apollo Router).
	ParserTokenLimit int `yaml:"parserTokenLimit"`
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxFirst bounds every connection's `first` argument (default and ceiling 500).
	MaxFirst int `yaml:"maxFirst"`
	// RateLimit is the per-principal token bucket (off unless perSecond > 0).
	RateLimit RateLimit `yaml:"rateLimit"`
	// MaxEventsCounted is how many of a session's events are read to answer
	// RestoreEventConnection.totalCount (default 10,000: one upstream call); beyond it
	// totalCount is null. Each 10,000 more cost one more call per session.
	MaxEventsCounted int `yaml:"maxEventsCounted"`
	// MaxSessionsScanned bounds the restore sessions one request reads from one server's listing
	// in one walk (default 20,000; -1: no bound). A walk that reaches it ends its page early
	// with hasNextPage and a cursor that continues from there.
	MaxSessionsScanned int `yaml:"maxSessionsScanned"`
	// AuthFailures throttles failed authentication per client address (guessing API keys or
	// tokens): default 30 a minute with a burst of 30; perMinute -1 disables. Valid credentials
	// are never throttled.
	AuthFailures AuthFailures `yaml:"authFailures"`
	// Concurrency bounds the requests one principal runs at once (default 8, 32 more queued
	// for up to 2s, then 429 RATE_LIMITED with Retry-After).
	Concurrency Concurrency `yaml:"concurrency"`
	// Subscriptions bounds the subscriptions open at once in one gateway process, per
	// principal (default 16) and in all (default 4096); one over is refused RATE_LIMITED.
	Subscriptions Subscriptions `yaml:"subscriptions"`
	// CORSAllowedOrigins are the browser origins allowed to call /graphql cross-origin
	// (exact "https://portal.example.net"; default none).
	CORSAllowedOrigins []string `yaml:"corsAllowedOrigins"`
	// CSRFUnsafeDisabled turns off the preflight-header requirement for GET and "simple"
	// content types. Don't.
	CSRFUnsafeDisabled bool `yaml:"csrfUnsafeDisabled"`
	// PersistedQueries configures the operation safelist for partner integrations.
	PersistedQueries PersistedQueries `yaml:"persistedQueries"`
}

// RoleLimits are the cost limits of one caller role (zero: the top-level value).
type RoleLimits struct {
	MaxUpstreamCalls   int `yaml:"maxUpstreamCalls"`
	MaxResponseObjects int `yaml:"maxResponseObjects"`
}

// Cost modes.
const (
	CostEnforce = "enforce"
	CostMeasure = "measure"
)

// Caller roles, as Roles keys (the values of auth.Role).
const (
	RoleProviderAdmin = "PROVIDER_ADMIN"
	RoleTenantAuditor = "TENANT_AUDITOR"
)

// CostLimits returns the cost limits of a role (after WithDefaults).
func (l Limits) CostLimits(role string) RoleLimits {
	r := l.Roles[role]
	defInt(&r.MaxUpstreamCalls, l.MaxUpstreamCalls)
	defInt(&r.MaxResponseObjects, l.MaxResponseObjects)
	return r
}

// RateLimit is a token bucket per principal (authenticated subject, else remote IP).
type RateLimit struct {
	// PerSecond is the sustained request rate; 0 disables rate limiting.
	PerSecond float64 `yaml:"perSecond"`
	// Burst is the bucket size (default 2 × PerSecond, at least 1).
	Burst int `yaml:"burst"`
}

// AuthFailures is a token bucket of failed authentications per client address (an IPv6 client
// by its /64; behind http.trustedProxies, the address X-Forwarded-For names). A failure over
// the budget is answered 429 after Delay.
type AuthFailures struct {
	PerMinute float64 `yaml:"perMinute"`
	Burst     int     `yaml:"burst"`
	// Delay slows each failure over the budget before it is answered (default 1s; -1s: none).
	Delay time.Duration `yaml:"delay"`
}

// Concurrency bounds one principal's requests in flight.
type Concurrency struct {
	// PerPrincipal is how many requests of one principal run at once (default 8; -1: no bound).
	PerPrincipal int `yaml:"perPrincipal"`
	// MaxQueued is how many more may wait for a slot (default 32; -1: none wait); a request
	// beyond that is refused at once.
	MaxQueued int `yaml:"maxQueued"`
	// QueueTimeout is the longest wait for a slot (default 2s).
	QueueTimeout time.Duration `yaml:"queueTimeout"`
}

// Subscriptions bounds the subscriptions (SSE streams and websocket operations) open at once in
// one gateway process. They skip the request deadline and the concurrency limit, so without
// these bounds one caller could hold any number of streams (goroutines, feed registrations,
// memory) open for as long as it likes.
type Subscriptions struct {
	// PerPrincipal is how many one principal may hold open (default 16; -1: no bound).
	PerPrincipal int `yaml:"perPrincipal"`
	// Total is how many all callers together may hold open (default 4096; -1: no bound).
	Total int `yaml:"total"`
}

// PersistedQueries: a manifest of allowed operations and whether only those may run.
type PersistedQueries struct {
	// Manifest is a JSON file: either {"<sha256 hex>": "<query>", ...} or Apollo's
	// {"operations": [{"id": "<sha256 hex>", "body": "<query>"}, ...]}.
	Manifest string `yaml:"manifest"`
	// Only rejects every operation that is not in the manifest (persisted-only mode).
	Only bool `yaml:"only"`
}

// Resilience tunes deadlines, retries and circuit breaking. Zero values take the defaults.
type Resilience struct {
	// RequestTimeout is the whole GraphQL request's deadline, propagated to every upstream
	// call (default 15s).
	RequestTimeout time.Duration `yaml:"requestTimeout"`
	// ConnectTimeout bounds TCP connect + TLS handshake to a VBO server (default 5s).
	ConnectTimeout time.Duration `yaml:"connectTimeout"`
	// ResponseTimeout bounds each attempt at a VBO server, from sending the request to the last
	// byte of the body (default 10s, or 2/3 of requestTimeout if that is shorter; must be below
	// requestTimeout so one slow or stalled server leaves time for the others' nested fields).
	ResponseTimeout time.Duration `yaml:"responseTimeout"`
	// ResponseIdleTimeout fails an attempt whose response body sends no byte for this long
	// (default 5s, at most responseTimeout).
	ResponseIdleTimeout time.Duration `yaml:"responseIdleTimeout"`
	// RetryAttempts is the total attempts of an idempotent call, first included (default 3; 1 = no retries).
	RetryAttempts int `yaml:"retryAttempts"`
	// RetryBaseDelay and RetryMaxDelay bound the full-jitter backoff (defaults 100ms, 2s).
	RetryBaseDelay time.Duration `yaml:"retryBaseDelay"`
	RetryMaxDelay  time.Duration `yaml:"retryMaxDelay"`
	// RetryMaxRetryAfter is the longest Retry-After honoured (default 10s); longer fails at once.
	RetryMaxRetryAfter time.Duration `yaml:"retryMaxRetryAfter"`
	// BreakerFailures is the consecutive failures that open a server's breaker (default 5; -1 disables).
	BreakerFailures int `yaml:"breakerFailures"`
	// BreakerCooldown is how long an open breaker waits before one probe (default 30s).
	BreakerCooldown time.Duration `yaml:"breakerCooldown"`
}

// Defaults of Limits and Resilience.
const (
	DefaultMaxDepth              = 12
	DefaultMaxUpstreamCalls      = 2500
	DefaultMaxResponseObjects    = 250_000
	DefaultTenantUpstreamCalls   = 500
	DefaultTenantResponseObjects = 50_000
	DefaultMaxSelections         = 500
	DefaultMaxEventsCounted      = 10_000
	DefaultMaxAliases            = 30
	DefaultMaxDirectives         = 50
	DefaultMaxTokens             = 5000
	DefaultParserTokenLimit      = 15000
	DefaultMaxBodyBytes          = 1 << 20
	DefaultMaxFirst              = model.MaxFirst
	DefaultAuthFailureDelay      = time.Second
	DefaultPerPrincipal          = 8
	DefaultMaxQueued             = 32
	DefaultQueueTimeout          = 2 * time.Second
	DefaultRequestTimeout        = 15 * time.Second
	DefaultConnectTimeout        = 5 * time.Second
	DefaultResponseTimeout       = 10 * time.Second
	DefaultResponseIdle          = 5 * time.Second
	DefaultRetryAttempts         = 3
	DefaultRetryBaseDelay        = 100 * time.Millisecond
	DefaultRetryMaxDelay         = 2 * time.Second
	DefaultRetryMaxRetryAfter    = 10 * time.Second
	DefaultBreakerFailures       = 5
	DefaultBreakerCooldown       = 30 * time.Second
)

// Defaults of Limits.Subscriptions.
const (
	DefaultSubscriptionsPerPrincipal = 16
	DefaultSubscriptionsTotal        = 4096
)

func defInt[T int | int64](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

func defDur(v *time.Duration, d time.Duration) {
	if *v == 0 {
		*v = d
	}
}

// WithDefaults returns l with zero values replaced by the defaults.
func (l Limits) WithDefaults() Limits {
	defInt(&l.MaxDepth, DefaultMaxDepth)
	defInt(&l.MaxUpstreamCalls, DefaultMaxUpstreamCalls)
	defInt(&l.MaxResponseObjects, DefaultMaxResponseObjects)
	if l.CostMode == "" {
		l.CostMode = CostEnforce
	}
	tenant := l.Roles[RoleTenantAuditor]
	defInt(&tenant.MaxUpstreamCalls, DefaultTenantUpstreamCalls)
	defInt(&tenant.MaxResponseObjects, DefaultTenantResponseObjects)
	roles := map[string]RoleLimits{RoleTenantAuditor: tenant}
	for k, v := range l.Roles {
		if k != RoleTenantAuditor {
			roles[k] = v
		}
	}
	l.Roles = roles
	defInt(&l.MaxSelections, DefaultMaxSelections)
	defInt(&l.MaxEventsCounted, DefaultMaxEventsCounted)
	defInt(&l.MaxAliases, DefaultMaxAliases)
	defInt(&l.MaxDirectives, DefaultMaxDirectives)
	defInt(&l.MaxTokens, DefaultMaxTokens)
	defInt(&l.ParserTokenLimit, DefaultParserTokenLimit)
	defInt(&l.MaxBodyBytes, DefaultMaxBodyBytes)
	defInt(&l.MaxFirst, DefaultMaxFirst)
	if l.AuthFailures.PerMinute == 0 {
		l.AuthFailures.PerMinute = 30
	}
	if l.AuthFailures.PerMinute > 0 && l.AuthFailures.Burst == 0 {
		l.AuthFailures.Burst = max(1, int(l.AuthFailures.PerMinute))
	}
	defDur(&l.AuthFailures.Delay, DefaultAuthFailureDelay)
	defInt(&l.Concurrency.PerPrincipal, DefaultPerPrincipal)
	defInt(&l.Concurrency.MaxQueued, DefaultMaxQueued)
	defDur(&l.Concurrency.QueueTimeout, DefaultQueueTimeout)
	defInt(&l.Subscriptions.PerPrincipal, DefaultSubscriptionsPerPrincipal)
	defInt(&l.Subscriptions.Total, DefaultSubscriptionsTotal)
	if l.RateLimit.PerSecond > 0 && l.RateLimit.Burst == 0 {
		l.RateLimit.Burst = max(1, int(2*l.RateLimit.PerSecond))
	}
	return l
}

// Validate checks l (after WithDefaults). The rules are checked in this order and the first
// broken one is reported.
func (l Limits) Validate() error {
	for _, check := range []func() error{
		l.validatePositive, l.validateCost, l.validateBounds, l.validateCORS,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	if l.PersistedQueries.Only && l.PersistedQueries.Manifest == "" {
		return errors.New("limits.persistedQueries.only needs a manifest")
	}
	return nil
}

// validatePositive checks that every bound WithDefaults fills in is at least 1.
func (l Limits) validatePositive() error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"maxDepth", int64(l.MaxDepth)}, {"maxUpstreamCalls", int64(l.MaxUpstreamCalls)},
		{"maxResponseObjects", int64(l.MaxResponseObjects)}, {"maxSelections", int64(l.MaxSelections)}, {"maxEventsCounted", int64(l.MaxEventsCounted)}, {"maxAliases", int64(l.MaxAliases)},
		{"maxDirectives", int64(l.MaxDirectives)}, {"maxTokens", int64(l.MaxTokens)},
		{"parserTokenLimit", int64(l.ParserTokenLimit)}, {"maxBodyBytes", l.MaxBodyBytes}, {"maxFirst", int64(l.MaxFirst)}} {
		if f.v < 1 { // zero never survives WithDefaults
			return fmt.Errorf("limits.%s: must be positive (got %d)", f.name, f.v)
		}
	}
	return nil
}

// validateCost checks the query-cost settings: no maxComplexity, a known costMode, and
// per-role overrides for known roles only, none negative.
func (l Limits) validateCost() error {
	if l.MaxComplexity != nil {
		return errors.New("limits.maxComplexity was replaced by limits.maxUpstreamCalls and limits.maxResponseObjects (README, \"Query cost\"); remove it")
	}
	if l.CostMode != CostEnforce && l.CostMode != CostMeasure {
		return fmt.Errorf("limits.costMode: %q, want %q or %q", l.CostMode, CostEnforce, CostMeasure)
	}
	for role, r := range l.Roles {
		if role != RoleProviderAdmin && role != RoleTenantAuditor {
			return fmt.Errorf("limits.roles: unknown role %q (want %s or %s)", role, RoleProviderAdmin, RoleTenantAuditor)
		}
		if r.MaxUpstreamCalls < 0 || r.MaxResponseObjects < 0 {
			return fmt.Errorf("limits.roles.%s: limits must be positive", role)
		}
	}
	return nil
}

// validateBounds checks the ceilings and the per-principal bounds: maxFirst within the
// schema's, maxTokens within the parser's, concurrency and subscriptions positive or -1, the
// rate limit not negative.
func (l Limits) validateBounds() error {
	if l.MaxFirst > DefaultMaxFirst {
		return fmt.Errorf("limits.maxFirst: at most %d (the schema's page-size ceiling), got %d", DefaultMaxFirst, l.MaxFirst)
	}
	if l.MaxTokens > l.ParserTokenLimit {
		return fmt.Errorf("limits.maxTokens (%d) must not exceed limits.parserTokenLimit (%d)", l.MaxTokens, l.ParserTokenLimit)
	}
	if c := l.Concurrency; !positiveOrUnbounded(c.PerPrincipal) || c.MaxQueued < -1 || c.QueueTimeout < 0 {
		return fmt.Errorf("limits.concurrency: perPrincipal and maxQueued positive or -1, queueTimeout not negative (got %+v)", c)
	}
	if s := l.Subscriptions; !positiveOrUnbounded(s.PerPrincipal) || !positiveOrUnbounded(s.Total) {
		return fmt.Errorf("limits.subscriptions: perPrincipal and total positive or -1 (no bound), got perPrincipal %d, total %d", s.PerPrincipal, s.Total)
	}
	if l.RateLimit.PerSecond < 0 || l.RateLimit.Burst < 0 {
		return errors.New("limits.rateLimit: perSecond and burst must not be negative")
	}
	return nil
}

// positiveOrUnbounded reports whether n is a bound (at least 1) or -1 (no bound).
func positiveOrUnbounded(n int) bool { return n >= 1 || n == -1 }

// validateCORS checks that every allowed origin is an http(s) origin: scheme and host, no path.
func (l Limits) validateCORS() error {
	for _, o := range l.CORSAllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("limits.corsAllowedOrigins: %q is not an origin like https://portal.example.net", o)
		}
	}
	return nil
}

// WithDefaults returns r with zero values replaced by the defaults.
func (r Resilience) WithDefaults() Resilience {
	defDur(&r.RequestTimeout, DefaultRequestTimeout)
	defDur(&r.ConnectTimeout, DefaultConnectTimeout)
	defDur(&r.ResponseTimeout, min(DefaultResponseTimeout, r.RequestTimeout*2/3))
	defDur(&r.ResponseIdleTimeout, min(DefaultResponseIdle, r.ResponseTimeout))
	defInt(&r.RetryAttempts, DefaultRetryAttempts)
	defDur(&r.RetryBaseDelay, DefaultRetryBaseDelay)
	defDur(&r.RetryMaxDelay, DefaultRetryMaxDelay)
	defDur(&r.RetryMaxRetryAfter, DefaultRetryMaxRetryAfter)
	defInt(&r.BreakerFailures, DefaultBreakerFailures)
	defDur(&r.BreakerCooldown, DefaultBreakerCooldown)
	return r
}

// Validate checks r (after WithDefaults).
func (r Resilience) Validate() error {
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"requestTimeout", r.RequestTimeout}, {"connectTimeout", r.ConnectTimeout}, {"responseTimeout", r.ResponseTimeout},
		{"responseIdleTimeout", r.ResponseIdleTimeout},
		{"retryBaseDelay", r.RetryBaseDelay}, {"retryMaxDelay", r.RetryMaxDelay}, {"retryMaxRetryAfter", r.RetryMaxRetryAfter},
		{"breakerCooldown", r.BreakerCooldown}} {
		if f.v < 0 {
			return fmt.Errorf("resilience.%s: must not be negative (got %s)", f.name, f.v)
		}
	}
	if r.ResponseTimeout >= r.RequestTimeout {
		return fmt.Errorf("resilience.responseTimeout (%s) must be shorter than requestTimeout (%s), so one slow server leaves time for the others", r.ResponseTimeout, r.RequestTimeout)
	}
	if r.ResponseIdleTimeout > r.ResponseTimeout {
		return fmt.Errorf("resilience.responseIdleTimeout (%s) must not exceed responseTimeout (%s)", r.ResponseIdleTimeout, r.ResponseTimeout)
	}
	if r.RetryAttempts < 1 {
		return fmt.Errorf("resilience.retryAttempts: at least 1 (got %d)", r.RetryAttempts)
	}
	if r.RetryMaxDelay < r.RetryBaseDelay {
		return fmt.Errorf("resilience.retryMaxDelay (%s) is below retryBaseDelay (%s)", r.RetryMaxDelay, r.RetryBaseDelay)
	}
	return nil
}

// LoadManifest reads the persisted-query manifest (nil map when none is configured). Every id
// must be the sha256 (hex) of its query text.
func (p PersistedQueries) LoadManifest(readFile func(string) ([]byte, error)) (map[string]string, error) {
	if p.Manifest == "" {
		return nil, nil
	}
	b, err := readFile(p.Manifest)
	if err != nil {
		return nil, fmt.Errorf("limits.persistedQueries.manifest: %w", err)
	}
	var apollo struct {
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	ops := map[string]string{}
	if json.Unmarshal(b, &apollo) == nil && apollo.Operations != nil {
		for _, o := range apollo.Operations {
			ops[strings.ToLower(o.ID)] = o.Body
		}
	} else if err := json.Unmarshal(b, &ops); err != nil {
		return nil, fmt.Errorf("limits.persistedQueries.manifest %s: want {\"<sha256>\": \"<query>\"} or {\"operations\":[{\"id\",\"body\"}]}: %w", p.Manifest, err)
	}
	out := make(map[string]string, len(ops))
	for id, q := range ops {
		sum := sha256.Sum256([]byte(q))
		if got := hex.EncodeToString(sum[:]); got != strings.ToLower(id) {
			return nil, fmt.Errorf("limits.persistedQueries.manifest %s: id %s is not the sha256 of its query (%s)", p.Manifest, id, got)
		}
		out[strings.ToLower(id)] = q
	}
	return out, nil
}
