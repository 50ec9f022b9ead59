package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// CursorKey names the secret that seals pagination cursors (see gid.Cursors), from the
// environment or a file like the VBO passwords, never from the YAML itself. With a key (the
// same on every replica) cursors survive restarts and work on any replica; without one the
// gateway draws a key at start, and cursors then work only on that process and expire when it
// stops (a client gets BAD_USER_INPUT and starts again from the first page).
type CursorKey struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`

	secret []byte
}

// resolve reads the secret (none configured: nil).
func (k *CursorKey) resolve(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	var v string
	switch {
	case k.Env != "" && k.File != "":
		return errors.New("cursorKey: set env or file, not both")
	case k.Env != "":
		s, ok := lookupEnv(k.Env)
		if !ok || s == "" {
			return fmt.Errorf("cursorKey: environment variable %s is not set", k.Env)
		}
		v = s
	case k.File != "":
		b, err := readFile(k.File)
		if err != nil {
			return fmt.Errorf("cursorKey.file: %w", err)
		}
		v = strings.TrimRight(string(b), "\r\n")
	default:
		return nil
	}
	if len(v) < gid.MinCursorSecret {
		return fmt.Errorf("cursorKey: the secret has %d bytes, at least %d needed (e.g. openssl rand -base64 48)", len(v), gid.MinCursorSecret)
	}
	k.secret = []byte(v)
	return nil
}

// Secret is the resolved secret; nil when none is configured.
func (k CursorKey) Secret() []byte { return k.secret }

// WithCursorSecret returns a copy of c whose cursors are sealed with secret (tests, tools).
func (c Config) WithCursorSecret(secret []byte) *Config {
	c.CursorKey.secret = secret
	return &c
}
