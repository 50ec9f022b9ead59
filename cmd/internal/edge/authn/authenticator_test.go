package authn_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

const (
	testIssuer   = "https://idp.example.test/"
	testAudience = "vbo-gateway"
)

// signingKey is a key pair published (or not) on the test JWKS server.
type signingKey struct {
	kid    string
	alg    string // RS256 | ES256
	signer crypto.Signer
}

func newRSAKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: "RS256", signer: k}
}

func newECKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: "ES256", signer: k}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public half of k as a JWKS entry.
func (k signingKey) jwk() map[string]string {
	switch pub := k.signer.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": k.alg,
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		ecdh, err := pub.ECDH()
		if err != nil {
			panic(err)
		}
		raw := ecdh.Bytes() // 0x04 || X || Y, 32 bytes each for P-256
		return map[string]string{"kty": "EC", "kid": k.kid, "use": "sig", "alg": k.alg, "crv": "P-256",
			"x": b64(raw[1:33]), "y": b64(raw[33:65])}
	}
	panic("unknown key type")
}

// sign returns a token signed by k with kid in the header.
func (k signingKey) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	method := jwt.GetSigningMethod(k.alg)
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwksServer publishes a mutable set of public keys.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []signingKey
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, keys ...signingKey) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		set := map[string][]map[string]string{"keys": {}}
		for _, k := range s.keys {
			set["keys"] = append(set["keys"], k.jwk())
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(keys ...signingKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// testDirectory has tenants t1 (two organisations on syd1 and mel1) and t2 (one on syd1).
func testDirectory(t testing.TB) *authn.Directory {
	t.Helper()
	f := newFakeOrgs()
	d := authn.NewDirectory([]config.Tenant{
		{ID: "t1", Organizations: []config.TenantOrg{{Server: "syd1", Name: "Contoso"}, {Server: "mel1", Name: "Northwind"}}},
		{ID: "t2", Organizations: []config.TenantOrg{{Server: "syd1", Name: "Fabrikam"}}},
	}, f.list, false, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

const (
	t1OrgSyd = "11111111-aaaa-0000-0000-000000000001"
	t1OrgMel = "22222222-bbbb-0000-0000-000000000001"
	t2OrgSyd = "11111111-aaaa-0000-0000-000000000002"
)

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testAuthConfig is what config.Parse would produce for a JWKS URL and the test API keys.
func testAuthConfig(jwksURL string) config.Auth {
	a := config.Auth{APIKeys: []config.APIKey{
		{Name: "ops", SHA256: hexSHA256("admin-key-0123456789"), Role: "PROVIDER_ADMIN"},
		{Name: "partner-t1", SHA256: strings.ToUpper(hexSHA256("t1-key-0123456789")), Tenant: "t1"},
		{Name: "partner-ghost", SHA256: hexSHA256("ghost-key-0123456789"), Tenant: "ghost"},
	}}
	if jwksURL != "" {
		a.JWT = &config.JWT{JWKSURL: jwksURL, Issuer: testIssuer, Audience: testAudience,
			ClockSkew: 30 * time.Second, TenantClaim: "tenant", RoleClaim: "role"}
	}
	return a
}

func newTestAuthenticator(t testing.TB, cfg config.Auth) *authn.Authenticator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := authn.NewAuthenticator(ctx, cfg, testDirectory(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	return a
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// claims are valid claims for the test issuer and audience.
func claims(extra jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "user-1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func TestJWTValidation(t *testing.T) {
	rsaKey, ecKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	jwks := newJWKSServer(t, rsaKey, ecKey)
	a := newTestAuthenticator(t, testAuthConfig(jwks.URL))
	now := time.Now()

	// HS256 signed with the RSA public key as the HMAC secret: the classic alg confusion.
	pubDER, err := x509.MarshalPKIXPublicKey(rsaKey.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsConfused := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"}))
		tok.Header["kid"] = rsaKey.kid
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	noneTok := func(kid bool) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"}))
		if kid {
			tok.Header["kid"] = rsaKey.kid
		}
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A key the JWKS does not publish, posing under a published kid.
	impostor := newRSAKey(t, rsaKey.kid)
	// An RSA-signed token naming the EC key's kid.
	wrongKidAlg := rsaKey
	wrongKidAlg.kid = ecKey.kid
	// A valid token with its payload swapped for an admin one.
	valid := ecKey.sign(t, claims(jwt.MapClaims{"tenant": "t1"}))
	parts := strings.Split(valid, ".")
	adminPayload, _ := json.Marshal(claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"}))
	tampered := parts[0] + "." + b64(adminPayload) + "." + parts[2]

	type want struct {
		admin  bool
		tenant string
	}
	cases := []struct {
		name  string
		token string
		want  *want // nil: rejected
	}{
		{"admin RS256", rsaKey.sign(t, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"})), &want{admin: true}},
		{"admin ES256", ecKey.sign(t, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"})), &want{admin: true}},
		{"tenant ES256, no role claim", valid, &want{tenant: "t1"}},
		{"tenant RS256, explicit role", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t2", "role": "TENANT_AUDITOR"})), &want{tenant: "t2"}},
		{"aud as an array", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "aud": []string{"other", testAudience}})), &want{tenant: "t1"}},
		{"expired within clock skew", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "exp": now.Add(-10 * time.Second).Unix()})), &want{tenant: "t1"}},
		{"iat slightly ahead, within skew", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "iat": now.Add(10 * time.Second).Unix()})), &want{tenant: "t1"}},

		{"expired", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "exp": now.Add(-2 * time.Minute).Unix()})), nil},
		{"no exp", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "exp": nil})), nil},
		{"nbf in the future beyond skew", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "nbf": now.Add(5 * time.Minute).Unix()})), nil},
		{"iat in the future beyond skew", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "iat": now.Add(5 * time.Minute).Unix()})), nil},
		{"wrong aud", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "aud": "someone-else"})), nil},
		{"no aud", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "aud": nil})), nil},
		{"wrong iss", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "iss": "https://evil.example/"})), nil},
		{"no iss", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "iss": nil})), nil},
		{"alg none with kid", noneTok(true), nil},
		{"alg none without kid", noneTok(false), nil},
		{"HS256 with the RSA public key PEM as secret", hsConfused(pubPEM), nil},
		{"HS256 with the RSA public key DER as secret", hsConfused(pubDER), nil},
		{"HS256 with the RSA modulus as secret", hsConfused(rsaKey.signer.Public().(*rsa.PublicKey).N.Bytes()), nil},
		{"signed by an unpublished key under a published kid", impostor.sign(t, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"})), nil},
		{"RS256 signature under the EC key's kid", wrongKidAlg.sign(t, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"})), nil},
		{"tampered payload", tampered, nil},
		{"garbage three parts", "abc.def.ghi", nil},
		{"garbage base64 header", "eyJhbGciOiJSUzI1NiJ9.e30.", nil},
		{"truncated", valid[:len(valid)-10], nil},
		{"missing sub", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "sub": nil})), nil},
		{"empty sub", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t1", "sub": ""})), nil},
		{"unknown tenant", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t9"})), nil},
		{"tenant claim not a string", rsaKey.sign(t, claims(jwt.MapClaims{"tenant": []string{"t1"}})), nil},
		{"neither role nor tenant", rsaKey.sign(t, claims(nil)), nil},
		{"admin token naming a tenant", rsaKey.sign(t, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN", "tenant": "t1"})), nil},
		{"unknown role", rsaKey.sign(t, claims(jwt.MapClaims{"role": "SUPERUSER"})), nil},
		{"role in different case", rsaKey.sign(t, claims(jwt.MapClaims{"role": "provider_admin"})), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := a.Authenticate(bearer(c.token))
			if c.want == nil {
				if p != nil || err == nil {
					t.Fatalf("accepted: principal %+v, err %v", p, err)
				}
				return
			}
			if err != nil || p == nil {
				t.Fatalf("rejected: %v", err)
			}
			if p.Subject != "user-1" {
				t.Errorf("subject = %q", p.Subject)
			}
			if c.want.admin {
				if !p.IsAdmin() || !p.SeesAll() || p.Tenant != "" {
					t.Fatalf("want admin, got %+v", p)
				}
				return
			}
			if p.Role != auth.RoleTenantAuditor || p.Tenant != c.want.tenant || p.SeesAll() {
				t.Fatalf("want TENANT_AUDITOR of %s, got %+v", c.want.tenant, p)
			}
			checkTenantScope(t, p)
		})
	}
	// Rejections say why, for the log.
	_, err = a.Authenticate(bearer(cases[7].token)) // expired
	if !errors.Is(err, authn.ErrBadToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("expired token error = %v", err)
	}
	_, err = a.Authenticate(bearer(rsaKey.sign(t, claims(jwt.MapClaims{"tenant": "t9"}))))
	if !errors.Is(err, authn.ErrUnknownTenant) {
		t.Errorf("unknown tenant error = %v", err)
	}
}

// checkTenantScope checks a TENANT_AUDITOR principal of t1 or t2 sees its own organisations only.
func checkTenantScope(t *testing.T, p *auth.Principal) {
	t.Helper()
	own := map[string][]auth.OrgRef{
		"t1": {{Server: "syd1", OrgID: t1OrgSyd}, {Server: "mel1", OrgID: t1OrgMel}},
		"t2": {{Server: "syd1", OrgID: t2OrgSyd}},
	}
	for tenant, refs := range own {
		for _, r := range refs {
			if got := p.CanSeeOrg(r.Server, r.OrgID); got != (tenant == p.Tenant) {
				t.Errorf("%s CanSeeOrg(%s/%s of %s) = %v", p.Tenant, r.Server, r.OrgID, tenant, got)
			}
		}
	}
	if p.CanSeeServer("akl1") {
		t.Errorf("%s sees a server hosting none of its organisations", p.Tenant)
	}
	if got := p.CanSeeServer("mel1"); got != (p.Tenant == "t1") {
		t.Errorf("%s CanSeeServer(mel1) = %v", p.Tenant, got)
	}
}

func TestJWTKeyRotation(t *testing.T) {
	old, next := newRSAKey(t, "2026-01"), newECKey(t, "2026-02")
	jwks := newJWKSServer(t, old)
	a := newTestAuthenticator(t, testAuthConfig(jwks.URL))

	if _, err := a.Authenticate(bearer(old.sign(t, claims(jwt.MapClaims{"tenant": "t1"})))); err != nil {
		t.Fatalf("token of the published key: %v", err)
	}
	fetches := jwks.fetches.Load()

	// The identity provider rotates: the new key is published, the old one withdrawn. A token
	// with the new kid makes the verifier refetch the JWKS (no waiting for the hourly refresh).
	jwks.publish(next)
	p, err := a.Authenticate(bearer(next.sign(t, claims(jwt.MapClaims{"tenant": "t1"}))))
	if err != nil || p.Tenant != "t1" {
		t.Fatalf("token of the rotated-in key: %+v, %v", p, err)
	}
	if jwks.fetches.Load() <= fetches {
		t.Fatal("JWKS was not refetched for the unknown kid")
	}

	// The withdrawn key no longer verifies, and the rate-limited refresh does not make the
	// request wait (the limiter allows one refresh per 5 minutes and waits at most 1 minute).
	start := time.Now()
	if _, err := a.Authenticate(bearer(old.sign(t, claims(jwt.MapClaims{"tenant": "t1"})))); err == nil {
		t.Fatal("token of the withdrawn key accepted")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("rejecting an unknown kid took %v", d)
	}
}

func TestJWTUnknownKid(t *testing.T) {
	published, unpublished := newRSAKey(t, "k1"), newRSAKey(t, "never-published")
	jwks := newJWKSServer(t, published)
	a := newTestAuthenticator(t, testAuthConfig(jwks.URL))
	for i := range 3 { // repeated unknown kids: rejected every time, quickly
		start := time.Now()
		p, err := a.Authenticate(bearer(unpublished.sign(t, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN"}))))
		if p != nil || !errors.Is(err, authn.ErrBadToken) {
			t.Fatalf("attempt %d: unknown kid: %+v, %v", i, p, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("attempt %d took %v", i, d)
		}
	}
	// The published key still works.
	if _, err := a.Authenticate(bearer(published.sign(t, claims(jwt.MapClaims{"tenant": "t2"})))); err != nil {
		t.Fatal(err)
	}
}

func TestAPIKeys(t *testing.T) {
	a := newTestAuthenticator(t, testAuthConfig(""))
	viaHeader := func(key string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("X-API-Key", key)
		return r
	}
	for _, c := range []struct {
		name string
		req  *http.Request
	}{
		{"bearer", bearer("admin-key-0123456789")},
		{"lower-case scheme", func() *http.Request {
			r := bearer("")
			r.Header.Set("Authorization", "bearer admin-key-0123456789")
			return r
		}()},
		{"X-API-Key", viaHeader("admin-key-0123456789")},
	} {
		p, err := a.Authenticate(c.req)
		if err != nil || !p.IsAdmin() || !p.SeesAll() || p.Subject != "apikey:ops" {
			t.Errorf("%s: admin key: %+v, %v", c.name, p, err)
		}
	}
	for _, r := range []*http.Request{bearer("t1-key-0123456789"), viaHeader("t1-key-0123456789")} {
		p, err := a.Authenticate(r)
		if err != nil || p.Role != auth.RoleTenantAuditor || p.Tenant != "t1" || p.Subject != "apikey:partner-t1" {
			t.Fatalf("tenant key: %+v, %v", p, err)
		}
		checkTenantScope(t, p)
	}
	for name, r := range map[string]*http.Request{
		"wrong key":                      bearer("admin-key-012345678"),
		"wrong key via X-API-Key":        viaHeader("nope"),
		"the configured hash as the key": bearer(hexSHA256("admin-key-0123456789")),
		"key bound to an unknown tenant": bearer("ghost-key-0123456789"),
		"wrong X-API-Key beside a valid bearer": func() *http.Request {
			r := viaHeader("nope")
			r.Header.Set("Authorization", "Bearer admin-key-0123456789")
			return r
		}(),
		"basic auth":              func() *http.Request { r := bearer(""); r.SetBasicAuth("admin-key-0123456789", ""); return r }(),
		"bare key without scheme": func() *http.Request { r := bearer(""); r.Header.Set("Authorization", "admin-key-0123456789"); return r }(),
		"no credentials":          httptest.NewRequest(http.MethodPost, "/graphql", nil),
		"empty bearer":            bearer(" "),
	} {
		if p, err := a.Authenticate(r); p != nil || err == nil {
			t.Errorf("%s: accepted as %+v", name, p)
		}
	}
	if _, err := a.Authenticate(bearer("nope")); !errors.Is(err, authn.ErrBadAPIKey) {
		t.Errorf("wrong key error = %v", err)
	}
	if _, err := a.Authenticate(httptest.NewRequest(http.MethodPost, "/graphql", nil)); !errors.Is(err, authn.ErrNoCredentials) {
		t.Errorf("no credentials error = %v", err)
	}
	// A JWT-shaped bearer without JWT configured is just a wrong API key.
	if _, err := a.Authenticate(bearer("a.b.c")); !errors.Is(err, authn.ErrBadAPIKey) {
		t.Errorf("JWT-shaped key without JWT config: %v", err)
	}
}

func TestAPIKeyConfigChecks(t *testing.T) {
	ctx := context.Background()
	for name, k := range map[string]config.APIKey{
		"bad hex":      {Name: "k", SHA256: "zz" + hexSHA256("x")[2:], Role: "PROVIDER_ADMIN"},
		"short digest": {Name: "k", SHA256: hexSHA256("x")[:62], Role: "PROVIDER_ADMIN"},
		// A key config that never went through config.Parse (as the demo builds it) must not
		// turn a tenant-less key without PROVIDER_ADMIN into an admin key.
		"no tenant, no admin role": {Name: "k", SHA256: hexSHA256("x")},
		"no tenant, auditor role":  {Name: "k", SHA256: hexSHA256("x"), Role: "TENANT_AUDITOR"},
	} {
		if _, err := authn.NewAuthenticator(ctx, config.Auth{APIKeys: []config.APIKey{k}}, nil, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAuthenticatorWithoutDirectoryRejectsTenants(t *testing.T) {
	a, err := authn.NewAuthenticator(context.Background(), config.Auth{APIKeys: []config.APIKey{
		{Name: "t", SHA256: hexSHA256("tenant-key"), Tenant: "t1"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.Authenticate(bearer("tenant-key")); p != nil || !errors.Is(err, authn.ErrUnknownTenant) {
		t.Fatalf("%+v, %v", p, err)
	}
}

var _ authn.OrgLister = (&fakeOrgs{}).list
