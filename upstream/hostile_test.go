package upstream_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// A hostile or broken VBO server, driven through the simulator's faults: redirects (issue 11
// item 3), a stalled body (item 4) and oversized decoded pages (item 8).

// catcher is a server the redirects point at: it records whatever reaches it.
type catcher struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []string // "METHOD URI auth=... body=..."
	host string
}

func newCatcher(t *testing.T) *catcher {
	t.Helper()
	c := &catcher{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		c.mu.Lock()
		c.got = append(c.got, r.Method+" "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization")+" body="+string(body))
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"stolen","expires_in":3600}`)
	}))
	t.Cleanup(c.srv.Close)
	u, _ := url.Parse(c.srv.URL)
	c.host = u.Host
	return c
}

func (c *catcher) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// hostileSim starts a simulator and a client for it (svc/pw). hc, when set, is injected.
func hostileSim(t *testing.T, version string, hc *http.Client, to upstream.Timeouts) (*vbosim.Server, *upstream.Client) {
	t.Helper()
	sim := vbosim.New(vbosim.Options{APIVersion: version, Username: "svc", Password: "pw", Seed: 5, Orgs: 3, Sessions: 40, Now: simNow})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := upstream.NewClient(srv.URL, upstream.ClientOptions{Name: "hostile", APIVersion: version,
		Username: "svc", Password: "pw", HTTPClient: hc, Timeouts: to})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

// The client never follows a redirect: a 307 on the token call would re-post the password,
// a 302 on a GET would send the bearer token. The error names the Location's host only.
func TestClientNeverFollowsRedirects(t *testing.T) {
	injected := &http.Client{Timeout: 30 * time.Second}
	for _, tc := range []struct {
		name   string
		faults func(to string) vbosim.Faults
		hc     *http.Client
	}{
		{"token 307 to another host", func(to string) vbosim.Faults { return vbosim.Faults{RedirectTokenTo: to} }, nil},
		{"GET 302 to another port", func(to string) vbosim.Faults { return vbosim.Faults{RedirectGetTo: to} }, nil},
		{"token 307, injected http.Client", func(to string) vbosim.Faults { return vbosim.Faults{RedirectTokenTo: to} }, injected},
		{"GET 302, injected http.Client", func(to string) vbosim.Faults { return vbosim.Faults{RedirectGetTo: to} }, injected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			catch := newCatcher(t)
			sim, c := hostileSim(t, "v6", tc.hc, upstream.Timeouts{})
			sim.SetFaults(tc.faults("http://" + catch.host + "/capture/secret-path"))
			_, _, err := c.RestoreSessions(context.Background(), upstream.RestoreSessionListOptions{})
			if got := catch.requests(); len(got) != 0 {
				t.Fatalf("the redirect was followed: the other host received %q", got)
			}
			var e *upstream.Error
			if !errors.Is(err, upstream.ErrRedirect) || !errors.As(err, &e) || e.Server != "hostile" {
				t.Fatalf("err = %v, want an *upstream.Error matching ErrRedirect", err)
			}
			if e.StatusCode != http.StatusFound && e.StatusCode != http.StatusTemporaryRedirect {
				t.Errorf("status %d, want the 3xx", e.StatusCode)
			}
			msg := err.Error()
			if !strings.Contains(msg, catch.host) {
				t.Errorf("error %q does not name the Location's host %s", msg, catch.host)
			}
			for _, leak := range []string{"capture", "secret-path", "pw", "Bearer", "eyJ", "vbo-sim"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q contains %q", msg, leak)
				}
			}
			if errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("a redirect is not a transient failure (it would be retried): %v", err)
			}
		})
	}
	if injected.CheckRedirect != nil {
		t.Error("the injected http.Client was modified")
	}
}

// A server that sends its headers and then a byte every half second: each attempt fails on its
// own deadline (idle or total), as a timeout naming the server, long before the caller's.
func TestClientStalledBodyTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		to       upstream.Timeouts
		want     error
		within   time.Duration
	}{
		{"idle: no byte for 200ms", 500 * time.Millisecond, upstream.Timeouts{Idle: 200 * time.Millisecond, Attempt: 10 * time.Second}, upstream.ErrIdleTimeout, 2 * time.Second},
		{"total: a byte every 50ms never ends in 600ms", 50 * time.Millisecond, upstream.Timeouts{Idle: time.Second, Attempt: 600 * time.Millisecond}, upstream.ErrAttemptTimeout, 3 * time.Second},
		{"injected http.Client: the deadlines apply too", 500 * time.Millisecond, upstream.Timeouts{Idle: 200 * time.Millisecond}, upstream.ErrIdleTimeout, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hc *http.Client
			if strings.HasPrefix(tc.name, "injected") {
				hc = &http.Client{}
			}
			sim, c := hostileSim(t, "v6", hc, tc.to)
			sim.SetFaults(vbosim.Faults{StallBody: tc.interval})
			// The caller's own deadline is far away: only the attempt's deadlines can end it.
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			start := time.Now()
			_, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 50}})
			el := time.Since(start)
			var e *upstream.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &e) || e.Server != "hostile" {
				t.Fatalf("after %v: err = %v, want %v from server hostile", el, err, tc.want)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v: a stalled server must read as a timeout (UPSTREAM_TIMEOUT)", err)
			}
			if ctx.Err() != nil || el > tc.within {
				t.Errorf("failed after %v (caller's context: %v), want within %v", el, ctx.Err(), tc.within)
			}
		})
	}
}

// A page of two million `{}` items (6 MB, well under the byte cap) fails as soon as it holds
// more than was asked for, instead of becoming two million structs.
func TestClientBoundsDecodedItems(t *testing.T) {
	const items = 2_000_000
	for _, tc := range []struct {
		name, version string
		call          func(context.Context, *upstream.Client) error
	}{
		{"sessions page", "v6", func(ctx context.Context, c *upstream.Client) error {
			_, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 100}})
			return err
		}},
		{"sessions walk", "v8", func(ctx context.Context, c *upstream.Client) error {
			for _, err := range c.RestoreSessionsIter(ctx, upstream.RestoreSessionListOptions{}) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"events page", "v7", func(ctx context.Context, c *upstream.Client) error {
			_, _, err := c.RestoreSessionEvents(ctx, "00000000-0000-4000-8000-000000000001", upstream.ListOptions{Limit: 30})
			return err
		}},
		{"organisations, plain array", "v6", func(ctx context.Context, c *upstream.Client) error {
			_, err := c.Organizations(ctx)
			return err
		}},
		{"organisations, pages", "v8", func(ctx context.Context, c *upstream.Client) error {
			_, err := c.Organizations(ctx)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, c := hostileSim(t, tc.version, nil, upstream.Timeouts{})
			sim.SetFaults(vbosim.Faults{OversizedItems: items})
			err := tc.call(context.Background(), c)
			var e *upstream.Error
			if !errors.Is(err, upstream.ErrTooManyItems) || !errors.As(err, &e) || e.Server != "hostile" {
				t.Fatalf("err = %v, want an *upstream.Error matching ErrTooManyItems", err)
			}
			if errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("an oversized page is not transient (it would be retried): %v", err)
			}
		})
	}
	t.Run("a page within its limit decodes", func(t *testing.T) {
		sim, c := hostileSim(t, "v6", nil, upstream.Timeouts{})
		sim.SetFaults(vbosim.Faults{OversizedItems: 100})
		p, _, err := c.RestoreSessions(context.Background(), upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 100}})
		if err != nil || len(p.Results) != 100 || p.Limit != 100 {
			t.Fatalf("page = %+v, %v", p, err)
		}
	})
}

// Decoding the 6 MB page of `{}` allocates a bounded amount, not one struct per item. (Without
// the bound it allocates well over 500 MB.)
func TestClientOversizedPageMemoryBounded(t *testing.T) {
	sim, c := hostileSim(t, "v6", nil, upstream.Timeouts{})
	if _, _, err := c.RestoreSessions(context.Background(), upstream.RestoreSessionListOptions{}); err != nil {
		t.Fatal(err) // token and connection set up outside the measurement
	}
	sim.SetFaults(vbosim.Faults{OversizedItems: 2_000_000})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := c.RestoreSessions(context.Background(), upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 1000}})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, upstream.ErrTooManyItems) {
		t.Errorf("err = %v, want ErrTooManyItems", err)
	}
	// TotalAlloc counts the simulator's allocations too (both run in this process); the
	// bound is generous for them and still far below what two million structs take.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("the call allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 32<<20 {
		t.Errorf("decoding allocated %d MiB, want < 32 MiB", alloc>>20)
	}
}

// BenchmarkOversizedPage: allocations of a call answered with a 6 MB page of `{}` (the
// call fails once the page holds more than the 1,000 items asked for).
func BenchmarkOversizedPage(b *testing.B) {
	sim := vbosim.New(vbosim.Options{Username: "svc", Password: "pw", Orgs: 1, Sessions: 1, Now: simNow})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := upstream.NewClient(srv.URL, upstream.ClientOptions{Name: "bench", Username: "svc", Password: "pw"})
	if err != nil {
		b.Fatal(err)
	}
	sim.SetFaults(vbosim.Faults{OversizedItems: 2_000_000})
	opts := upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 1000}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.RestoreSessions(context.Background(), opts); !errors.Is(err, upstream.ErrTooManyItems) {
			b.Fatal(err)
		}
	}
}
