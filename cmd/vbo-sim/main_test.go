package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

func TestRunServesDistinctServers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	urls := map[string]string{}
	readyCh := make(chan struct{}, 2)
	done := make(chan error, 1)
	c := config{listen: "127.0.0.1:0", apiVersion: "v6", username: "admin", password: "password", seed: 1,
		orgs: 5, sessions: 50, maxEvents: 20, servers: 2, tokenLifetime: time.Hour, tls: true}
	go func() {
		done <- run(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), func(name, u string) {
			mu.Lock()
			urls[name] = u
			mu.Unlock()
			readyCh <- struct{}{}
		})
	}()
	for i := 0; i < 2; i++ {
		select {
		case <-readyCh:
		case err := <-done:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatal("servers not ready")
		}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	names := map[string]bool{}
	for _, name := range []string{"sim1", "sim2"} {
		base := urls[name]
		if !strings.HasPrefix(base, "https://127.0.0.1:") || !strings.HasSuffix(base, "/v6") {
			t.Fatalf("url %q", base)
		}
		res, err := client.PostForm(base+"/token", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"password"}})
		if err != nil {
			t.Fatal(err)
		}
		var tok upstream.Token
		json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
		req, _ := http.NewRequest("GET", base+"/Organizations", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		res, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var orgs []upstream.Organization
		json.NewDecoder(res.Body).Decode(&orgs)
		res.Body.Close()
		if len(orgs) != 5 {
			t.Fatalf("%s: %d orgs", name, len(orgs))
		}
		for _, o := range orgs {
			if names[o.ID] {
				t.Fatalf("org id %s shared between servers", o.ID)
			}
			names[o.ID] = true
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}

func TestSelfSignedFingerprint(t *testing.T) {
	cert, fp, err := selfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	if fp != hex.EncodeToString(sum[:]) || len(fp) != 64 {
		t.Fatalf("fingerprint %s", fp)
	}
}

func TestParseNames(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "syd1,mel1,akl1", want: []string{"syd1", "mel1", "akl1"}},
		{in: " syd1 , mel1 ", want: []string{"syd1", "mel1"}},
		{in: "syd1,syd1", wantErr: true},
		{in: "syd1,", wantErr: true},
		{in: "bad name", wantErr: true},
		{in: strings.Repeat("x", 65), wantErr: true},
	} {
		got, err := parseNames(tc.in)
		if (err != nil) != tc.wantErr || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("parseNames(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestRunNamesSeedStepAndAnchor: --names, --seed-step and --now reproduce a fleet built with
// vbosim.New from the same options (what cmd/vbo-bench relies on to plan minimum calls).
func TestRunNamesSeedStepAndAnchor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	c := config{listen: "127.0.0.1:0", apiVersion: "v6", username: "admin", password: "password", seed: 100, seedStep: 1,
		names: []string{"syd1", "mel1"}, now: now, orgs: 3, sessions: 40, maxEvents: 20, servers: 1, tokenLifetime: time.Hour}
	urls := make(chan [2]string, 2)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), func(name, u string) { urls <- [2]string{name, u} })
	}()
	for i := 0; i < 2; i++ {
		var got [2]string
		select {
		case got = <-urls:
		case err := <-done:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatal("servers not ready")
		}
		name, base := got[0], got[1]
		if name != c.names[i] {
			t.Fatalf("server %d named %q, want %q", i, name, c.names[i])
		}
		twin := vbosim.New(vbosim.Options{Name: name, Seed: 100 + int64(i), Orgs: 3, Sessions: 40, Now: now, MaxEventsPerSession: 20})
		cl, err := upstream.NewClient(strings.TrimSuffix(base, "/v6"), upstream.ClientOptions{Name: name, Username: "admin", Password: "password",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		page, _, err := cl.RestoreSessions(ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 5}})
		if err != nil {
			t.Fatal(err)
		}
		want := twin.Sessions()[:5]
		for k, s := range page.Results {
			if s.ID != want[k].ID || !s.CreationTime.Equal(want[k].CreationTime) {
				t.Fatalf("%s: session %d is %s at %s, the twin has %s at %s", name, k, s.ID, s.CreationTime, want[k].ID, want[k].CreationTime)
			}
		}
	}
}
