package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Queries and mutations get the same admission whatever their transport (ARCHITECTURE.md rule
// 10): the request deadline and the per-principal concurrency limit HTTP requests meet also
// bound a query sent over SSE or a websocket (graphql-transport-ws and legacy graphql-ws).

// stalledUpstream answers an organisation list only when the caller's context ends (a VBO
// server that accepted the call and went silent), or when the test ends.
type stalledUpstream struct {
	stubUpstream
	gone <-chan struct{}
}

func (u stalledUpstream) Organizations(ctx context.Context) ([]upstream.Organization, error) {
	select {
	case <-ctx.Done():
		return nil, &upstream.Error{Server: "s1", Err: ctx.Err()}
	case <-u.gone:
		return nil, &upstream.Error{Server: "s1", Err: errors.New("test over")}
	}
}

// keyAdmins authenticates "Bearer <name>" as the admin <name> (one principal per name).
func keyAdmins(r *http.Request) (*auth.Principal, error) {
	if k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); k != "" && k != r.Header.Get("Authorization") {
		return auth.NewAdmin(k), nil
	}
	return nil, errors.New("no key")
}

type admissionResult struct {
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Data   json.RawMessage `json:"data"`
	status int             // HTTP status (SSE and POST)
}

func (r admissionResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// runOp sends one operation as key over transport ("http", "sse", "graphql-transport-ws",
// "graphql-ws") and returns its (first) result.
func runOp(ctx context.Context, t *testing.T, url, transport, key, query string) admissionResult {
	t.Helper()
	switch transport {
	case "http", "sse":
		body, _ := json.Marshal(map[string]string{"query": query})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		if transport == "sse" {
			req.Header.Set("Accept", "text/event-stream")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", transport, err)
			return admissionResult{}
		}
		defer resp.Body.Close()
		var res admissionResult
		if transport == "http" || resp.StatusCode != http.StatusOK {
			_ = json.NewDecoder(resp.Body).Decode(&res)
			res.status = resp.StatusCode
			return res
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				if err := json.Unmarshal([]byte(data), &res); err != nil {
					t.Errorf("sse event %q: %v", data, err)
				}
				res.status = resp.StatusCode
				return res
			}
		}
		t.Errorf("sse: the stream ended without an event: %v", sc.Err())
		return admissionResult{}
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{transport}})
	if err != nil {
		t.Errorf("%s: %v", transport, err)
		return admissionResult{}
	}
	defer func() { _ = c.CloseNow() }()
	type message struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + key}}); err != nil {
		t.Errorf("%s: %v", transport, err)
		return admissionResult{}
	}
	start, next := "subscribe", "next"
	if transport == "graphql-ws" {
		start, next = "start", "data"
	}
	if err := wsjson.Write(ctx, c, map[string]any{"type": start, "id": "1", "payload": map[string]any{"query": query}}); err != nil {
		t.Errorf("%s: %v", transport, err)
		return admissionResult{}
	}
	for {
		var m message
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Errorf("%s: no result: %v", transport, err)
			return admissionResult{}
		}
		switch m.Type {
		case "ping":
			_ = wsjson.Write(ctx, c, map[string]any{"type": "pong"})
		case next:
			var res admissionResult
			if err := json.Unmarshal(m.Payload, &res); err != nil {
				t.Errorf("%s: %s: %v", transport, m.Payload, err)
			}
			return res
		case "error", "complete":
			t.Errorf("%s: %s %s before a result", transport, m.Type, m.Payload)
			return admissionResult{}
		}
	}
}

// TestStreamQueryDeadline: a query whose VBO server stalls ends at the request deadline with
// UPSTREAM_TIMEOUT over every transport, as over HTTP. Before, over SSE it ran until the client
// gave up (the stream skipped the deadline).
func TestStreamQueryDeadline(t *testing.T) {
	t.Parallel()
	const deadline, slack = 300 * time.Millisecond, 2 * time.Second
	gone := make(chan struct{})
	t.Cleanup(func() { close(gone) })
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: stalledUpstream{gone: gone}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(t, httpapi.Options{Backend: b, Authenticate: keyAdmins, RequestTimeout: deadline}))
	t.Cleanup(srv.Close)
	for _, tr := range []string{"http", "sse", "graphql-transport-ws", "graphql-ws"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), deadline+slack)
			defer cancel()
			start := time.Now()
			res := runOp(ctx, t, srv.URL, tr, "alice", `{ organizations { totalCount } }`)
			took := time.Since(start)
			if res.code() != "UPSTREAM_TIMEOUT" || took > deadline+slack {
				t.Errorf("a stalled upstream over %s: %+v after %v, want UPSTREAM_TIMEOUT within %v", tr, res.Errors, took, deadline+slack)
			}
		})
	}
}

// TestStreamQueryConcurrency: one principal's queries in flight count against one
// per-principal concurrency limit whatever their transports; the one over the limit is refused
// RATE_LIMITED (429 over HTTP) naming concurrency.perPrincipal, while another principal's
// query over the same transport runs. Before, queries over SSE took no slot: a principal could
// run any number at once that way, and HTTP saw none of them.
func TestStreamQueryConcurrency(t *testing.T) {
	t.Parallel()
	const probe = `{ viewer { role } }`
	cases := []struct {
		name  string
		held  [2]string // the two queries held upstream (the limit is 2)
		probe string    // the third, refused
	}{
		{"SSE and SSE, then SSE", [2]string{"sse", "sse"}, "sse"},
		{"HTTP and HTTP, then SSE", [2]string{"http", "http"}, "sse"},
		{"SSE and SSE, then HTTP", [2]string{"sse", "sse"}, "http"},
		{"SSE and websocket, then websocket", [2]string{"sse", "graphql-transport-ws"}, "graphql-transport-ws"},
		{"websocket and legacy websocket, then SSE", [2]string{"graphql-transport-ws", "graphql-ws"}, "sse"},
		{"websocket and websocket, then legacy websocket", [2]string{"graphql-transport-ws", "graphql-transport-ws"}, "graphql-ws"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u := heldUpstream{entered: make(chan struct{}, 10), release: make(chan struct{})}
			b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: u}}, loaders.Config{ListingTTL: -1})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(newHandler(t, httpapi.Options{Backend: b, Authenticate: keyAdmins,
				Limits: config.Limits{Concurrency: config.Concurrency{PerPrincipal: 2, MaxQueued: 0, QueueTimeout: 50 * time.Millisecond}}}))
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			held := make(chan admissionResult, 2)
			for _, tr := range c.held {
				wg.Go(func() { held <- runOp(ctx, t, srv.URL, tr, "flood", `{ organizations { totalCount } }`) })
			}
			for range 2 {
				select {
				case <-u.entered:
				case <-ctx.Done():
					t.Fatal("the held queries never reached the upstream")
				}
			}
			refused := runOp(ctx, t, srv.URL, c.probe, "flood", probe)
			ok := refused.code() == "RATE_LIMITED" && refused.Errors[0].Extensions["limit"] == "concurrency.perPrincipal"
			if c.probe == "http" {
				ok = ok && refused.status == http.StatusTooManyRequests
			}
			if !ok {
				t.Errorf("a third query over %s while two run: %+v (HTTP %d), want RATE_LIMITED concurrency.perPrincipal", c.probe, refused.Errors, refused.status)
			}
			if other := runOp(ctx, t, srv.URL, c.probe, "other", probe); len(other.Errors) != 0 || !strings.Contains(string(other.Data), "ADMIN") {
				t.Errorf("another principal's query over %s meanwhile: %+v %s", c.probe, other.Errors, other.Data)
			}
			close(u.release)
			wg.Wait()
			close(held)
			for r := range held {
				if len(r.Errors) != 0 {
					t.Errorf("a held query: %+v", r.Errors)
				}
			}
			// The slots came back: the principal runs again, over the probe's transport.
			if again := runOp(ctx, t, srv.URL, c.probe, "flood", probe); len(again.Errors) != 0 {
				t.Errorf("after the held queries ended: %+v", again.Errors)
			}
		})
	}
}

// TestStreamQueryCost: a query HTTP refuses for its estimated cost is refused the same way over
// SSE and the websocket (QUERY_TOO_COMPLEX, the same limit), before it runs. Before, an SSE
// request had no meter and the cost check let it through unestimated.
func TestStreamQueryCost(t *testing.T) {
	t.Parallel()
	const expensive = `{ restoreSessions(first: 500) { edges { node { events(first: 500) { edges { node { id } } } } } } }`
	srv := httptest.NewServer(stubHandler(t, httpapi.Options{Authenticate: keyAdmins}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	want := runOp(ctx, t, srv.URL, "http", "alice", expensive)
	if want.code() != "QUERY_TOO_COMPLEX" {
		t.Fatalf("over HTTP: %+v, want QUERY_TOO_COMPLEX", want.Errors)
	}
	for _, tr := range []string{"sse", "graphql-transport-ws", "graphql-ws"} {
		got := runOp(ctx, t, srv.URL, tr, "alice", expensive)
		if got.code() != "QUERY_TOO_COMPLEX" || got.Errors[0].Extensions["limit"] != want.Errors[0].Extensions["limit"] {
			t.Errorf("over %s: %+v, %d bytes of data; want QUERY_TOO_COMPLEX as over HTTP (%v)", tr, got.Errors, len(got.Data), want.Errors[0].Extensions)
		}
	}
}

// TestSSEBodyReadTimeout: the server's read timeout bounds an SSE request's body as any
// request's (a client trickling it holds no concurrency slot and has no request deadline yet).
// Before, the timeout was lifted on arrival, and a body that never finished held its
// connection for good.
func TestSSEBodyReadTimeout(t *testing.T) {
	t.Parallel()
	const readTimeout, slack = 300 * time.Millisecond, 2 * time.Second
	srv := httptest.NewUnstartedServer(stubHandler(t, httpapi.Options{Authenticate: keyAdmins, Feed: replayFeed{n: 1}}))
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	body := `{"query":"subscription { restoreSessionStarted(since: \"2000-01-01T00:00:00Z\") { upstreamId } }"}`
	// The headers and the body's first bytes, then nothing more.
	_, err = fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"+
		"Authorization: Bearer alice\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(readTimeout + slack))
	_, err = io.Copy(io.Discard, c) // the gateway answers the failed read and closes, or just closes
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection with an unfinished SSE body was still open after %v (read timeout %v)", time.Since(start), readTimeout)
	}
}
