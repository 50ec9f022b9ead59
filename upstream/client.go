// Package upstream is a client for the Veeam Backup for Microsoft 365 (VBO) REST API, v6 to v8.
//
// One Client talks to one VBO server: it obtains and refreshes the OAuth token, sends every call
// through one request path (newRequest + do), turns error responses into *Error, and offers typed
// calls and iterators for organisations, restore sessions and their events. A Fleet is the named
// set of servers the gateway serves.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Supported API versions.
const (
	APIv6 = "v6"
	APIv7 = "v7"
	APIv8 = "v8"
)

const (
	// DefaultPageSize is VBO's own default page size.
	DefaultPageSize = 30
	// MaxPageSize is the largest limit VBO accepts on paged listings.
	MaxPageSize = 10000
	// IterPageSize is the page size the iterators ask for: large enough that most walks take
	// one or two calls, small enough that one response stays a few MiB.
	IterPageSize = 1000

	defaultUserAgent = "vbo-gateway"
	// maxResponseBody caps how much of a successful response is read.
	maxResponseBody = 64 << 20
	defaultTimeout  = 60 * time.Second
)

// Client talks to one VBO server. It is safe for concurrent use.
type Client struct {
	name       string
	baseURL    *url.URL
	apiVersion string
	username   string
	password   string
	userAgent  string
	httpClient *http.Client
	logger     *slog.Logger
	sem        chan struct{} // per-server concurrency limit; nil = unlimited
	tokens     tokenSource
	now        func() time.Time
	retry      RetryPolicy                                // zero: one attempt per call
	breaker    *gobreaker.TwoStepCircuitBreaker[struct{}] // nil: never short-circuit
	stats      clientCounters
}

// clientCounters count what the client did, for tests and metrics.
type clientCounters struct {
	attempts, retries, shortCircuits atomic.Int64
}

// ClientStats are a client's counters since it was created.
type ClientStats struct {
	// Attempts is the number of HTTP requests sent (token calls, retries and re-authentications
	// included).
	Attempts int64
	// Retries is the number of attempts that were retries of a failed idempotent call.
	Retries int64
	// ShortCircuits is the number of attempts the open circuit breaker refused without sending.
	ShortCircuits int64
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{Attempts: c.stats.attempts.Load(), Retries: c.stats.retries.Load(),
		ShortCircuits: c.stats.shortCircuits.Load()}
}

// Configure applies more options to a client that is not in use yet (the gateway adds its
// resilience settings to the clients the configuration built).
func (c *Client) Configure(opts ...Option) error {
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return fmt.Errorf("VBO client %s: %w", c.name, err)
		}
	}
	return nil
}

// Option configures a Client.
type Option func(*Client) error

// WithName sets the server's name as used in errors and logs (the Fleet key).
func WithName(name string) Option {
	return func(c *Client) error { c.name = name; return nil }
}

// WithAPIVersion selects v6 (default), v7 or v8.
func WithAPIVersion(v string) Option {
	return func(c *Client) error {
		switch v {
		case "":
			c.apiVersion = APIv6
		case APIv6, APIv7, APIv8:
			c.apiVersion = v
		default:
			return fmt.Errorf("unsupported VBO API version %q (want v6, v7 or v8)", v)
		}
		return nil
	}
}

// WithCredentials sets the account used for the password grant.
func WithCredentials(username, password string) Option {
	return func(c *Client) error { c.username, c.password = username, password; return nil }
}

// WithHTTPClient injects the HTTP client (its Transport carries TLS settings). Default: a client
// with a 60 s timeout and the system roots.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("nil http client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithTLS builds the HTTP transport from TLS settings (CA file, pinned fingerprint, or
// insecureSkipVerify). It replaces the transport of the current HTTP client.
func WithTLS(t TLSConfig) Option {
	return func(c *Client) error {
		cfg, err := t.Build(c.logger.With("server", c.name))
		if err != nil {
			return err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		hc := *c.httpClient
		hc.Transport = tr
		c.httpClient = &hc
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l != nil {
			c.logger = l
		}
		return nil
	}
}

// WithMaxConcurrency bounds the calls in flight to this server (0 = unlimited). Callers wait for
// a slot; the wait counts against their context deadline.
func WithMaxConcurrency(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("negative max concurrency %d", n)
		}
		if n > 0 {
			c.sem = make(chan struct{}, n)
		} else {
			c.sem = nil
		}
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) error { c.userAgent = ua; return nil }
}

// withClock replaces time.Now (tests).
func withClock(now func() time.Time) Option {
	return func(c *Client) error { c.now = now; return nil }
}

// NewClient returns a client for the VBO server at baseURL (e.g. https://vbo.example.net:4443).
// Options apply in order, so pass WithLogger and WithName before WithTLS.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse VBO base URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("VBO base URL %q: want http(s)://host:port", baseURL)
	}
	c := &Client{
		baseURL:    u,
		apiVersion: APIv6,
		userAgent:  defaultUserAgent,
		httpClient: &http.Client{Timeout: defaultTimeout},
		logger:     slog.Default(),
		now:        time.Now,
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("VBO client %s: %w", c.name, err)
		}
	}
	return c, nil
}

// Name is the server's name (WithName).
func (c *Client) Name() string { return c.name }

// APIVersion is v6, v7 or v8.
func (c *Client) APIVersion() string { return c.apiVersion }

// BaseURL is the server's base URL.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// Response wraps the HTTP response of a call.
type Response struct {
	*http.Response
}

// newRequest builds a request for path (relative to /vN/) with query q and an optional body.
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u := *c.baseURL
	u.Path = strings.TrimRight(u.Path, "/") + "/" + c.apiVersion + "/" + strings.TrimLeft(path, "/")
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build VBO request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	return req, nil
}

// get performs an authenticated GET and decodes the JSON body into v. On a 401 it drops the
// token, obtains a new one and retries once.
func (c *Client) get(ctx context.Context, path string, q url.Values, v any) (*Response, error) {
	for attempt := 0; ; attempt++ {
		token, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		req, err := c.newRequest(ctx, http.MethodGet, path, q, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.do(req, v)
		if attempt == 0 && errors.Is(err, ErrUnauthorized) {
			c.logger.DebugContext(ctx, "VBO token rejected; re-authenticating", "server", c.name, "path", req.URL.Path)
			c.tokens.invalidate(token)
			continue
		}
		return resp, err
	}
}

// do sends req and decodes a 2xx JSON body into v (if non-nil). Every call the client makes
// goes through here: idempotent requests (GET, the token grant) are retried per the client's
// RetryPolicy, each attempt passes the circuit breaker and waits for a slot under the
// per-server concurrency limit, and no wait outlives the request's context deadline.
func (c *Client) do(req *http.Request, v any) (*Response, error) {
	ctx := req.Context()
	retryable := c.retry.MaxAttempts > 1 && c.idempotent(req)
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, c.transportError(req, err)
				}
				r.Body = body
			}
			c.stats.retries.Add(1)
		}
		resp, err := c.attempt(r, v)
		if err == nil || !retryable {
			return resp, err
		}
		wait, ok := c.retryDelay(ctx, attempt, err)
		if !ok {
			return resp, err
		}
		c.logger.DebugContext(ctx, "VBO call failed; retrying", "server", c.name, "path", req.URL.Path,
			"attempt", attempt+1, "wait", wait, "err", err)
		if !sleepCtx(ctx, wait) {
			return resp, err
		}
	}
}

// attempt sends req once: breaker, then a concurrency slot, then HTTP.
func (c *Client) attempt(req *http.Request, v any) (*Response, error) {
	ctx := req.Context()
	// An open breaker answers at once, without queueing for a slot.
	if c.breaker != nil && c.breaker.State() == gobreaker.StateOpen {
		c.stats.shortCircuits.Add(1)
		return nil, c.transportError(req, ErrCircuitOpen)
	}
	if c.sem != nil {
		select {
		case c.sem <- struct{}{}:
			defer func() { <-c.sem }()
		case <-ctx.Done():
			return nil, c.transportError(req, fmt.Errorf("waiting for a connection slot: %w", ctx.Err()))
		}
	}
	if c.breaker != nil {
		done, err := c.breaker.Allow()
		if err != nil {
			c.stats.shortCircuits.Add(1)
			return nil, c.transportError(req, ErrCircuitOpen)
		}
		resp, err := c.send(req, v)
		if err != nil && ctx.Err() != nil {
			// The caller's own deadline or cancellation ended the call: that says nothing about
			// the server, and must not let one impatient request open the breaker for everyone.
			done(errCallerGone)
		} else {
			done(err)
		}
		return resp, err
	}
	return c.send(req, v)
}

// send performs one HTTP exchange and decodes the answer.
func (c *Client) send(req *http.Request, v any) (*Response, error) {
	c.stats.attempts.Add(1)
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, c.transportError(req, markTimeout(err))
	}
	defer resp.Body.Close()
	r := &Response{Response: resp}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return r, newResponseError(c.name, resp, body)
	}
	if v == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return r, nil
	}
	// A bounded read: a misbehaving server cannot make the gateway buffer without limit (the
	// largest legitimate page, 10,000 events, is a few MiB).
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(v); err != nil {
		return r, &Error{Server: c.name, Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode,
			Message: "decode response body", Err: markTimeout(err)}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return r, nil
}

func (c *Client) transportError(req *http.Request, err error) *Error {
	return &Error{Server: c.name, Method: req.Method, Path: req.URL.Path, Err: err}
}

// escape makes an id safe as one path segment.
func escape(id string) string { return url.PathEscape(id) }
