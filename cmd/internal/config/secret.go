package config

import (
	"fmt"
	"log/slog"
)

// redacted is what a Secret shows wherever it is printed, logged or encoded.
const redacted = "[redacted]"

// Secret holds a credential resolved from the environment or a file (never from the YAML
// itself). It never shows its value: fmt (every verb, %#v and %x included), slog, JSON, text
// and YAML encodings all give "[redacted]"; Reveal is the one way to the value, for the request
// body that needs it. The value sits behind a pointer, so even a struct printed by reflection
// (a Secret in an unexported field) shows an address, not the value.
type Secret struct{ v *string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v: &v} }

// Reveal returns the value ("" for the zero Secret). Call it only where the value is sent.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is unset or empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// String is "[redacted]".
func (s Secret) String() string { return redacted }

// GoString is "[redacted]" (%#v).
func (s Secret) GoString() string { return redacted }

// Format prints "[redacted]" for every verb (%x and %q would otherwise bypass String).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue is "[redacted]" for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON is "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText is "[redacted]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalYAML is "[redacted]".
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }
