package authn

import (
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// restoreOriginalKeys names the API keys configured with allowRestoreToOriginal.
func restoreOriginalKeys(keys []config.APIKey) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		if k.AllowRestoreToOriginal {
			m[k.Name] = true
		}
	}
	return m
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
