package config

import (
	"strings"
	"testing"
)

func TestConfigCursorKey(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-cursor"
	env := cfgtEnv(map[string]string{"SYD1_PW": "pw", "CURSOR_KEY": secret, "SHORT": "tooshort"})
	files := cfgtFiles(map[string]string{"/run/secrets/mel1": "pw", "/run/secrets/cursor": secret + "\n"})
	for _, tc := range []struct{ yaml, want, err string }{
		{"", "", ""}, // none: the gateway draws a key at start
		{"cursorKey: {env: CURSOR_KEY}", secret, ""},
		{"cursorKey: {file: /run/secrets/cursor}", secret, ""},
		{"cursorKey: {env: NOPE}", "", "NOPE"},
		{"cursorKey: {env: SHORT}", "", "at least 32"},
		{"cursorKey: {file: /nope}", "", "cursorKey.file"},
		{"cursorKey: {env: CURSOR_KEY, file: /run/secrets/cursor}", "", "not both"},
	} {
		c, err := Parse([]byte(cfgtServers+tc.yaml), env, files)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want one naming %q", tc.yaml, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%q: the secret is in the error", tc.yaml)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case string(c.CursorKey.Secret()) != tc.want:
			t.Errorf("%q: secret %q, want %q", tc.yaml, c.CursorKey.Secret(), tc.want)
		}
	}
}
