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
	// Person is who holds an API key (auth.apiKeys[].person), "" when the key names nobody
	// (it is then its own person) and for JWTs (the person is the subject).
	Person string
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

// Person is who the caller is as a person, for what counts people (the restore front door's
// record, its per-person limits, download links, approvals): an API key's configured person,
// else the subject. Two keys of one person are one person; "" for nil.
func (p *Principal) Person() string {
	if p == nil {
		return ""
	}
	if p.cred.Person != "" {
		return p.cred.Person
	}
	return p.Subject
}
