package webhooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func loopbackGuard(t *testing.T, allowHTTP bool) *Guard {
	t.Helper()
	g, err := NewGuard(Policy{AllowHTTP: allowHTTP, AllowPrivateNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSendClassifiesAnswers(t *testing.T) {
	key, _ := NewSecret()
	verifier, _ := standardwebhooks.NewWebhook(key.Reveal())
	body := []byte(`{"type":"restore.session.started"}`)
	var redirectedHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { redirectedHits.Add(1) }))
	defer target.Close()

	tests := []struct {
		name       string
		handler    http.HandlerFunc
		result     Result
		status     int
		retryAfter time.Duration
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if err := verifier.Verify(b, r.Header); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
			}
		}, Delivered, 200, 0},
		{"204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, Delivered, 204, 0},
		{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, Failed, 500, 0},
		{"429 with Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		}, Failed, 429, 7 * time.Second},
		{"410", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(410) }, Gone, 410, 0},
		{"302 is a failure, not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusFound)
		}, Failed, 302, 0},
		{"307 is a failure, not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		}, Failed, 307, 0},
	}
	c, err := NewClient(ClientOptions{Guard: loopbackGuard(t, true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			out := c.Send(context.Background(), Message{ID: "msg_x", URL: srv.URL + "/hook", Body: body, Keys: []Secret{key}})
			if out.Result != tt.result || out.StatusCode != tt.status || out.RetryAfter != tt.retryAfter {
				t.Fatalf("got %v status %d retryAfter %v (%v); want %v %d %v", out.Result, out.StatusCode, out.RetryAfter, out.Err, tt.result, tt.status, tt.retryAfter)
			}
			if (out.Err == nil) != (tt.result == Delivered) {
				t.Fatalf("err %v for result %v", out.Err, out.Result)
			}
		})
	}
	if n := redirectedHits.Load(); n != 0 {
		t.Fatalf("a redirect was followed (%d hits)", n)
	}
}

func TestSendTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, _ := NewClient(ClientOptions{Guard: loopbackGuard(t, true), Timeout: 200 * time.Millisecond})
	out := c.Send(context.Background(), Message{ID: "msg_t", URL: srv.URL, Body: []byte(`{}`)})
	if out.Result != Failed || out.StatusCode != 0 || out.Err == nil {
		t.Fatalf("got %v status %d err %v; want a failure without status", out.Result, out.StatusCode, out.Err)
	}
}

func TestSendRequiresHTTPSUnlessAllowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c, _ := NewClient(ClientOptions{Guard: loopbackGuard(t, false)})
	out := c.Send(context.Background(), Message{ID: "msg_h", URL: srv.URL, Body: []byte(`{}`)})
	if out.Result != Failed || !errors.Is(out.Err, ErrRefusedTarget) || hits.Load() != 0 {
		t.Fatalf("got %v (%v), %d hits; want refused before sending", out.Result, out.Err, hits.Load())
	}
}

func TestSendOverTLSWithVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) }))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tests := []struct {
		name string
		tls  *tls.Config
		want Result
	}{
		{"trusted CA", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Delivered},
		{"unknown CA is refused", nil, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := NewClient(ClientOptions{Guard: loopbackGuard(t, false), TLS: tt.tls})
			out := c.Send(context.Background(), Message{ID: "msg_s", URL: srv.URL, Body: []byte(`{}`)})
			if out.Result != tt.want {
				t.Fatalf("got %v (%v), want %v", out.Result, out.Err, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"120", 2 * time.Minute},
		{"999999999", MaxRetryAfter},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second},
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestScheduleFollowsSpecificationWithJitter(t *testing.T) {
	s, err := NewSchedule(nil, DefaultJitter)
	if err != nil {
		t.Fatal(err)
	}
	if s.Attempts() != 10 {
		t.Fatalf("%d attempts, want 10", s.Attempts())
	}
	for made, base := range DefaultSchedule {
		for range 50 {
			d, ok := s.Next(made, 0)
			if !ok {
				t.Fatalf("no attempt after %d", made)
			}
			lo, hi := time.Duration(float64(base)*0.9), time.Duration(float64(base)*1.1)
			if d < lo || d > hi {
				t.Fatalf("delay before attempt %d = %v, want within [%v, %v]", made+1, d, lo, hi)
			}
		}
	}
	if _, ok := s.Next(10, 0); ok {
		t.Fatal("an 11th attempt was scheduled")
	}
	// Jitter really varies the delay.
	seen := map[time.Duration]bool{}
	for range 20 {
		d, _ := s.Next(2, 0)
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Fatal("no jitter")
	}
}

func TestScheduleHonoursRetryAfter(t *testing.T) {
	s, _ := NewSchedule([]time.Duration{0, time.Second, time.Minute}, 0)
	tests := []struct {
		made       int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, time.Second},
		{1, 30 * time.Second, 30 * time.Second}, // longer than the schedule: wait for it
		{2, 30 * time.Second, time.Minute},      // shorter: the schedule wins
		{1, 48 * time.Hour, MaxRetryAfter},      // capped
	}
	for _, tt := range tests {
		if d, _ := s.Next(tt.made, tt.retryAfter); d != tt.want {
			t.Errorf("Next(%d, %v) = %v, want %v", tt.made, tt.retryAfter, d, tt.want)
		}
	}
	for _, bad := range [][]time.Duration{{}, {-time.Second}} {
		if _, err := NewSchedule(bad, 0); err == nil {
			t.Errorf("NewSchedule(%v) accepted", bad)
		}
	}
	if _, err := NewSchedule(nil, 1.5); err == nil {
		t.Error("jitter 1.5 accepted")
	}
}
