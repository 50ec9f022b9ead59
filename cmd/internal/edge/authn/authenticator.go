package authn

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// Reasons authentication fails. They go to the log, never to the caller.
var (
	ErrNoCredentials = errors.New("no credentials")
	ErrBadAPIKey     = errors.New("unknown API key")
	ErrBadToken      = errors.New("invalid bearer token")
	ErrUnknownTenant = errors.New("unknown tenant")
	// ErrAmbiguousCredentials: the request presents more than one credential (CheckCredentials;
	// its message names headers only, and the edge answers it to the caller).
	ErrAmbiguousCredentials = errors.New("ambiguous credentials")
)

// CheckCredentials is the gateway's one rule for credentials: a request presents exactly one,
// either one Authorization header (Bearer <API key or JWT>) or one X-API-Key header (<API key>);
// a blank header presents none. Two credentials (both headers, or either one twice) are refused
// with ErrAmbiguousCredentials, whatever they hold: nothing decides between them, so an invalid
// Authorization is never rescued (or overridden) by an X-API-Key, nor the reverse. Authenticate
// applies it; the edge (httpapi) applies it before authenticating, to answer 400 instead of 401,
// and to a websocket's connection_init payload.
func CheckCredentials(h http.Header) error {
	auths, keys := len(presented(h, "Authorization")), len(presented(h, "X-API-Key"))
	switch {
	case auths > 0 && keys > 0:
		return fmt.Errorf("%w: both Authorization and X-API-Key are set; send exactly one", ErrAmbiguousCredentials)
	case auths > 1:
		return fmt.Errorf("%w: Authorization is set %d times; send it once", ErrAmbiguousCredentials, auths)
	case keys > 1:
		return fmt.Errorf("%w: X-API-Key is set %d times; send it once", ErrAmbiguousCredentials, keys)
	}
	return nil
}

// Authenticator turns a request's credential into a auth.Principal: API keys (X-API-Key or
// Authorization: Bearer <key>) and JWTs validated against a JWKS; one credential per request
// (Authenticate).
type Authenticator struct {
	keys   []apiKey
	jwt    *jwtVerifier
	dir    *Directory
	logger *slog.Logger
	// keyCreds are the API keys' credentials (allowRestoreToOriginal, person) by name
	// (credential.go).
	keyCreds map[string]auth.Credential
}

type apiKey struct {
	name   string
	hash   []byte
	tenant string
	role   auth.Role // for tenant keys: TENANT_AUDITOR (default), TENANT_ADMIN or RESTORE_OPERATOR
}

type jwtVerifier struct {
	parser      *jwt.Parser
	keyfunc     jwt.Keyfunc
	tenantClaim string
	roleClaim   string
}

// NewAuthenticator builds an authenticator. ctx bounds the JWKS refresh goroutine.
func NewAuthenticator(ctx context.Context, cfg config.Auth, dir *Directory, logger *slog.Logger) (*Authenticator, error) {
	if logger == nil {
		logger = slog.Default()
	}
	a := &Authenticator{dir: dir, logger: logger}
	for _, k := range cfg.APIKeys {
		h, err := hex.DecodeString(k.SHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("api key %s: bad sha256", k.Name)
		}
		if k.Tenant == "" && k.Role != string(auth.RoleProviderAdmin) {
			// Fail closed: a key without a tenant is an admin key only when it says so.
			return nil, fmt.Errorf("api key %s: give a tenant, or role PROVIDER_ADMIN", k.Name)
		}
		role := auth.RoleTenantAuditor
		if k.Tenant != "" {
			switch auth.Role(k.Role) {
			case "", auth.RoleTenantAuditor:
			case auth.RoleTenantAdmin, auth.RoleRestoreOperator:
				role = auth.Role(k.Role)
			default:
				return nil, fmt.Errorf("api key %s: a key with a tenant has role TENANT_AUDITOR, TENANT_ADMIN or RESTORE_OPERATOR", k.Name)
			}
		}
		a.keys = append(a.keys, apiKey{name: k.Name, hash: h, tenant: k.Tenant, role: role})
	}
	a.keyCreds = keyCredentials(cfg.APIKeys)
	if j := cfg.JWT; j != nil {
		// An unknown kid may refetch the key set at most every 30 s (the library default is 5 min,
		// which lets a stream of made-up kids hold back a real key rotation for that long); while
		// throttled, requests with unknown kids are refused at once rather than queued.
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{j.JWKSURL}, keyfunc.Override{
			RefreshUnknownKID: rate.NewLimiter(rate.Every(30*time.Second), 1),
			RateLimitWaitMax:  time.Second, // less than the limiter's period: a throttled request fails fast
			HTTPTimeout:       10 * time.Second,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					logger.WarnContext(ctx, "JWKS refresh failed; keeping the keys already fetched", "url", u, "err", err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("JWKS %s: %w", j.JWKSURL, err)
		}
		a.jwt = &jwtVerifier{
			parser: jwt.NewParser(
				jwt.WithValidMethods([]string{"RS256", "ES256"}), // no "none", no HS*: no alg confusion
				jwt.WithIssuer(j.Issuer), jwt.WithAudience(j.Audience),
				jwt.WithLeeway(j.ClockSkew), jwt.WithExpirationRequired(), jwt.WithIssuedAt()),
			keyfunc: kf.Keyfunc, tenantClaim: j.TenantClaim, roleClaim: j.RoleClaim,
		}
	}
	return a, nil
}

// Authenticate identifies the caller. A nil principal comes with an error saying why. Two
// credentials are refused (CheckCredentials).
func (a *Authenticator) Authenticate(r *http.Request) (*auth.Principal, error) {
	if err := CheckCredentials(r.Header); err != nil {
		return nil, err
	}
	keys, auths := presented(r.Header, "X-API-Key"), presented(r.Header, "Authorization")
	switch {
	case len(keys) == 1:
		return a.apiKeyPrincipal(keys[0])
	case len(auths) == 0:
		return nil, ErrNoCredentials
	}
	scheme, cred, ok := strings.Cut(auths[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
		return nil, ErrNoCredentials
	}
	cred = strings.TrimSpace(cred)
	if a.jwt != nil && strings.Count(cred, ".") == 2 {
		p, err := a.jwtPrincipal(cred)
		if err != nil && len(a.keys) > 0 {
			// One credential read two ways: an API key may contain dots too; a key match wins,
			// else the JWT's reason stands.
			if kp, kerr := a.apiKeyPrincipal(cred); kerr == nil {
				return kp, nil
			}
		}
		return p, err
	}
	return a.apiKeyPrincipal(cred)
}

// presented lists the non-blank values of header name, trimmed (each line of a repeated header
// is one value).
func presented(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// apiKeyPrincipal compares the key's hash with every configured hash in constant time, without
// stopping at the first match, so timing tells nothing about which or how many keys exist.
func (a *Authenticator) apiKeyPrincipal(key string) (*auth.Principal, error) {
	sum := sha256.Sum256([]byte(key))
	var match *apiKey
	for i := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], a.keys[i].hash) == 1 {
			match = &a.keys[i]
		}
	}
	if match == nil {
		return nil, ErrBadAPIKey
	}
	cred := a.keyCreds[match.name]
	if match.tenant == "" {
		return withKeyPerson(auth.NewAdmin("apikey:"+match.name).WithCredential(cred), match.name), nil
	}
	p, err := a.tenantPrincipal("apikey:"+match.name, match.tenant, match.role)
	return withKeyPerson(p.WithCredential(cred), match.name), err
}

func (a *Authenticator) jwtPrincipal(raw string) (p *auth.Principal, err error) {
	claims := jwt.MapClaims{}
	defer func() { p = withJWTCredential(p, claims) }() // auth_time for step-up (credential.go)
	if _, err := a.jwt.parser.ParseWithClaims(raw, claims, a.jwt.keyfunc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	return a.claimsPrincipal(claims)
}

// ClaimsPrincipal is the principal of an OpenID Connect ID token's claims the caller has
// verified itself (the console's sign-in: issuer, audience, expiry and nonce checked by
// go-oidc), read exactly as a JWT's: sub, and the configured tenant and role claims.
// The principal carries the token's auth_time as its credential (the console keeps it with
// the session). ErrBadToken without auth.jwt.
func (a *Authenticator) ClaimsPrincipal(claims map[string]any) (*auth.Principal, error) {
	if a == nil || a.jwt == nil {
		return nil, fmt.Errorf("%w: auth.jwt is not configured", ErrBadToken)
	}
	p, err := a.claimsPrincipal(claims)
	return withJWTCredential(p, claims), err
}

// Current rebuilds a principal with this configuration (its tenant's organisations as they
// stand now) from what a console session keeps: subject, tenant, role and, for a person signed
// in with OpenID Connect, the ID token's auth_time. It fails when the configuration no longer
// knows it (Knows: a removed API key or tenant, JWT sign-in turned off). An API key's session
// carries the key's credential as configured now (allowRestoreToOriginal, person; authTime is ignored);
// a JWT session's carries authTime (the zero time when the ID token had none: never fresh, so
// restoring to the original location needs a sign-in whose auth_time is within
// restore.stepUpMaxAge).
func (a *Authenticator) Current(subject, tenant string, role auth.Role, authTime time.Time) (*auth.Principal, error) {
	p := &auth.Principal{Subject: subject, Tenant: tenant, Role: role}
	if !a.Knows(p) {
		return nil, fmt.Errorf("%w: %q is no longer configured", ErrBadAPIKey, subject)
	}
	cred := auth.Credential{Kind: auth.CredentialJWT, AuthTime: authTime}
	name, isKey := strings.CutPrefix(subject, "apikey:")
	if isKey {
		cred = a.keyCreds[name]
	}
	keyed := func(p *auth.Principal) *auth.Principal {
		if p = p.WithCredential(cred); isKey {
			p = withKeyPerson(p, name)
		}
		return p
	}
	if role == auth.RoleProviderAdmin {
		if tenant != "" {
			return nil, fmt.Errorf("%w: a provider admin has no tenant", ErrBadToken)
		}
		return keyed(auth.NewAdmin(subject)), nil
	}
	p, err := a.tenantPrincipal(subject, tenant, role)
	return keyed(p), err
}

func (a *Authenticator) claimsPrincipal(claims jwt.MapClaims) (*auth.Principal, error) {
	sub, _ := claims.GetSubject()
	if sub == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrBadToken)
	}
	if strings.HasPrefix(sub, "apikey:") {
		return nil, fmt.Errorf("%w: sub %q reads as an API key's", ErrBadToken, sub) // never taken for a key's name
	}
	role, _ := claims[a.jwt.roleClaim].(string)
	tenant, _ := claims[a.jwt.tenantClaim].(string)
	name := displayName(claims)
	switch {
	case role == string(auth.RoleProviderAdmin) && tenant == "":
		return auth.NewAdmin(sub).WithDisplayName(name), nil
	case role == string(auth.RoleProviderAdmin):
		return nil, fmt.Errorf("%w: a provider admin token must not name a tenant", ErrBadToken)
	case role == "" || role == string(auth.RoleTenantAuditor) || role == string(auth.RoleTenantAdmin) ||
		role == string(auth.RoleRestoreOperator):
		if tenant == "" {
			return nil, fmt.Errorf("%w: no %s claim", ErrBadToken, a.jwt.tenantClaim)
		}
		r := auth.Role(cmp.Or(role, string(auth.RoleTenantAuditor)))
		p, err := a.tenantPrincipal(sub, tenant, r)
		if err != nil {
			return nil, err
		}
		return p.WithDisplayName(name), nil
	default:
		return nil, fmt.Errorf("%w: unknown role %q", ErrBadToken, role)
	}
}

// maxDisplayName bounds the display name taken from a token (it is recorded with every
// restore step).
const maxDisplayName = 256

// displayName is the person's name from a token: its name claim, else its email claim
// (OpenID Connect's standard claims), "" when neither is a non-blank string. Control
// characters are dropped and the text is cut to maxDisplayName bytes on a rune boundary.
func displayName(claims jwt.MapClaims) string {
	for _, c := range []string{"name", "email"} {
		v, _ := claims[c].(string)
		v = strings.TrimSpace(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) || r == utf8.RuneError {
				return -1
			}
			return r
		}, v))
		if v == "" {
			continue
		}
		for len(v) > maxDisplayName {
			_, n := utf8.DecodeLastRuneInString(v)
			v = v[:len(v)-n]
		}
		return v
	}
	return ""
}

func (a *Authenticator) tenantPrincipal(subject, tenant string, role auth.Role) (*auth.Principal, error) {
	if a.dir == nil {
		return nil, ErrUnknownTenant
	}
	orgs, ok := a.dir.Orgs(tenant)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownTenant, tenant)
	}
	pending := a.dir.Pending(tenant)
	switch role {
	case auth.RoleTenantAdmin:
		return auth.NewTenantAdmin(subject, tenant, orgs).WithUnresolved(pending), nil
	case auth.RoleRestoreOperator:
		return auth.NewRestoreOperator(subject, tenant, orgs).WithUnresolved(pending), nil
	}
	return auth.NewTenantAuditor(subject, tenant, orgs).WithUnresolved(pending), nil
}

// Knows reports whether this authenticator would still accept p's credentials with the same
// role and tenant: an API key principal's key (by name) must still exist, a tenant's tenant too.
// JWT principals are known while their tenant is (their tokens expire on their own).
func (a *Authenticator) Knows(p *auth.Principal) bool {
	if a == nil || p == nil {
		return false
	}
	if name, ok := strings.CutPrefix(p.Subject, "apikey:"); ok {
		for _, k := range a.keys {
			if k.name != name || k.tenant != p.Tenant {
				continue
			}
			if k.tenant == "" || k.role == p.Role || k.role == "" && p.Role == auth.RoleTenantAuditor {
				return a.knowsTenant(p.Tenant)
			}
		}
		return false
	}
	return a.jwt != nil && a.knowsTenant(p.Tenant)
}

func (a *Authenticator) knowsTenant(tenant string) bool {
	if tenant == "" {
		return true
	}
	if a.dir == nil {
		return false
	}
	_, ok := a.dir.Orgs(tenant)
	return ok
}
