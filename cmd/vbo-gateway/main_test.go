package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe bytes.Buffer for the command's stdout.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The README's first command: --demo serves GraphiQL, GraphQL with the printed demo keys, and
// health, then shuts down cleanly when the context ends (SIGTERM in production).
func TestDemoServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--demo", "--listen", "127.0.0.1:0", "--log-level", "error"}, &out, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not start")
	}
	base := "http://" + addr
	for _, want := range []string{"GraphiQL:  " + base + "/", "demo-admin", "demo-tenant-1", "demo-tenant-3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start-up output lacks %q:\n%s", want, out.String())
		}
	}

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "graphiql") {
		t.Errorf("/ = %d, want the GraphiQL page", code)
	}
	post := func(key string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ viewer { role tenant } servers { name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("demo-admin"); code != 200 || !strings.Contains(body, `"role":"PROVIDER_ADMIN"`) || !strings.Contains(body, `"akl1"`) {
		t.Errorf("admin query = %d %s", code, body)
	}
	if code, body := post("demo-tenant-3"); code != 200 || !strings.Contains(body, `"tenant":"tenant-3"`) || strings.Contains(body, `"syd1"`) {
		t.Errorf("tenant-3 query = %d %s (must not see syd1)", code, body)
	}
	if code, body := post(""); code != 401 || !strings.Contains(body, "UNAUTHENTICATED") {
		t.Errorf("anonymous query = %d %s, want 401 UNAUTHENTICATED", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--demo", "--config", "x.yaml"},
		{"--config", "/does/not/exist.yaml"},
		{"--demo", "--log-level", "loud"},
	} {
		if err := run(context.Background(), args, io.Discard, nil); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}
