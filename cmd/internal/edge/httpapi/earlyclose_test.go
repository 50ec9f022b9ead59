package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// rawChunkedPost opens a connection and sends a chunked POST whose body starts and then stalls
// (the last chunk never comes).
func rawChunkedPost(t *testing.T, addr string, headers ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	start := "{\"query\":\"{ vie"
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n%s\r\n%x\r\n%s\r\n",
		strings.Join(headers, ""), len(start), start)
	return conn, bufio.NewReader(conn)
}

// Issue 20 L1: an early refusal (401, 429, 400 before the body is read) of a chunked POST whose
// body never ends is answered at once with `Connection: close`, and the connection closes;
// before, net/http first tried to drain the body and the 401 came only at the read timeout.
// A request whose body was read keeps its connection.
func TestEarlyRefusalsCloseTheConnection(t *testing.T) {
	t.Parallel()
	h := stubHandler(t, httpapi.Options{
		Authenticate: goodKeyOnly,
		Limits:       config.Limits{RateLimit: config.RateLimit{PerSecond: 0.001, Burst: 1}},
	})
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()

	// Spend the rate limit's only token with a complete request.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer good")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("complete request: HTTP %d, close %v; want 200 on a kept connection", resp.StatusCode, resp.Close)
	}

	cases := []struct {
		name    string
		headers []string
		status  int
	}{
		{"unauthenticated", []string{"Content-Type: application/json\r\n", "Authorization: Bearer guess\r\n"}, http.StatusUnauthorized},
		{"no credentials", []string{"Content-Type: application/json\r\n"}, http.StatusUnauthorized},
		{"rate limited", []string{"Content-Type: application/json\r\n", "Authorization: Bearer good\r\n"}, http.StatusTooManyRequests},
		{"CSRF refusal", []string{"Content-Type: text/plain\r\n", "Authorization: Bearer good\r\n"}, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, br := rawChunkedPost(t, addr, c.headers...)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			start := time.Now()
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer while the body stalls (after %v): %v", time.Since(start).Round(time.Millisecond), err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !resp.Close {
				t.Errorf("HTTP %d, Connection %q; want %d with Connection: close", resp.StatusCode, resp.Header.Get("Connection"), c.status)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the refusal the connection reads %v, want EOF (closed)", err)
			}
		})
	}
}
