package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// row is one result line. The first ten fields are the documented JSON contract; the rest are
// extras for the targets and the chart.
type row struct {
	Scenario      string  `json:"scenario"`
	System        string  `json:"system"`
	UpstreamCalls float64 `json:"upstreamCalls"`
	MinimumCalls  float64 `json:"minimumCalls"`
	P50Ms         float64 `json:"p50Ms"`
	P95Ms         float64 `json:"p95Ms"`
	P99Ms         float64 `json:"p99Ms"`
	RPS           float64 `json:"rps"`
	Concurrency   int     `json:"concurrency"`
	PeakRssBytes  int64   `json:"peakRssBytes"`

	Iterations int                `json:"iterations"`
	Mode       string             `json:"mode"`            // cold | warm | steady
	Note       string             `json:"note,omitempty"`  // e.g. what the RSS covers
	Extra      map[string]float64 `json:"extra,omitempty"` // scenario-specific figures
}

// sample is the outcome of measured iterations.
type sample struct {
	lat   []time.Duration
	calls []int // upstream calls per iteration (-1 unknown)
	wall  time.Duration
	// cpu is the system under test's own CPU time over the measured iterations or window,
	// simCPU the vbo-sim process's (cpuKnown: both were read).
	cpu, simCPU, loadCPU time.Duration
	cpuKnown             bool
}

func (s *sample) add(d time.Duration, calls int) {
	s.lat = append(s.lat, d)
	s.calls = append(s.calls, calls)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct is the nearest-rank percentile of sorted latencies.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// fill sets the latency and call columns of r from s (calls: median per iteration).
func (s *sample) fill(r *row) {
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	r.P50Ms, r.P95Ms, r.P99Ms = ms(pct(lat, .50)), ms(pct(lat, .95)), ms(pct(lat, .99))
	r.Iterations = len(lat)
	if s.wall > 0 {
		r.RPS = float64(len(lat)) / s.wall.Seconds()
	}
	if r.Concurrency == 0 {
		r.Concurrency = 1
	}
	if s.cpuKnown && len(s.lat) > 0 {
		r.Extra = withExtra(r.Extra, "cpuMsPerRequest", round3(ms(s.cpu)/float64(len(s.lat))))
		r.Extra["simCpuMsPerRequest"] = round3(ms(s.simCPU) / float64(len(s.lat)))
		r.Extra["loadGenCpuMsPerRequest"] = round3(ms(s.loadCPU) / float64(len(s.lat)))
	}
	c := slices.Clone(s.calls)
	slices.Sort(c)
	if len(c) > 0 {
		r.UpstreamCalls = float64(c[len(c)/2])
		if len(c)%2 == 0 {
			r.UpstreamCalls = float64(c[len(c)/2-1]+c[len(c)/2]) / 2
		}
	}
}

// iterate runs fn (one measured iteration: setup outside the timer via prep) up to
// o.iterations times, stopping when another iteration would exceed o.budget.
func iterate(ctx context.Context, e *env, prep func() error, fn func() error) (*sample, error) {
	s := &sample{}
	var spent time.Duration
	for i := 0; i < e.o.iterations; i++ {
		if prep != nil {
			if err := prep(); err != nil {
				return nil, err
			}
		}
		e.resetStats(ctx)
		c0, sim0, load0 := e.systemCPU(), e.simCPU(), selfCPU()
		t0 := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		d := time.Since(t0)
		s.cpu += e.systemCPU() - c0
		s.simCPU += e.simCPU() - sim0
		s.loadCPU += selfCPU() - load0
		s.cpuKnown = !e.external
		s.add(d, e.totalCalls(ctx))
		spent += d
		s.wall += d
		if ctx.Err() != nil || spent+d > e.o.budget {
			break
		}
	}
	return s, nil
}

// load runs fn from conc goroutines for dur (after a short warm-up) and records every call.
func load(ctx context.Context, e *env, conc int, dur time.Duration, fn func() error) (*sample, int, error) {
	warm := time.Now().Add(min(dur/4, 500*time.Millisecond))
	for time.Now().Before(warm) {
		if err := fn(); err != nil {
			return nil, 0, err
		}
	}
	e.resetStats(ctx)
	var mu sync.Mutex
	s := &sample{cpuKnown: !e.external}
	c0, sim0, load0 := e.systemCPU(), e.simCPU(), selfCPU()
	var firstErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	end := t0.Add(dur)
	for range conc {
		wg.Go(func() {
			var local []time.Duration
			for time.Now().Before(end) && ctx.Err() == nil {
				a := time.Now()
				if err := fn(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				local = append(local, time.Since(a))
			}
			mu.Lock()
			s.lat = append(s.lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	s.wall = time.Since(t0)
	s.cpu, s.simCPU, s.loadCPU = e.systemCPU()-c0, e.simCPU()-sim0, selfCPU()-load0
	return s, e.totalCalls(ctx), firstErr
}

// ---- GraphQL client ----

// gqlError is one GraphQL error of an answer.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// gql posts a query and decodes data into out; GraphQL errors fail the call. The answer is read
// in one pass (go-json-experiment/json's streaming decoder): the load generator shares the
// harness CPU with the simulators, and encoding/json's Decoder scans every value twice.
func (e *env) gql(ctx context.Context, url, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+demo.AdminKey) // the gateway's bench key; other systems ignore it
	resp, err := e.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var errs []gqlError
	if err := decodeAnswer(resp.Body, &errs, out); err != nil {
		return fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("HTTP %d: %d GraphQL errors, first: %s %v", resp.StatusCode, len(errs), errs[0].Message, errs[0].Extensions)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// answerOptions decode answers with encoding/json's semantics (the scenarios' result structs
// rely on its case-insensitive names), in go-json-experiment/json's one pass.
var answerOptions = jsonv1.DefaultOptionsV1()

// decodeAnswer reads a GraphQL answer: its errors into errs, its data into out (checked for
// well-formedness and dropped when out is nil).
func decodeAnswer(r io.Reader, errs *[]gqlError, out any) error {
	dec := jsontext.NewDecoder(r, answerOptions)
	if tok, err := dec.ReadToken(); err != nil {
		return err
	} else if tok.Kind() != '{' {
		return fmt.Errorf("answer is a %v, not an object", tok.Kind())
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch tok.String() {
		case "errors":
			err = jsonv2.UnmarshalDecode(dec, errs, answerOptions)
		case "data":
			if out == nil {
				err = dec.SkipValue()
				break
			}
			err = jsonv2.UnmarshalDecode(dec, out, answerOptions)
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// withExtra sets m[k] = v, making m if needed.
func withExtra(m map[string]float64, k string, v float64) map[string]float64 {
	if m == nil {
		m = map[string]float64{}
	}
	m[k] = v
	return m
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
