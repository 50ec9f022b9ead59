// Package upstream is a client for the Veeam Backup for Microsoft 365 (VBO) REST API, v6 to v8.
//
// One Client talks to one VBO server: it obtains and refreshes the OAuth token, sends every call
// through one request path (newRequest + do), turns error responses into *Error, and offers typed
// calls and iterators for organisations, restore sessions and their events. A Fleet is the named
// set of servers the gateway serves.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	// maxDrain is how much of an unread body tail is read for connection reuse.
	maxDrain = 64 << 10
)

// Client talks to one VBO server. It is safe for concurrent use.
type Client struct {
	name       string
	baseURL    *url.URL
	apiVersion string
	username   string
	password   string
	userAgent  string
	httpClient *http.Client // never follows redirects
	unwrapped  *http.Client // httpClient before ClientOptions.WrapTransport: CloseIdleConnections
	timeouts   Timeouts     // Attempt and Idle are applied per attempt, by send
	logger     *slog.Logger
	sem        *fairSem // per-server concurrency limit, fair across principals; nil = unlimited
	tokens     tokenSource
	now        func() time.Time
	retry      RetryPolicy                                // zero: one attempt per call
	breaker    *gobreaker.TwoStepCircuitBreaker[struct{}] // nil: never short-circuit
	stats      clientCounters
	orgCount   atomic.Int64 // organisations at the last successful listing, plus one (0: never listed)

	wrap     func(http.RoundTripper) http.RoundTripper // ClientOptions.WrapTransport
	longPoll longPollHTTP                              // the change feed's transport (changes.go)
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

// ClientOptions configure a Client. Every field is optional; the zero value is a client with
// no retries, no breaker, no concurrency limit, the system roots and VBO API v6. Fields are
// independent of each other: NewClient applies them in one fixed order.
type ClientOptions struct {
	// Name is the server's name as used in errors, logs and metrics (the Fleet key).
	Name string
	// APIVersion is v6 (default), v7 or v8.
	APIVersion string
	// Username and Password are the account used for the password grant.
	Username, Password string
	// TLS builds the transport's TLS settings (CA file, pinned fingerprint, or
	// insecureSkipVerify) for https base URLs.
	TLS TLSConfig
	// HTTPClient, when set, is used instead of one built from TLS and Timeouts.Connect /
	// ResponseHeader (tests). The client works on a copy that never follows redirects;
	// Timeouts.Attempt and Timeouts.Idle apply to it as well.
	HTTPClient *http.Client
	// Timeouts bound each attempt: connection set-up, the wait for response headers, the whole
	// attempt, and silences in the response body.
	Timeouts Timeouts
	// Retry enables retries of idempotent calls (see RetryPolicy). Zero: exactly one attempt
	// per call (plus the one re-authentication after a 401).
	Retry RetryPolicy
	// Breaker installs a circuit breaker in front of every attempt (token calls included).
	// Nil: the client never short-circuits.
	Breaker *BreakerSettings
	// MaxConcurrency bounds the calls in flight to this server (0 = unlimited). Callers wait
	// for a slot; the wait counts against their context deadline. Slots are shared fairly
	// between the principals named by WithFairnessKey.
	MaxConcurrency int
	// UserAgent is the User-Agent header (default "vbo-gateway").
	UserAgent string
	// Logger receives the client's warnings (default slog.Default()).
	Logger *slog.Logger
	// WrapTransport, when set, wraps the HTTP transport (tracing, metrics and logging of each
	// attempt, token calls included); it is applied to HTTPClient's transport too.
	WrapTransport func(http.RoundTripper) http.RoundTripper

	now func() time.Time // replaces time.Now (tests)
}

// Timeouts bound one attempt. Zero leaves a setting at its default.
type Timeouts struct {
	// Connect bounds TCP connect and the TLS handshake.
	Connect time.Duration
	// ResponseHeader bounds the wait for the response headers.
	ResponseHeader time.Duration
	// Attempt bounds one whole attempt: sending, response headers and the entire body. A
	// server that sends its headers and then trickles the body fails here, as a timeout.
	Attempt time.Duration
	// Idle bounds the silence while reading a response body: no byte for Idle fails the
	// attempt, as a timeout.
	Idle time.Duration
}

// NewClient returns a client for the VBO server at baseURL (e.g. https://vbo.example.net:4443),
// fully configured: a Client is never changed after construction.
func NewClient(baseURL string, o ClientOptions) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse VBO base URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("VBO base URL %q: want http(s)://host:port", baseURL)
	}
	c := &Client{
		name:       o.Name,
		baseURL:    u,
		apiVersion: APIv6,
		username:   o.Username,
		password:   o.Password,
		userAgent:  defaultUserAgent,
		logger:     slog.Default(),
		now:        time.Now,
	}
	fail := func(err error) (*Client, error) { return nil, fmt.Errorf("VBO client %s: %w", o.Name, err) }
	switch o.APIVersion {
	case "":
	case APIv6, APIv7, APIv8:
		c.apiVersion = o.APIVersion
	default:
		return fail(fmt.Errorf("unsupported VBO API version %q (want v6, v7 or v8)", o.APIVersion))
	}
	if o.UserAgent != "" {
		c.userAgent = o.UserAgent
	}
	if o.Logger != nil {
		c.logger = o.Logger
	}
	if o.now != nil {
		c.now = o.now
	}
	if o.Timeouts.Attempt < 0 || o.Timeouts.Idle < 0 {
		return fail(errors.New("negative timeout"))
	}
	c.timeouts = o.Timeouts
	if o.HTTPClient != nil {
		c.httpClient = withoutRedirects(o.HTTPClient)
	} else if c.httpClient, err = buildHTTPClient(u, o.TLS, o.Timeouts, o.MaxConcurrency, c.logger.With("server", o.Name)); err != nil {
		return fail(err)
	}
	c.unwrapped = c.httpClient
	if o.WrapTransport != nil {
		hc := *c.httpClient
		if hc.Transport == nil {
			hc.Transport = http.DefaultTransport
		}
		hc.Transport = o.WrapTransport(hc.Transport)
		c.httpClient = &hc
		c.wrap = o.WrapTransport
	}
	switch {
	case o.MaxConcurrency < 0:
		return fail(fmt.Errorf("negative max concurrency %d", o.MaxConcurrency))
	case o.MaxConcurrency > 0:
		c.sem = newFairSem(o.MaxConcurrency)
	}
	if o.Retry.MaxAttempts < 0 {
		return fail(fmt.Errorf("negative retry attempts %d", o.Retry.MaxAttempts))
	}
	if o.Retry != (RetryPolicy{}) {
		c.retry = o.Retry.normalized()
	}
	if o.Breaker != nil {
		c.breaker = newBreaker(c.name, *o.Breaker, c.logger)
	}
	return c, nil
}

// buildHTTPClient builds the HTTP client: TLS settings for https, the per-attempt timeouts, and
// idle connections for every call maxConcurrency lets be in flight.
func buildHTTPClient(u *url.URL, t TLSConfig, to Timeouts, maxConcurrency int, logger *slog.Logger) (*http.Client, error) {
	if to.Connect < 0 || to.ResponseHeader < 0 {
		return nil, errors.New("negative timeout")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// net/http keeps 2 idle connections per host by default: with more calls in flight, every
	// call past the second closes its connection when done and the next one dials (and, over
	// https, handshakes) again.
	tr.MaxIdleConnsPerHost = max(maxConcurrency, idleConnsUnbounded)
	// The transport serves this one server: its cap on idle connections in all (100 in
	// net/http's default) must not undercut the per-host one.
	tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	// A listing page is tens of KiB: read it in a few reads, not 4 KiB at a time.
	tr.ReadBufferSize = 32 << 10
	if u.Scheme == "https" {
		cfg, err := t.Build(logger)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	if to.Connect > 0 {
		tr.DialContext = (&net.Dialer{Timeout: to.Connect, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = to.Connect
	}
	if to.ResponseHeader > 0 {
		tr.ResponseHeaderTimeout = to.ResponseHeader
	}
	return &http.Client{Timeout: defaultTimeout, Transport: tr, CheckRedirect: refuseRedirects}, nil
}

// idleConnsUnbounded is the idle connections kept per server when MaxConcurrency does not bound
// the calls in flight.
const idleConnsUnbounded = 16

// CloseIdleConnections closes the connections to the server that are kept open for the next
// calls (as many as MaxConcurrency lets be in flight); calls in flight keep theirs. A wrapping
// transport (ClientOptions.WrapTransport) need not pass the request on to the transport below.
func (c *Client) CloseIdleConnections() {
	c.unwrapped.CloseIdleConnections()
	c.longPoll.closeIdle()
}

// Name is the server's name (ClientOptions.Name).
func (c *Client) Name() string { return c.name }

// APIVersion is v6, v7 or v8.
func (c *Client) APIVersion() string { return c.apiVersion }

// BaseURL is the server's base URL.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// Response wraps the HTTP response of a call.
type Response struct {
	*http.Response
}

// apiPath is the URL path of path (relative to /vN/).
func (c *Client) apiPath(path string) string {
	return strings.TrimRight(c.baseURL.Path, "/") + "/" + c.apiVersion + "/" + strings.TrimLeft(path, "/")
}

// newRequest builds a request for path (relative to /vN/) with query q and an optional body.
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u := *c.baseURL
	// path holds escaped segments (escape): keep them as written, or an id's '%' or '/' would
	// be escaped twice.
	u.Path = c.apiPath(path)
	if p, err := url.PathUnescape(u.Path); err == nil && p != u.Path {
		u.Path, u.RawPath = p, c.apiPath(path)
	}
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
	return c.getWait(ctx, path, q, v, 0)
}

// getWait is get for a long-poll: the server may take wait to answer (changes.go).
func (c *Client) getWait(ctx context.Context, path string, q url.Values, v any, wait time.Duration) (*Response, error) {
	countCall(ctx)
	resp, _, err := authorized(c, ctx, func() (*http.Request, error) {
		return c.newRequest(withLongPoll(ctx, wait), http.MethodGet, path, q, nil)
	}, func(req *http.Request) (*Response, error) { return c.do(req, v) })
	return resp, err
}

// authorized is the one authenticated call path: it takes a token, builds the request, sets its
// bearer token and sends it; on a first 401 it drops the token, obtains a new one and sends once
// more. sent reports whether the last attempt reached send (false: the token or the request could
// not be had, and nothing left the gateway on that attempt).
func authorized[T any](c *Client, ctx context.Context, build func() (*http.Request, error), send func(*http.Request) (T, error)) (v T, sent bool, err error) {
	for attempt := 0; ; attempt++ {
		token, err := c.accessToken(ctx)
		if err != nil {
			return v, false, err
		}
		req, err := build()
		if err != nil {
			return v, false, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		v, err = send(req)
		if attempt == 0 && errors.Is(err, ErrUnauthorized) {
			c.logger.DebugContext(ctx, "VBO token rejected; re-authenticating", "server", c.name, "path", req.URL.Path)
			c.tokens.invalidate(token)
			continue
		}
		return v, true, err
	}
}

// do sends req and decodes a 2xx JSON body into v (if non-nil). Every call the client makes
// goes through here: idempotent requests (GET, the token grant) are retried per the client's
// RetryPolicy, each attempt passes the circuit breaker and waits for a slot under the
// per-server concurrency limit, and no wait outlives the request's context deadline.
func (c *Client) do(req *http.Request, v any) (*Response, error) {
	ctx := req.Context()
	// A read-only POST (a search, restore_post.go) is retried as a GET; other POSTs never are.
	retryable := c.retry.MaxAttempts > 1 && (c.idempotent(req) || isReadOnly(ctx))
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
	release, done, err := c.admit(req)
	if err != nil {
		return nil, err
	}
	defer release()
	resp, err := c.send(req, v)
	done(err)
	return resp, err
}

// admit lets one attempt of req through: an open breaker answers at once, without queueing for
// a slot; then a slot under the per-server concurrency limit (a long-poll mostly waits: it takes
// none), then the breaker's permission. release frees the slot; done reports the attempt's
// outcome to the breaker, where the caller's own deadline or cancellation counts as no failure:
// it says nothing about the server, and must not let one impatient request open the breaker for
// everyone.
func (c *Client) admit(req *http.Request) (release func(), done func(error), err error) {
	ctx := req.Context()
	if c.breaker != nil && c.breaker.State() == gobreaker.StateOpen {
		c.stats.shortCircuits.Add(1)
		return nil, nil, c.transportError(req, ErrCircuitOpen)
	}
	release = func() {}
	if c.sem != nil && longPollWait(ctx) == 0 {
		key := FairnessKey(ctx)
		if err := c.sem.acquire(ctx, key); err != nil {
			return nil, nil, c.transportError(req, fmt.Errorf("waiting for a connection slot: %w", err))
		}
		release = func() { c.sem.release(key) }
	}
	done = func(error) {}
	if c.breaker != nil {
		allowed, err := c.breaker.Allow()
		if err != nil {
			release()
			c.stats.shortCircuits.Add(1)
			return nil, nil, c.transportError(req, ErrCircuitOpen)
		}
		done = func(err error) {
			if err != nil && ctx.Err() != nil {
				err = errCallerGone
			}
			allowed(err)
		}
	}
	return release, done, nil
}

// send performs one HTTP exchange and decodes the answer, within the attempt's deadlines.
// A redirect is never followed: it is an *Error matching ErrRedirect.
func (c *Client) send(req *http.Request, v any) (*Response, error) {
	c.stats.attempts.Add(1)
	parent := req.Context()
	hc, to := c.httpClient, c.timeouts
	if wait := longPollWait(parent); wait > 0 {
		hc, to = c.longPollClient(wait), to.forLongPoll(wait)
	}
	ctx, watch, stop := to.attemptDeadline(parent)
	defer stop()
	req = req.WithContext(ctx)
	// timedOut replaces err with the attempt deadline that caused it, if one did.
	timedOut := func(err error) error {
		if to := attemptTimeout(parent, ctx); to != nil {
			return to
		}
		return markTimeout(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.transportError(req, timedOut(err))
	}
	resp.Body = watch(resp.Body)
	defer resp.Body.Close()
	r := &Response{Response: resp}
	if isRedirect(resp.StatusCode) {
		return r, newRedirectError(c.name, resp)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if to := attemptTimeout(parent, ctx); err != nil && to != nil {
			return r, c.transportError(req, to)
		}
		return r, newResponseError(c.name, resp, body)
	}
	if v != nil {
		// A bounded read: a misbehaving server cannot make the gateway buffer without limit (the
		// largest legitimate page, 10,000 events, is a few MiB), and lists decode item by item
		// within their bounds (decode.go).
		limit := int64(maxResponseBody)
		if b, ok := v.(boundedBody); ok {
			limit = min(limit, b.maxBody())
		}
		dec := newDecoder(io.LimitReader(resp.Body, limit))
		if sd, ok := v.(streamDecoder); ok {
			err = sd.decodeStream(dec)
		} else {
			err = decodeValue(dec, v)
		}
		if err != nil {
			return r, &Error{Server: c.name, Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode,
				Message: "decode response body", Err: timedOut(err)}
		}
	}
	// Drain a little for connection reuse; a server still sending after that loses the
	// connection instead of holding the call.
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	return r, nil
}

func (c *Client) transportError(req *http.Request, err error) *Error {
	return &Error{Server: c.name, Method: req.Method, Path: req.URL.Path, Err: err}
}

// escape makes an id safe as one path segment.
func escape(id string) string { return url.PathEscape(id) }
