package telemetry_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
)

// The access line's remote is the client the edge recorded (Record.SetClient: the address
// behind the trusted proxies), with the connection's peer apart when it differs; without a
// recorded client (a handler outside the edge), the peer's host.
func TestAccessLineRemote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, remoteAddr, client string
		remote, peer             string // peer "": no peer field
	}{
		{"nothing recorded: the peer", "192.0.2.1:5", "", "192.0.2.1", ""},
		{"nothing recorded, unreadable peer", "pipe", "", "pipe", ""},
		{"the client behind a proxy", "10.0.0.1:5", "198.51.100.7", "198.51.100.7", "10.0.0.1"},
		{"the client is the peer", "192.0.2.1:5", "192.0.2.1", "192.0.2.1", ""},
	} {
		var b bytes.Buffer
		h := telemetry.HTTP{Logger: slog.New(slog.NewJSONHandler(&b, nil))}.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			if tc.client != "" {
				telemetry.RecordFrom(r.Context()).SetClient(tc.client)
			}
		}))
		req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
		req.RemoteAddr = tc.remoteAddr
		h.ServeHTTP(httptest.NewRecorder(), req)
		var line map[string]any
		if err := json.Unmarshal(b.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, b.String())
		}
		peer, hasPeer := line["peer"]
		if line["remote"] != tc.remote || tc.peer == "" && hasPeer || tc.peer != "" && peer != tc.peer {
			t.Errorf("%s: remote %v, peer %v; want %s, %q", tc.name, line["remote"], peer, tc.remote, tc.peer)
		}
	}
	telemetry.RecordFrom(t.Context()).SetClient("192.0.2.1") // outside a request: no record, no panic
}
