// Package health probes every VBO server in the background, so the gateway's view of each
// server (servers { status }, the upstream_health metric, /readyz) is true before a user's
// query runs into a dead server: a probe obtains a token and makes one cheap call (one restore
// session) on an interval, through the server's client and so through its circuit breaker.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Probe outcomes (besides OK, they are the error codes /readyz reports).
const (
	OK             = "ok"
	Unavailable    = "UPSTREAM_UNAVAILABLE"  // not reachable, or 429/502/503/504
	Unauthorized   = "UPSTREAM_UNAUTHORIZED" // the configured credentials were refused
	Timeout        = "UPSTREAM_TIMEOUT"
	UpstreamError  = "UPSTREAM_ERROR" // any other error answer
	CircuitOpen    = "CIRCUIT_OPEN"   // the breaker is open: no probe sent
	DefaultEvery   = 30 * time.Second
	DefaultTimeout = 10 * time.Second
)

// Observer is told each probe's outcome (the metrics).
type Observer interface {
	ObserveProbe(server, outcome string)
}

// Options tune the monitor. Zero values take the defaults.
type Options struct {
	Interval time.Duration // between probes of one server (default 30s)
	Timeout  time.Duration // one probe's deadline (default 10s)
	Observer Observer
	Logger   *slog.Logger
	// Archive, when set, tells the restore audit archive's writability: /readyz reports not
	// ready once it has been unwritable for longer than ArchiveUnwritableAfter (default
	// config.DefaultUnwritableAfter).
	Archive                func() ArchiveState
	ArchiveUnwritableAfter time.Duration
}

// Monitor holds each server's probe state.
type Monitor struct {
	fleet *upstream.Fleet
	opts  Options

	mu    sync.RWMutex
	state map[string]*probeState
}

type probeState struct {
	probed      bool
	ok          bool
	lastSuccess time.Time
	lastError   time.Time
	errorCode   string
	errorText   string
}

// New returns a monitor for fleet; Run starts probing.
func New(fleet *upstream.Fleet, opts Options) *Monitor {
	if opts.Interval <= 0 {
		opts.Interval = DefaultEvery
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Monitor{fleet: fleet, opts: opts, state: map[string]*probeState{}}
	for _, n := range fleet.Names() {
		m.state[n] = &probeState{}
	}
	return m
}

// Run probes every server now and then every interval, until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range m.fleet.Clients() {
		wg.Go(func() {
			t := time.NewTicker(m.opts.Interval)
			defer t.Stop()
			for {
				m.probe(ctx, c)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
}

// ProbeAll probes every server once, in parallel, and returns when all are done.
func (m *Monitor) ProbeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range m.fleet.Clients() {
		wg.Go(func() { m.probe(ctx, c) })
	}
	wg.Wait()
}

func (m *Monitor) probe(ctx context.Context, c *upstream.Client) {
	if ctx.Err() != nil {
		return
	}
	var err error
	outcome := OK
	if c.Health() == upstream.HealthDown {
		outcome, err = CircuitOpen, upstream.ErrCircuitOpen // respect the breaker: send nothing
	} else {
		pctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
		_, _, err = c.RestoreSessions(pctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 1}})
		cancel()
		if ctx.Err() != nil {
			return // shutting down: not the server's fault
		}
		outcome = classify(err)
	}
	if m.opts.Observer != nil {
		m.opts.Observer.ObserveProbe(c.Name(), outcome)
	}
	now := time.Now()
	m.mu.Lock()
	st := m.state[c.Name()]
	wasOK, probed := st.ok, st.probed
	st.probed = true
	st.ok = err == nil
	if err == nil {
		st.lastSuccess = now
	} else {
		st.lastError, st.errorCode, st.errorText = now, outcome, err.Error()
	}
	m.mu.Unlock()
	switch {
	case err != nil && (wasOK || !probed):
		m.opts.Logger.WarnContext(ctx, "VBO server failed its health probe", "server", c.Name(), "code", outcome, "err", err)
	case err == nil && !wasOK && probed:
		m.opts.Logger.InfoContext(ctx, "VBO server passes its health probe again", "server", c.Name())
	}
}

func classify(err error) string {
	var ue *upstream.Error
	switch {
	case err == nil:
		return OK
	case errors.Is(err, upstream.ErrCircuitOpen):
		return CircuitOpen
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, upstream.ErrUnauthorized):
		return Unauthorized
	case errors.As(err, &ue) && ue.Unavailable():
		return Unavailable
	case errors.As(err, &ue):
		return UpstreamError
	}
	return Unavailable
}

// Health is the server's state from its breaker and its last probe: an open breaker or a
// failed probe is down, a half-open breaker degraded. A server not probed yet counts as up.
func (m *Monitor) Health(server string) upstream.Health {
	c, ok := m.fleet.Get(server)
	if !ok {
		return upstream.HealthDown
	}
	h := c.Health()
	if h != upstream.HealthUp {
		return h
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if st := m.state[server]; st.probed && !st.ok {
		return upstream.HealthDown
	}
	return upstream.HealthUp
}

// reachable: probed successfully and the breaker is not open.
func (m *Monitor) reachable(server string) bool {
	m.mu.RLock()
	st := m.state[server]
	ok := st.probed && st.ok
	m.mu.RUnlock()
	return ok && m.Health(server) != upstream.HealthDown
}

// ServerState is one server's line in /readyz/servers.
type ServerState struct {
	Name          string     `json:"name"`
	State         string     `json:"state"` // UP, DEGRADED, DOWN, or UNKNOWN before the first probe
	LastSuccess   *time.Time `json:"lastSuccess,omitempty"`
	LastError     *time.Time `json:"lastErrorAt,omitempty"`
	LastErrorCode string     `json:"lastErrorCode,omitempty"`
	LastErrorText string     `json:"lastError,omitempty"`
}

// Servers returns every server's state, in configuration order.
func (m *Monitor) Servers() []ServerState {
	var out []ServerState
	for _, name := range m.fleet.Names() {
		h := m.Health(name)
		m.mu.RLock()
		st := *m.state[name]
		m.mu.RUnlock()
		s := ServerState{Name: name, LastErrorCode: st.errorCode, LastErrorText: st.errorText}
		switch {
		case !st.probed && h == upstream.HealthUp:
			s.State = "UNKNOWN"
		case h == upstream.HealthDegraded:
			s.State = "DEGRADED"
		case h == upstream.HealthDown:
			s.State = "DOWN"
		default:
			s.State = "UP"
		}
		if !st.lastSuccess.IsZero() {
			t := st.lastSuccess.UTC()
			s.LastSuccess = &t
		}
		if !st.lastError.IsZero() {
			t := st.lastError.UTC()
			s.LastError = &t
		}
		out = append(out, s)
	}
	return out
}

// Ready reports whether at least one server is reachable, and how many are.
func (m *Monitor) Ready() (ready bool, reachable int) {
	for _, name := range m.fleet.Names() {
		if m.reachable(name) {
			reachable++
		}
	}
	return reachable > 0, reachable
}

// readiness is the /readyz body.
type readiness struct {
	Ready     bool `json:"ready"`
	Reachable int  `json:"reachable"`
	Total     int  `json:"total"`
	// VBOReads: at least one VBO server is reachable, so queries read from VBO keep working
	// (whatever the archive's state).
	VBOReads bool              `json:"vboReads"`
	Archive  *archiveReadiness `json:"archive,omitempty"` // with the restore watch
	Servers  []ServerState     `json:"servers,omitempty"` // provider admins only
}

// Handler serves /readyz: 200 when at least one VBO server is reachable and the archive (with
// the restore watch) has not been unwritable for longer than its bound, else 503, with counts
// and the archive's state and cause; a provider admin (the principal in the request context)
// also gets every server's state, last success and last error code.
func (m *Monitor) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ready, n := m.Ready()
		body := readiness{Ready: ready, Reachable: n, Total: m.fleet.Len(), VBOReads: ready, Archive: m.archiveReady(time.Now())}
		if body.Archive != nil && !body.Archive.Ready {
			ready, body.Ready = false, false
		}
		if auth.FromContext(r.Context()).IsAdmin() {
			body.Servers = m.Servers()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
}
