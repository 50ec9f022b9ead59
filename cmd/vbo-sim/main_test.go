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
