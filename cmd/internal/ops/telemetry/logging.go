// Package telemetry is the gateway's observability plumbing: structured logs (log/slog), the
// access line of each request, OpenTelemetry tracing configured from the standard OTEL_*
// environment variables, the GraphQL operation and field spans, and the instrumented transport
// every VBO call goes through.
package telemetry

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Log formats.
const (
	FormatJSON = "json"
	FormatText = "text"
)

// NewLogger returns a logger writing to w in format (json, the default, or text) at the level
// level holds (change it at run time, e.g. on reload). Attributes whose key names a secret
// (password, token, authorization, api key, cookie, secret) are redacted as a last line of
// defence: the gateway never logs them on purpose.
func NewLogger(w io.Writer, format string, level *slog.LevelVar) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	switch format {
	case "", FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case FormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want json or text", format)
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// secretKeys are substrings of attribute keys whose values are never written.
var secretKeys = []string{"password", "passwd", "secret", "token", "authorization", "apikey", "api_key", "api-key", "cookie", "jwt"}

func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}
