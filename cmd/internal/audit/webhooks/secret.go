// Package webhooks delivers signed webhooks per the Standard Webhooks specification
// (standardwebhooks.com): secrets, signatures, the retry schedule, an HTTP client that refuses
// redirects and private targets (SSRF), and the classification of each attempt's outcome.
// It knows nothing about rules, sessions or the store: callers hand it a Message and act on
// the Outcome.
package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix marks a Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// Secret sizes per the specification: 24 to 64 random bytes.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
	newSecretBytes = 32
)

// ErrBadSecret is returned for a secret that is not whsec_ + base64 of 24-64 bytes.
var ErrBadSecret = errors.New("webhook secret: want whsec_ followed by the base64 of 24 to 64 bytes")

// Secret is a signing key: the decoded bytes of a whsec_ secret.
type Secret struct{ key []byte }

// NewSecret returns a fresh random secret (32 bytes).
func NewSecret() (Secret, error) {
	b := make([]byte, newSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return Secret{}, fmt.Errorf("webhook secret: %w", err)
	}
	return Secret{key: b}, nil
}

// ParseSecret decodes a whsec_ secret.
func ParseSecret(s string) (Secret, error) {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return Secret{}, ErrBadSecret
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) < MinSecretBytes || len(b) > MaxSecretBytes {
		return Secret{}, ErrBadSecret
	}
	return Secret{key: b}, nil
}

// Reveal is the secret as shown to its owner (once, when created or rotated) and as stored:
// whsec_ + base64. Nothing else prints it: fmt and slog see a placeholder.
func (s Secret) Reveal() string { return SecretPrefix + base64.StdEncoding.EncodeToString(s.key) }

// IsZero reports whether s holds no key.
func (s Secret) IsZero() bool { return len(s.key) == 0 }

// GoString keeps the key out of %#v output.
func (s Secret) GoString() string { return "webhooks.Secret{redacted}" }

// Format keeps the key out of logs: every verb prints a placeholder.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("whsec_[redacted]")) }
