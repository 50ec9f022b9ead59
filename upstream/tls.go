package upstream

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// TLSConfig says how to trust a VBO server's certificate. VBO usually runs with a self-signed
// certificate: pin its SHA-256 fingerprint or give the CA that issued it. Verification stays on
// unless InsecureSkipVerify is set, which logs a warning.
type TLSConfig struct {
	// CAFile is a PEM bundle trusted instead of the system roots.
	CAFile string `yaml:"caFile" json:"caFile,omitempty"`
	// FingerprintSHA256 pins the server's leaf certificate: hex, colons and case ignored.
	FingerprintSHA256 string `yaml:"fingerprintSHA256" json:"fingerprintSHA256,omitempty"`
	// InsecureSkipVerify turns verification off. For labs only.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify" json:"insecureSkipVerify,omitempty"`
}

// ParseFingerprint normalises a SHA-256 fingerprint ("AB:CD:..." or "abcd...") to 32 bytes.
func ParseFingerprint(s string) ([]byte, error) {
	clean := strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("fingerprintSHA256 %q: want 64 hex digits (colons allowed)", s)
	}
	return b, nil
}

// Fingerprint returns the hex SHA-256 fingerprint of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Build returns the tls.Config for these settings.
func (t TLSConfig) Build(logger *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s: no PEM certificates found", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.FingerprintSHA256 != "":
		pin, err := ParseFingerprint(t.FingerprintSHA256)
		if err != nil {
			return nil, err
		}
		// The pin replaces chain and name verification: it is stronger for a self-signed cert.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("VBO server sent no certificate")
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(got[:], pin) != 1 {
				return fmt.Errorf("VBO server certificate fingerprint %x does not match the pinned fingerprint", got)
			}
			return nil
		}
	case t.InsecureSkipVerify:
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("TLS VERIFICATION IS OFF for this VBO server: anyone on the path can read the admin credentials. Pin fingerprintSHA256 or set caFile instead.")
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}
