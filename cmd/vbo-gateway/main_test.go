package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
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
	profile := filepath.Join(t.TempDir(), "cpu.pprof")
	go func() {
		done <- run(ctx, []string{"--demo", "--listen", "127.0.0.1:0", "--log-level", "error", "--cpu-profile", profile},
			&out, io.Discard, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not start")
	}
	if addr == config.DefaultListen {
		t.Fatalf("listening on %s: --listen not applied", addr)
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
	// --cpu-profile: a complete profile (gzip-compressed protobuf) once the run has ended.
	if b, err := os.ReadFile(profile); err != nil || len(b) < 64 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("--cpu-profile wrote %d bytes (%v), want a gzip-compressed profile", len(b), err)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "give --config FILE, or --demo"},
		{[]string{"--demo", "--config", "/does/not/exist.yaml"}, "no such file"},
		{[]string{"--config", "/does/not/exist.yaml"}, "no such file"},
		{[]string{"--demo", "--log-level", "loud"}, "--log-level"},
		{[]string{"--demo", "--log-format", "xml"}, "--log-format"},
		{[]string{"--demo", "extra", "--listen", "127.0.0.1:0"}, `unexpected argument "extra"`},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"--check-config"}, "--check-config needs --config"},
		{[]string{"--demo", "--listen", "127.0.0.1:0", "--cpu-profile", "/does/not/exist/cpu.pprof"}, "--cpu-profile"},
	} {
		var out, errOut syncBuffer
		err := run(context.Background(), tc.args, &out, &errOut, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
		// main prints the error once; run itself prints nothing (no usage dump, no duplicate).
		if out.String() != "" || errOut.String() != "" {
			t.Errorf("run(%q) printed %q / %q, want nothing", tc.args, out.String(), errOut.String())
		}
	}
}

func TestHelpAndVersionExitZero(t *testing.T) {
	var out, errOut syncBuffer
	if err := run(context.Background(), []string{"--help"}, &out, &errOut, nil); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"Usage: vbo-gateway", "-check-config", "-log-format", "SIGHUP", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help output lacks %q", want)
		}
	}
	out = syncBuffer{}
	if err := run(context.Background(), []string{"--version"}, &out, &errOut, nil); err != nil {
		t.Fatalf("--version: %v", err)
	}
	if !strings.HasPrefix(out.String(), "vbo-gateway ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("--version = %q", out.String())
	}
	if errOut.String() != "" {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw"), "secret\n")
	good := "servers:\n  - {name: syd1, url: \"http://127.0.0.1:1\", username: u, passwordFile: pw}\n" +
		"auth:\n  apiKeys: [{name: a, sha256: \"" + demo.KeySHA256("k") + "\", role: PROVIDER_ADMIN}]\n"
	writeFile(t, filepath.Join(dir, "good.yaml"), good)
	writeFile(t, filepath.Join(dir, "bad.yaml"), good+"limits: {persistedQueries: {manifest: missing.json}}\n")
	var out syncBuffer
	// Relative paths are relative to the file, wherever the command runs: the server is not
	// contacted (its port is closed).
	if err := run(context.Background(), []string{"--check-config", "--config", filepath.Join(dir, "good.yaml")}, &out, io.Discard, nil); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if !strings.Contains(out.String(), "OK (1 servers, 0 tenants, 1 API keys") {
		t.Errorf("output = %q", out.String())
	}
	err := run(context.Background(), []string{"--check-config", "--config", filepath.Join(dir, "bad.yaml")}, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("bad config: %v, want an error naming missing.json", err)
	}
}

// --demo with --config: the demo's servers, tenants and keys plus the file's settings (here
// a key of its own and logLevel); SIGHUP reloads the file (a real signal to this process).
func TestDemoWithConfigAndSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "overrides.yaml")
	key := func(name, k string) string {
		return "    - {name: " + name + ", sha256: \"" + demo.KeySHA256(k) + "\", role: PROVIDER_ADMIN}\n"
	}
	writeFile(t, cfgPath, "logLevel: warn\nlimits: {maxDepth: 14}\nauth:\n  apiKeys:\n"+key("ops", "ops-key-1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	var out, logs syncBuffer
	go func() {
		done <- run(ctx, []string{"--demo", "--config", cfgPath, "--listen", "127.0.0.1:0", "--health-interval", "0"}, &out, &logs, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no start")
	}
	if addr == config.DefaultListen {
		t.Fatalf("listening on %s: --listen not applied", addr)
	}
	status := func(k string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status(demo.AdminKey) != 200 || status("ops-key-1") != 200 || status("ops-key-2") != 401 {
		t.Fatalf("before reload: demo key %d, file key %d, unknown key %d", status(demo.AdminKey), status("ops-key-1"), status("ops-key-2"))
	}
	writeFile(t, cfgPath, "logLevel: info\nauth:\n  apiKeys:\n"+key("ops2", "ops-key-2"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for status("ops-key-2") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status("ops-key-1") != 401 || status(demo.AdminKey) != 200 {
		t.Errorf("after reload: removed key %d (want 401), demo key %d (want 200)", status("ops-key-1"), status(demo.AdminKey))
	}
	if !strings.Contains(logs.String(), "configuration reloaded") {
		t.Errorf("no reload line at logLevel info:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestCPUProfileInUse: --cpu-profile while the process is already being profiled fails with a
// clear error before serving, and leaves no empty file where the profile was to be (a profile
// directory merged afterwards would trip over it).
func TestCPUProfileInUse(t *testing.T) {
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Skipf("the test binary is already profiling (go test -cpuprofile): %v", err)
	}
	defer pprof.StopCPUProfile()
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	err := run(context.Background(), []string{"--demo", "--listen", "127.0.0.1:0", "--cpu-profile", path}, io.Discard, io.Discard,
		func(string) { t.Error("served although the profile could not start") })
	if err == nil || !strings.Contains(err.Error(), "--cpu-profile") {
		t.Fatalf("run = %v, want a --cpu-profile error", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("profile file left behind (stat: %v)", err)
	}
}

// TestCPUProfileNotCreatedOnBadFlags: a command line or configuration that is refused, or a
// start-up that fails before serving (the listen address is taken), never creates the
// --cpu-profile file nor changes one already there, and leaves nothing else behind.
func TestCPUProfileNotCreatedOnBadFlags(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw"), "secret\n")
	good := "servers:\n  - {name: syd1, url: \"http://127.0.0.1:1\", username: u, passwordFile: pw}\n" +
		"auth:\n  apiKeys: [{name: a, sha256: \"" + demo.KeySHA256("k") + "\", role: PROVIDER_ADMIN}]\n"
	// Parsed, but refused by app.New (limits are validated there, as --check-config does).
	badLimits := filepath.Join(dir, "bad-limits.yaml")
	writeFile(t, badLimits, good+"limits: {subscriptions: {total: -7}}\n")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, args := range [][]string{
		{"--demo", "--log-format", "xml"},
		{"--config", "/does/not/exist.yaml"},
		{"--demo", "--log-level", "loud"},
		{"--config", badLimits, "--health-interval", "0"},
		{"--demo", "--listen", taken.Addr().String(), "--health-interval", "0"},
	} {
		for _, existing := range []bool{false, true} {
			path := filepath.Join(t.TempDir(), "cpu.pprof")
			if existing {
				writeFile(t, path, "an earlier run's profile")
			}
			if err := run(context.Background(), append(args, "--cpu-profile", path), io.Discard, io.Discard, nil); err == nil {
				t.Fatalf("%v: no error", args)
			}
			b, err := os.ReadFile(path)
			switch {
			case !existing && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("%v: profile file created (read: %v)", args, err)
			case existing && string(b) != "an earlier run's profile":
				t.Errorf("%v: the existing profile file became %d bytes (read: %v)", args, len(b), err)
			}
			want := 0
			if existing {
				want = 1
			}
			if left, _ := os.ReadDir(filepath.Dir(path)); len(left) != want {
				t.Errorf("%v: left in the profile's directory: %v", args, left)
			}
		}
	}
}

// TestStartCPUProfileFinish: finish(true) puts the complete profile at the path, finish(false)
// removes it, and a profile that cannot be moved into place is reported and removed; nothing
// else is left in the directory.
func TestStartCPUProfileFinish(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keep     bool
		blocked  bool // the path is a directory: the profile cannot replace it
		wantFile bool
		wantErr  bool
	}{
		{name: "kept", keep: true, wantFile: true},
		{name: "dropped"},
		{name: "cannot be moved into place", keep: true, blocked: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cpu.pprof")
			if tc.blocked {
				if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			finish, err := startCPUProfile(path)
			if err != nil {
				t.Skipf("cannot profile here (go test -cpuprofile?): %v", err)
			}
			if err := finish(tc.keep); (err != nil) != tc.wantErr {
				t.Fatalf("finish(%v) = %v, want an error: %v", tc.keep, err, tc.wantErr)
			}
			b, err := os.ReadFile(path)
			if tc.wantFile && (err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b) {
				t.Errorf("profile: %d bytes (%v), want a gzip-compressed profile", len(b), err)
			}
			if !tc.wantFile && !tc.blocked && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("profile file present (read: %v)", err)
			}
			want := 0
			if tc.wantFile || tc.blocked {
				want = 1
			}
			if left, _ := os.ReadDir(dir); len(left) != want {
				t.Errorf("left in the directory: %v", left)
			}
		})
	}
}

// A release build's stamp names the build when the toolchain knows no version (issue 23: a
// container build without VCS information printed "(devel)").
func TestVersionStamped(t *testing.T) {
	old := stampedVersion
	t.Cleanup(func() { stampedVersion = old })
	stampedVersion = "v9.8.7-test"
	if v := version(); !strings.HasPrefix(v, "v9.8.7-test") {
		t.Errorf("version() = %q, want the stamp first (a test binary's module version is (devel))", v)
	}
}
