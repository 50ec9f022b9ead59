package authn

import (
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// keyCredentials are the API keys' credentials as configured, by key name: each key's
// allowRestoreToOriginal flag and person (auth.apiKeys[].person).
func keyCredentials(keys []config.APIKey) map[string]auth.Credential {
	m := make(map[string]auth.Credential, len(keys))
	for _, k := range keys {
		m[k.Name] = auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: k.AllowRestoreToOriginal, Person: k.Person}
	}
	return m
}

// withKeyPerson gives the principal of an API key held by a configured person the display
// name "API key <name>": the front door's record names the person, and this names the key.
func withKeyPerson(p *auth.Principal, name string) *auth.Principal {
	if p == nil || p.Credential().Person == "" {
		return p
	}
	return p.WithDisplayName("API key " + name)
}

// withJWTCredential records on a JWT principal when the person last authenticated: the
// token's auth_time claim (OpenID Connect; a NumericDate). A token without one (or with one
// that is not a number) carries the zero time, which no step-up check accepts. nil stays nil.
func withJWTCredential(p *auth.Principal, claims jwt.MapClaims) *auth.Principal {
	if p == nil {
		return nil
	}
	var at time.Time
	if v, ok := claims["auth_time"].(float64); ok && v > 0 {
		at = time.Unix(int64(v), 0).UTC()
	}
	return p.WithCredential(auth.Credential{Kind: auth.CredentialJWT, AuthTime: at})
}
