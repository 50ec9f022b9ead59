package auth

import "time"

// CredentialKind is how a principal authenticated.
type CredentialKind string

// Credential kinds.
const (
	CredentialJWT    CredentialKind = "JWT"
	CredentialAPIKey CredentialKind = "API_KEY"
)

// Credential is what the checks that need fresh authentication (restore to the original
// location) read about how the caller authenticated.
type Credential struct {
	Kind CredentialKind
	// AuthTime is a JWT's auth_time claim: when the person last authenticated (zero when the
	// token has none: never fresh).
	AuthTime time.Time
	// AllowRestoreToOriginal is an API key's allowRestoreToOriginal flag.
	AllowRestoreToOriginal bool
}

// WithCredential returns a copy of p carrying c.
func (p *Principal) WithCredential(c Credential) *Principal {
	if p == nil {
		return nil
	}
	q := *p
	q.cred = c
	return &q
}

// Credential is how p authenticated (the zero Credential for nil or when the edge did not say).
func (p *Principal) Credential() Credential {
	if p == nil {
		return Credential{}
	}
	return p.cred
}
