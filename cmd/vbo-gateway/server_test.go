package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// startServer serves h with the HTTP settings on a loopback port.
func startServer(t *testing.T, hc config.HTTP, h http.Handler) string {
	t.Helper()
	hc = hc.WithDefaults()
	if err := hc.Validate(config.DefaultRequestTimeout); err != nil {
		t.Fatal(err)
	}
	ln, err := listenLimited("127.0.0.1:0", hc)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(h, hc, t.Context())
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Issue 11 item 9: at most maxConnections connections are served at once; the next client is
// served once one of them closes.
func TestConnectionCap(t *testing.T) {
	addr := startServer(t, config.HTTP{MaxConnections: 2}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	get := func(c net.Conn, wait time.Duration) (*http.Response, error) {
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
			return nil, err
		}
		return http.ReadResponse(bufio.NewReader(c), nil)
	}
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	for i, c := range held { // both accepted and served: they hold the two slots
		if _, err := get(c, 5*time.Second); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	third := dial(t, addr)
	_ = third.SetDeadline(time.Now().Add(300 * time.Millisecond))
	io.WriteString(third, "GET / HTTP/1.1\r\nHost: gw\r\n\r\n")
	br := bufio.NewReader(third)
	if _, err := http.ReadResponse(br, nil); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection served while two are held (err %v): no connection cap", err)
	}
	held[0].Close()
	_ = third.SetDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection after one closed: %v %v", resp, err)
	}
}

// A client that sends its body too slowly is cut off after readTimeout.
func TestReadTimeoutCutsSlowBodies(t *testing.T) {
	addr := startServer(t, config.HTTP{ReadTimeout: 300 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusRequestTimeout)
		}
	}))
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\n{")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err := io.ReadAll(c) // a response or not, the connection must end
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v with a stalled body", time.Since(start))
	}
}
