package health_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/health"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

type countingObserver struct {
	mu  sync.Mutex
	got map[string]int
}

func (c *countingObserver) ObserveProbe(server, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[server+" "+outcome]++
}

// closedURL is a loopback address nothing listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// Each kind of server gets the state and error code it deserves from one probe.
func TestProbeOutcomes(t *testing.T) {
	good := httptest.NewServer(vbosim.New(vbosim.Options{Name: "good", Username: "u", Password: "p", Orgs: 2, Sessions: 5}))
	defer good.Close()
	wrongPassword := httptest.NewServer(vbosim.New(vbosim.Options{Name: "wrong", Username: "u", Password: "other", Orgs: 2, Sessions: 5}))
	defer wrongPassword.Close()
	down := vbosim.New(vbosim.Options{Name: "down", Username: "u", Password: "p", Faults: vbosim.Faults{Down: true}})
	downSrv := httptest.NewServer(down)
	defer downSrv.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"a","expires_in":3600}`))
			return
		}
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer broken.Close()

	var clients []*upstream.Client
	for name, url := range map[string]string{"good": good.URL, "wrong": wrongPassword.URL, "down": downSrv.URL,
		"broken": broken.URL, "refused": closedURL(t)} {
		c, err := upstream.NewClient(url, upstream.ClientOptions{Name: name, Username: "u", Password: "p",
			Breaker: &upstream.BreakerSettings{Failures: 100, Cooldown: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	fleet, err := upstream.NewFleet(clients...)
	if err != nil {
		t.Fatal(err)
	}
	obs := &countingObserver{got: map[string]int{}}
	m := health.New(fleet, health.Options{Timeout: 5 * time.Second, Observer: obs})
	if ready, _ := m.Ready(); ready {
		t.Fatal("ready before any probe")
	}
	m.ProbeAll(context.Background())

	want := map[string][2]string{ // state, last error code
		"good":    {"UP", ""},
		"wrong":   {"DOWN", health.Unauthorized},
		"down":    {"DOWN", health.Unavailable},
		"broken":  {"DOWN", health.UpstreamError},
		"refused": {"DOWN", health.Unavailable},
	}
	for _, s := range m.Servers() {
		w := want[s.Name]
		if s.State != w[0] || s.LastErrorCode != w[1] || (s.LastSuccess != nil) != (w[0] == "UP") {
			t.Errorf("%s = %+v, want %v", s.Name, s, w)
		}
		if m.Health(s.Name) == upstream.HealthUp != (w[0] == "UP") {
			t.Errorf("%s: Health = %v", s.Name, m.Health(s.Name))
		}
		outcome := w[1]
		if outcome == "" {
			outcome = health.OK
		}
		if obs.got[s.Name+" "+outcome] != 1 {
			t.Errorf("%s: observer saw %v, want one %s", s.Name, obs.got, outcome)
		}
	}
	if ready, n := m.Ready(); !ready || n != 1 {
		t.Errorf("Ready = %v, %d; want true, 1", ready, n)
	}

	// The server comes back: the next probe says so.
	down.SetFaults(vbosim.Faults{})
	m.ProbeAll(context.Background())
	if m.Health("down") != upstream.HealthUp {
		t.Errorf("down after recovery: %v", m.Health("down"))
	}

	// /readyz: counts for anyone, the per-server detail for provider admins only.
	get := func(p *auth.Principal) map[string]any {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		if p != nil {
			req = req.WithContext(auth.WithPrincipal(req.Context(), p))
		}
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, req)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
			t.Fatalf("/readyz = %d %s", rec.Code, rec.Body)
		}
		return body
	}
	if b := get(nil); b["servers"] != nil || b["reachable"] != float64(2) || b["total"] != float64(5) {
		t.Errorf("anonymous /readyz = %v", b)
	}
	if b := get(auth.NewTenantAuditor("t", "t1", nil)); b["servers"] != nil {
		t.Errorf("tenant /readyz shows servers: %v", b)
	}
	if b := get(auth.NewAdmin("ops")); len(b["servers"].([]any)) != 5 {
		t.Errorf("admin /readyz = %v", b)
	}
}

// An open breaker is respected: the probe sends nothing and reports CIRCUIT_OPEN.
func TestProbeRespectsTheBreaker(t *testing.T) {
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := upstream.NewClient(srv.URL, upstream.ClientOptions{Name: "s", Username: "u", Password: "p",
		Breaker: &upstream.BreakerSettings{Failures: 1, Cooldown: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	fleet, _ := upstream.NewFleet(c)
	m := health.New(fleet, health.Options{})
	m.ProbeAll(context.Background()) // fails, opens the breaker
	mu.Lock()
	before := calls
	mu.Unlock()
	m.ProbeAll(context.Background())
	mu.Lock()
	after := calls
	mu.Unlock()
	if before == 0 || after != before {
		t.Errorf("calls before/after the breaker opened: %d/%d, want no call once open", before, after)
	}
	if s := m.Servers()[0]; s.State != "DOWN" || s.LastErrorCode != health.CircuitOpen {
		t.Errorf("state = %+v, want DOWN with CIRCUIT_OPEN", s)
	}
}
