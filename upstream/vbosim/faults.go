package vbosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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
	// RedirectTokenTo makes POST /vN/token answer 307 Temporary Redirect with Location
	// RedirectTokenTo + the request URI (e.g. "http://127.0.0.1:9999/steal"): a client that
	// follows it re-posts the form, password included, to that address.
	RedirectTokenTo string
	// RedirectGetTo makes every GET answer 302 Found with Location RedirectGetTo + the request
	// URI: a client that follows it sends its bearer token there.
	RedirectGetTo string
	// StallBody makes every successful GET send its status and headers at once, then its body
	// one byte every StallBody (flushed), until done or the client gives up.
	StallBody time.Duration
	// OversizedItems makes every listing GET (Organizations, RestoreSessions, Events, v8's /Events) answer
	// 200 with this many empty objects {} as its items, whatever limit was asked: a plain
	// array for v6/v7 Organizations, else a page envelope. The body is streamed, never built
	// in memory.
	OversizedItems int
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
	RedirectToken  string  `json:"redirectTokenTo,omitempty"`
	RedirectGet    string  `json:"redirectGetTo,omitempty"`
	StallBody      string  `json:"stallBody,omitempty"`
	OversizedItems int     `json:"oversizedItems,omitempty"`
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
		RedirectToken: f.RedirectTokenTo, RedirectGet: f.RedirectGetTo, StallBody: durStr(f.StallBody),
		OversizedItems: f.OversizedItems,
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
	}{{j.Latency, &out.Latency}, {j.Jitter, &out.Jitter}, {j.TokenLatency, &out.TokenLatency}, {j.RetryAfter, &out.RetryAfter}, {j.StallBody, &out.StallBody}} {
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
	out.RedirectTokenTo, out.RedirectGetTo, out.OversizedItems = j.RedirectToken, j.RedirectGet, j.OversizedItems
	*f = out
	return nil
}

// faultDecision is what the fault layer decided for one request.
type faultDecision struct {
	delay      time.Duration
	status     int // 0 = none
	retryAfter int
	down       bool
	redirectTo string // "" = none; else the Location prefix
	stall      time.Duration
	oversized  int
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
		d.redirectTo = f.RedirectTokenTo
	} else {
		d.redirectTo, d.stall, d.oversized = f.RedirectGetTo, f.StallBody, f.OversizedItems
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

// redirect answers a redirect to prefix + the request URI: 307 for the token POST (a client
// that follows it re-posts the body), 302 for GETs.
func redirect(w http.ResponseWriter, r *http.Request, prefix string) {
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusTemporaryRedirect
	}
	w.Header().Set("Location", strings.TrimRight(prefix, "/")+r.URL.RequestURI())
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":"vbo-sim: moved (fault injection)"}`)
}

// stallWriter collects a handler's answer so that serveStalled can send it slowly.
type stallWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (s *stallWriter) Header() http.Header { return s.header }
func (s *stallWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}
func (s *stallWriter) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return s.body.Write(b)
}

// serveStalled runs serve into a buffer, then sends the status and headers at once and the
// body one byte every interval, flushed, until it is done or the client has gone.
func serveStalled(w http.ResponseWriter, r *http.Request, interval time.Duration, serve func(http.ResponseWriter)) {
	sw := &stallWriter{header: w.Header()}
	serve(sw)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	body := sw.body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(sw.status)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := range body {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// serveOversized streams a listing of n empty objects: `[{},{},...]` when plain, else a page
// envelope `{"offset":0,"limit":..,"results":[{},...]}`. Nothing of size n is built in memory.
func serveOversized(w http.ResponseWriter, n int, plain bool, limit string) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(http.StatusOK)
	if !plain {
		if _, err := strconv.Atoi(limit); err != nil {
			limit = "30"
		}
		fmt.Fprintf(w, `{"offset":0,"limit":%s,"results":`, limit)
	}
	const chunkItems = 4096
	chunk := bytes.Repeat([]byte(`{},`), chunkItems)
	if _, err := io.WriteString(w, "["); err != nil {
		return
	}
	for left := n; left > 0; {
		k := min(left, chunkItems)
		b := chunk[:3*k]
		if left == k {
			b = b[:len(b)-1] // no comma after the last item
		}
		if _, err := w.Write(b); err != nil {
			return
		}
		left -= k
	}
	io.WriteString(w, "]")
	if !plain {
		io.WriteString(w, "}")
	}
}
