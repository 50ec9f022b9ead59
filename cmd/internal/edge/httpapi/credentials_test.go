package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// keyThenBearer accepts the key "good" the way the gateway's authenticator used to: X-API-Key
// first, whatever Authorization says (the precedence issue 20 L2 found).
func keyThenBearer(r *http.Request) (*auth.Principal, error) {
	cred := strings.TrimSpace(r.Header.Get("X-API-Key"))
	if cred == "" {
		cred = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if cred == "good" {
		return auth.NewAdmin("ops"), nil
	}
	return nil, errors.New("unknown API key")
}

// Issue 20 L2 over HTTP: two credentials are refused (400, saying why) before any
// authenticator runs, so an invalid Authorization is never overridden by a valid X-API-Key;
// one credential alone is authenticated as before.
func TestTwoCredentialsRefusedOverHTTP(t *testing.T) {
	t.Parallel()
	h := stubHandler(t, httpapi.Options{Authenticate: keyThenBearer})
	cases := []struct {
		name    string
		headers [][2]string
		status  int
		want    string // in the message
	}{
		{"invalid Authorization, valid X-API-Key", [][2]string{{"Authorization", "Bearer bad"}, {"X-API-Key", "good"}}, http.StatusBadRequest, "both Authorization and X-API-Key"},
		{"both valid", [][2]string{{"Authorization", "Bearer good"}, {"X-API-Key", "good"}}, http.StatusBadRequest, "send exactly one"},
		{"Authorization twice", [][2]string{{"Authorization", "Bearer good"}, {"Authorization", "Bearer bad"}}, http.StatusBadRequest, "Authorization is set 2 times"},
		{"X-API-Key twice", [][2]string{{"X-API-Key", "good"}, {"X-API-Key", "good"}}, http.StatusBadRequest, "X-API-Key is set 2 times"},
		{"X-API-Key alone", [][2]string{{"X-API-Key", "good"}}, http.StatusOK, ""},
		{"Authorization alone", [][2]string{{"Authorization", "Bearer good"}}, http.StatusOK, ""},
		{"blank X-API-Key beside Authorization", [][2]string{{"X-API-Key", " "}, {"Authorization", "Bearer good"}}, http.StatusOK, ""},
		{"invalid Authorization alone", [][2]string{{"Authorization", "Bearer bad"}}, http.StatusUnauthorized, "authentication required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
			req.Header.Set("Content-Type", "application/json")
			for _, kv := range c.headers {
				req.Header.Add(kv[0], kv[1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var r gqlResp
			_ = json.Unmarshal(rec.Body.Bytes(), &r)
			if rec.Code != c.status {
				t.Fatalf("HTTP %d %s, want %d", rec.Code, rec.Body, c.status)
			}
			if c.want != "" && (len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, c.want)) {
				t.Errorf("errors %+v, want one saying %q", r.Errors, c.want)
			}
			if c.status == http.StatusBadRequest && !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_request"`) {
				t.Errorf("WWW-Authenticate = %q, want error=\"invalid_request\"", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// Issue 20 L2 over a websocket: connection_init's payload presents one credential, once. A key
// written twice in different cases, both kinds of credential, or a credential that is not a
// string close the socket with 4403 and the reason; one credential is acknowledged.
func TestTwoCredentialsRefusedInConnectionInit(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(stubHandler(t, httpapi.Options{Authenticate: keyThenBearer}))
	t.Cleanup(ts.Close)
	cases := []struct {
		name    string
		payload map[string]any
		reason  string // "": acknowledged
	}{
		{"authorization in two cases", map[string]any{"authorization": "Bearer good", "AUTHORIZATION": "Bearer good"}, "Authorization twice"},
		{"x-api-key in two cases", map[string]any{"x-api-key": "good", "X-API-Key": "good"}, "X-API-Key twice"},
		{"invalid Authorization, valid X-API-Key", map[string]any{"Authorization": "Bearer bad", "X-API-Key": "good"}, "both Authorization and X-API-Key"},
		{"credential not a string", map[string]any{"Authorization": 42, "X-API-Key": "good"}, "must be a string"},
		{"X-API-Key alone", map[string]any{"X-API-Key": "good"}, ""},
		{"authorization alone, lower case", map[string]any{"authorization": "Bearer good", "other": "ignored"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/graphql",
				&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": c.payload}); err != nil {
				t.Fatal(err)
			}
			for {
				var m map[string]any
				err := wsjson.Read(ctx, conn, &m)
				if err != nil {
					var ce websocket.CloseError
					if c.reason == "" || !errors.As(err, &ce) || ce.Code != 4403 || !strings.Contains(ce.Reason, c.reason) {
						t.Fatalf("closed with %v, want %s", err, map[bool]string{true: "connection_ack", false: "4403 saying " + c.reason}[c.reason == ""])
					}
					return
				}
				if m["type"] == "connection_ack" {
					if c.reason != "" {
						t.Fatalf("acknowledged; want 4403 saying %q", c.reason)
					}
					return
				}
			}
		})
	}
}
