package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one delivery attempt, connection to last byte (the specification
// suggests 15 to 30 s).
const DefaultTimeout = 15 * time.Second

// maxResponseRead is how much of a receiver's answer is read (and then dropped) so the
// connection can be reused; receivers are expected to answer with an empty body.
const maxResponseRead = 64 << 10

// ClientOptions configure a Client.
type ClientOptions struct {
	// Guard checks every address connected to (required).
	Guard *Guard
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
	// TLS overrides the TLS configuration (tests: a private root CA). Verification stays on.
	TLS *tls.Config
	// UserAgent is sent with each attempt (default "vbo-gateway-webhooks/1").
	UserAgent string
	// Now is the clock used for webhook-timestamp (default time.Now).
	Now func() time.Time
}

// Client sends webhook messages. It never follows redirects, never uses an HTTP proxy from the
// environment (the address check must see the real target), and checks each address it
// connects to against its Guard.
type Client struct {
	hc        *http.Client
	guard     *Guard
	userAgent string
	now       func() time.Time
}

// NewClient builds a Client.
func NewClient(o ClientOptions) (*Client, error) {
	if o.Guard == nil {
		return nil, errors.New("webhooks.NewClient: a Guard is required")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            o.Guard.DialContext,
		TLSClientConfig:        o.TLS,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	ua := o.UserAgent
	if ua == "" {
		ua = "vbo-gateway-webhooks/1"
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Client{
		hc: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		guard:     o.Guard,
		userAgent: ua,
		now:       now,
	}, nil
}

// Message is one webhook to send. The same ID (and Body) is used for every attempt: receivers
// deduplicate on it.
type Message struct {
	ID   string
	URL  string
	Body []byte
	// Keys sign the message; two while a secret is being rotated.
	Keys []Secret
}

// Result says what happened to one attempt.
type Result int

// Attempt results.
const (
	// Delivered: the receiver answered 2xx.
	Delivered Result = iota + 1
	// Failed: no answer, or an answer other than 2xx and 410. Retry per the Schedule.
	Failed
	// Gone: the receiver answered 410 Gone. The endpoint (the rule) is to be disabled.
	Gone
)

func (r Result) String() string {
	switch r {
	case Delivered:
		return "DELIVERED"
	case Failed:
		return "FAILED"
	case Gone:
		return "GONE"
	}
	return "UNKNOWN"
}

// Outcome is the result of one attempt.
type Outcome struct {
	Result Result
	// StatusCode is the receiver's HTTP status; 0 when it did not answer.
	StatusCode int
	// RetryAfter is the receiver's Retry-After, when it sent one (0 otherwise).
	RetryAfter time.Duration
	// Timestamp is the webhook-timestamp the attempt was signed with.
	Timestamp time.Time
	// Duration is how long the attempt took.
	Duration time.Duration
	// Err explains a failure (nil when delivered).
	Err error
}

// Send makes one attempt to deliver m. It does not retry: the caller's queue schedules retries
// with the Schedule, so that they survive restarts.
func (c *Client) Send(ctx context.Context, m Message) Outcome {
	ts := c.now()
	start := time.Now()
	out := c.send(ctx, m, ts)
	out.Timestamp = ts
	out.Duration = time.Since(start)
	return out
}

func (c *Client) send(ctx context.Context, m Message, ts time.Time) Outcome {
	u, err := url.Parse(m.URL)
	if err != nil || u.Host == "" {
		return Outcome{Result: Failed, Err: fmt.Errorf("%w: the URL is not absolute", ErrRefusedTarget)}
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !c.guard.allowHTTP) {
		return Outcome{Result: Failed, Err: fmt.Errorf("%w: the URL must use https", ErrRefusedTarget)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(m.Body))
	if err != nil {
		return Outcome{Result: Failed, Err: fmt.Errorf("webhook request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	SetHeaders(req.Header, m.Keys, m.ID, ts, m.Body)
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// Not the URL: its query often holds the receiver's credentials, and this text is
			// logged and shown to every reader of the delivery (the rule shows the URL).
			err = ue.Err
		}
		return Outcome{Result: Failed, Err: fmt.Errorf("webhook POST: %w", err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	_ = resp.Body.Close()
	out := Outcome{StatusCode: resp.StatusCode, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		out.Result = Delivered
	case resp.StatusCode == http.StatusGone:
		out.Result = Gone
		out.Err = errors.New("the receiver answered 410 Gone")
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.Result = Failed
		out.Err = fmt.Errorf("the receiver answered %d (redirect to %q): redirects are not followed", resp.StatusCode,
			locationShown(resp.Header.Get("Location")))
	default:
		out.Result = Failed
		out.Err = fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return out
}

// locationShown is a redirect's Location as attempt errors show it: scheme, host and path, the
// query (often the rule URL's own, credentials included, echoed back) as "?…".
func locationShown(loc string) string {
	l, err := url.Parse(loc)
	if err != nil {
		return "…"
	}
	shown := url.URL{Scheme: l.Scheme, Host: l.Host, Path: l.Path, RawPath: l.RawPath}
	out := shown.String()
	if l.RawQuery != "" || l.ForceQuery || l.Fragment != "" {
		out += "?…"
	}
	return out
}

// ParseRetryAfter reads a Retry-After header: delay seconds or an HTTP date. Anything else,
// and dates in the past, read as 0 (no request).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, MaxRetryAfter)
		}
	}
	return 0
}
