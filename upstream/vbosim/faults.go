package vbosim

import (
	"encoding/json"
	"time"
)

// Faults configures fault injection. Counters (BurstCount, RateLimitCount) are consumed by
// requests; SetFaults replaces the whole configuration. Faults apply to VBO routes only, never
// to /_sim endpoints.
type Faults struct {
	// Latency (+ uniform random 0..Jitter) delays every non-token call before it is answered.
	// The delay is abandoned when the request context is cancelled.
	Latency, Jitter time.Duration
	// TokenLatency delays POST /vN/token instead of Latency.
	TokenLatency time.Duration
	// ErrorRate is the probability (0..1) that a non-token call answers a random 500.
	ErrorRate float64
	// BurstStatus/BurstCount: the next BurstCount non-token calls answer BurstStatus
	// (e.g. 500, 502, 503) with a RESTExceptionInfo body.
	BurstStatus, BurstCount int
	// RateLimitCount/RetryAfter: the next RateLimitCount calls (token included) answer 429 with a
	// Retry-After header in whole seconds (at least 1).
	RateLimitCount int
	RetryAfter     time.Duration
	// Down makes every call (token and unknown paths included) answer 503 with the body
	// {"message":"vbo-sim: server is down (fault injection)"} and "Connection: close".
	Down bool
}

// SetFaults replaces the fault configuration (goroutine-safe).
func (s *Server) SetFaults(f Faults) {
	s.fMu.Lock()
	s.faults = f
	s.fMu.Unlock()
}

// CurrentFaults returns the fault configuration including remaining counters.
func (s *Server) CurrentFaults() Faults {
	s.fMu.Lock()
	defer s.fMu.Unlock()
	return s.faults
}

// faultsJSON is the /_sim/faults wire form: durations as Go duration strings ("250ms").
type faultsJSON struct {
	Latency        string  `json:"latency,omitempty"`
	Jitter         string  `json:"jitter,omitempty"`
	TokenLatency   string  `json:"tokenLatency,omitempty"`
	ErrorRate      float64 `json:"errorRate,omitempty"`
	BurstStatus    int     `json:"burstStatus,omitempty"`
	BurstCount     int     `json:"burstCount,omitempty"`
	RateLimitCount int     `json:"rateLimitCount,omitempty"`
	RetryAfter     string  `json:"retryAfter,omitempty"`
	Down           bool    `json:"down,omitempty"`
}

func durStr(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// MarshalJSON encodes durations as strings such as "250ms".
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Latency: durStr(f.Latency), Jitter: durStr(f.Jitter), TokenLatency: durStr(f.TokenLatency),
		ErrorRate: f.ErrorRate, BurstStatus: f.BurstStatus, BurstCount: f.BurstCount,
		RateLimitCount: f.RateLimitCount, RetryAfter: durStr(f.RetryAfter), Down: f.Down,
	})
}

// UnmarshalJSON accepts durations as strings such as "250ms" or "2s".
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var out Faults
	for _, p := range []struct {
		s string
		d *time.Duration
	}{{j.Latency, &out.Latency}, {j.Jitter, &out.Jitter}, {j.TokenLatency, &out.TokenLatency}, {j.RetryAfter, &out.RetryAfter}} {
		if p.s == "" {
			continue
		}
		d, err := time.ParseDuration(p.s)
		if err != nil {
			return err
		}
		*p.d = d
	}
	out.ErrorRate, out.BurstStatus, out.BurstCount = j.ErrorRate, j.BurstStatus, j.BurstCount
	out.RateLimitCount, out.Down = j.RateLimitCount, j.Down
	*f = out
	return nil
}

// faultDecision is what the fault layer decided for one request.
type faultDecision struct {
	delay      time.Duration
	status     int // 0 = none
	retryAfter int
	down       bool
}

func (s *Server) decideFaults(token bool) faultDecision {
	s.fMu.Lock()
	defer s.fMu.Unlock()
	f := &s.faults
	var d faultDecision
	if f.Down {
		d.down = true
		return d
	}
	if token {
		d.delay = f.TokenLatency
	} else {
		d.delay = f.Latency
		if f.Jitter > 0 {
			d.delay += time.Duration(s.frng.Int64N(int64(f.Jitter) + 1))
		}
	}
	switch {
	case f.RateLimitCount > 0:
		f.RateLimitCount--
		d.status = 429
		d.retryAfter = max(1, int((f.RetryAfter+time.Second-1)/time.Second))
	case !token && f.BurstCount > 0 && f.BurstStatus != 0:
		f.BurstCount--
		d.status = f.BurstStatus
	case !token && f.ErrorRate > 0 && s.frng.Float64() < f.ErrorRate:
		d.status = 500
	}
	return d
}
