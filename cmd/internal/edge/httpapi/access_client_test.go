package httpapi_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
)

// The access line names the client as the edge finds it (behind http.trustedProxies, the
// X-Forwarded-For entry; otherwise the peer), the address the throttling and the restore
// record use, and the connection's peer apart when it differs: before, it named the peer
// alone, so behind a proxy every line showed the proxy. Whatever the path.
func TestAccessLineClientAddress(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})) // /healthz's line is debug
	h := telemetry.HTTP{Logger: logger}.Wrap(stubHandler(t, httpapi.Options{Logger: logger,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}))
	for _, tc := range []struct {
		name, path, peer, xff string
		remote, wantPeer      string // wantPeer "": no peer field
	}{
		{"behind a trusted proxy, /graphql", "/graphql?query=%7B__typename%7D", "10.0.0.1:5", "198.51.100.7", "198.51.100.7", "10.0.0.1"},
		{"behind a trusted proxy, /healthz", "/healthz", "10.0.0.1:5", "198.51.100.8", "198.51.100.8", "10.0.0.1"},
		{"an untrusted peer's X-Forwarded-For is ignored", "/healthz", "192.0.2.9:5", "198.51.100.9", "192.0.2.9", ""},
		{"direct", "/healthz", "192.0.2.10:5", "", "192.0.2.10", ""},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.RemoteAddr = tc.peer
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		req.Header.Set("X-Request-Id", "access-"+strings.ReplaceAll(tc.remote, ".", "-"))
		h.ServeHTTP(httptest.NewRecorder(), req)
		var line map[string]any
		for sc := bufio.NewScanner(strings.NewReader(logs.String())); sc.Scan(); {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" && m["request_id"] == req.Header.Get("X-Request-Id") {
				line = m
			}
		}
		if line == nil {
			t.Fatalf("%s: no access line", tc.name)
		}
		peer, hasPeer := line["peer"]
		if line["remote"] != tc.remote || tc.wantPeer == "" && hasPeer || tc.wantPeer != "" && peer != tc.wantPeer {
			t.Errorf("%s: remote %v, peer %v; want remote %s, peer %q", tc.name, line["remote"], peer, tc.remote, tc.wantPeer)
		}
	}
}
