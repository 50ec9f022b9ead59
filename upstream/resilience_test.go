package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// resVBO is a minimal VBO: the token always succeeds; /v6/Organizations answers whatever the
// test's script says, counting calls.
type resVBO struct {
	srv        *httptest.Server
	tokenCalls atomic.Int32
	orgCalls   atomic.Int32
	mu         sync.Mutex
	tokenPlan  []int // statuses for the next token calls (then 200)
	orgPlan    []int // statuses for the next org calls (then 200 unless orgDefault)
	orgDefault int
	retryAfter string
	delay      atomic.Int64 // time.Duration
}

func newResVBO(t *testing.T) *resVBO {
	t.Helper()
	v := &resVBO{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v6/token", func(w http.ResponseWriter, r *http.Request) {
		v.tokenCalls.Add(1)
		if st := v.next(&v.tokenPlan, 0); st != 0 {
			w.WriteHeader(st)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok","refresh_token":"ref","expires_in":3600}`)
	})
	mux.HandleFunc("GET /v6/Organizations", func(w http.ResponseWriter, r *http.Request) {
		v.orgCalls.Add(1)
		if d := time.Duration(v.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		v.mu.Lock()
		ra := v.retryAfter
		v.mu.Unlock()
		if st := v.next(&v.orgPlan, v.orgDefault); st != 0 {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			w.WriteHeader(st)
			fmt.Fprint(w, `{"message":"secret upstream detail"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[{"id":"o1","name":"Org 1"}]`)
	})
	v.srv = httptest.NewServer(mux)
	t.Cleanup(v.srv.Close)
	return v
}

func (v *resVBO) next(plan *[]int, def int) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(*plan) == 0 {
		return def
	}
	st := (*plan)[0]
	*plan = (*plan)[1:]
	return st
}

func (v *resVBO) client(t *testing.T, o ClientOptions) *Client {
	t.Helper()
	if o.Name == "" {
		o.Name = "t1"
	}
	if o.Username == "" {
		o.Username, o.Password = "svc", "pw"
	}
	c, err := NewClient(v.srv.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var fastRetry = RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

func TestRetryTransientStatuses(t *testing.T) {
	for _, st := range []int{502, 503, 504} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			v := newResVBO(t)
			v.orgPlan = []int{st, st}
			c := v.client(t, ClientOptions{Retry: fastRetry})
			if _, err := c.Organizations(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := v.orgCalls.Load(); n != 3 {
				t.Errorf("org calls = %d, want 3 (2 failures + success)", n)
			}
			if s := c.Stats(); s.Retries != 2 || s.Attempts != 4 {
				t.Errorf("stats = %+v, want 2 retries, 4 attempts (token + 3)", s)
			}
		})
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	v := newResVBO(t)
	v.orgDefault = 503
	c := v.client(t, ClientOptions{Retry: fastRetry})
	_, err := c.Organizations(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if n := v.orgCalls.Load(); n != 3 {
		t.Errorf("org calls = %d, want 3", n)
	}
}

func TestNoRetryOnOtherStatuses(t *testing.T) {
	for _, st := range []int{400, 403, 404, 409, 500, 501} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			v := newResVBO(t)
			v.orgPlan = []int{st}
			c := v.client(t, ClientOptions{Retry: fastRetry})
			if _, err := c.Organizations(context.Background()); err == nil {
				t.Fatal("no error")
			}
			if n := v.orgCalls.Load(); n != 1 {
				t.Errorf("org calls = %d, want 1", n)
			}
		})
	}
}

func TestNoRetryWithoutPolicy(t *testing.T) {
	v := newResVBO(t)
	v.orgPlan = []int{503}
	c := v.client(t, ClientOptions{})
	if _, err := c.Organizations(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := v.orgCalls.Load(); n != 1 {
		t.Errorf("org calls = %d, want 1 (a bare client does not retry)", n)
	}
}

func TestTokenCallRetried(t *testing.T) {
	v := newResVBO(t)
	v.tokenPlan = []int{503, 429}
	c := v.client(t, ClientOptions{Retry: fastRetry})
	if _, err := c.Organizations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := v.tokenCalls.Load(); n != 3 {
		t.Errorf("token calls = %d, want 3", n)
	}
	v.tokenPlan = []int{400}
	c2 := v.client(t, ClientOptions{Retry: fastRetry})
	v.tokenCalls.Store(0)
	if _, err := c2.Organizations(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if n := v.tokenCalls.Load(); n != 1 {
		t.Errorf("refused grant: token calls = %d, want 1 (no retry)", n)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	v := newResVBO(t)
	v.orgPlan = []int{429}
	v.retryAfter = "1"
	c := v.client(t, ClientOptions{Retry: fastRetry})
	start := time.Now()
	if _, err := c.Organizations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("retried after %v, want >= 1s (Retry-After)", el)
	}
	if n := v.orgCalls.Load(); n != 2 {
		t.Errorf("org calls = %d, want 2", n)
	}
}

func TestRetryNeverPastDeadline(t *testing.T) {
	v := newResVBO(t)
	v.orgPlan = []int{429}
	v.retryAfter = "5"
	c := v.client(t, ClientOptions{Retry: fastRetry})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Organizations(ctx)
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 429 {
		t.Fatalf("err = %v, want the 429", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("took %v: must not wait for a Retry-After past the deadline", el)
	}
	if n := v.orgCalls.Load(); n != 1 {
		t.Errorf("org calls = %d, want 1", n)
	}
}

func TestCancelStopsRetryWait(t *testing.T) {
	v := newResVBO(t)
	v.orgDefault = 503
	c := v.client(t, ClientOptions{Retry: RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: time.Second}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := c.Organizations(ctx); err == nil {
		t.Fatal("no error")
	}
	if el := time.Since(start); el > 700*time.Millisecond {
		t.Errorf("cancel took %v to stop the retry loop", el)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	v := newResVBO(t)
	v.orgDefault = 500
	var transitions []string
	var mu sync.Mutex
	c := v.client(t, ClientOptions{Breaker: &BreakerSettings{Failures: 3, Cooldown: 150 * time.Millisecond,
		OnStateChange: func(_ string, from, to Health) {
			mu.Lock()
			transitions = append(transitions, from.String()+">"+to.String())
			mu.Unlock()
		}}})
	ctx := context.Background()
	for range 3 {
		if _, err := c.Organizations(ctx); err == nil {
			t.Fatal("no error")
		}
	}
	if h := c.Health(); h != HealthDown {
		t.Fatalf("health = %v after 3 failures, want down", h)
	}
	before := v.orgCalls.Load()
	for range 5 {
		_, err := c.Organizations(ctx)
		if !errors.Is(err, ErrCircuitOpen) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrCircuitOpen (and ErrUnavailable)", err)
		}
	}
	if n := v.orgCalls.Load() - before; n != 0 {
		t.Errorf("open breaker let %d calls through", n)
	}
	if s := c.Stats(); s.ShortCircuits != 5 {
		t.Errorf("short circuits = %d, want 5", s.ShortCircuits)
	}
	time.Sleep(200 * time.Millisecond)
	if h := c.Health(); h != HealthDegraded {
		t.Fatalf("health = %v after cool-down, want degraded (half-open)", h)
	}
	v.mu.Lock()
	v.orgDefault = 0
	v.mu.Unlock()
	if _, err := c.Organizations(ctx); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if h := c.Health(); h != HealthUp {
		t.Fatalf("health = %v after a good probe, want up", h)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(transitions) != "[up>down down>degraded degraded>up]" {
		t.Errorf("transitions = %v", transitions)
	}
}

func TestBreakerIgnoresClientErrors(t *testing.T) {
	v := newResVBO(t)
	v.orgDefault = 404
	c := v.client(t, ClientOptions{Breaker: &BreakerSettings{Failures: 2, Cooldown: time.Minute}})
	for range 5 {
		_, _ = c.Organizations(context.Background())
	}
	if h := c.Health(); h != HealthUp {
		t.Errorf("health = %v after 404s, want up", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		_, _ = c.Organizations(ctx)
	}
	if h := c.Health(); h != HealthUp {
		t.Errorf("health = %v after cancelled calls, want up", h)
	}
}

func TestResponseTimeoutIsTimeout(t *testing.T) {
	v := newResVBO(t)
	v.delay.Store(int64(2 * time.Second))
	c := v.client(t, ClientOptions{Timeouts: Timeouts{Connect: time.Second, ResponseHeader: 100 * time.Millisecond}, Retry: fastRetry})
	start := time.Now()
	_, err := c.Organizations(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want a timeout (DeadlineExceeded) of class unavailable", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v, want ~100ms", el)
	}
}

func TestQueueWaitCountsAgainstDeadline(t *testing.T) {
	v := newResVBO(t)
	c := v.client(t, ClientOptions{MaxConcurrency: 1})
	if _, err := c.Organizations(context.Background()); err != nil { // token + 1
		t.Fatal(err)
	}
	v.delay.Store(int64(500 * time.Millisecond))
	go func() { _, _ = c.Organizations(context.Background()) }() // holds the only slot
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Organizations(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded while queued", err)
	}
	if n := v.orgCalls.Load(); n != 2 {
		t.Errorf("org calls = %d, want 2 (the queued call never went out)", n)
	}
}
