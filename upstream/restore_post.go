package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
)

// POSTs to a restore session.
//
// Two kinds of POST reach VBO. Searches only read: they follow the GET policy (retried per the
// client's RetryPolicy on a transport error, 429, 502, 503 or 504; re-authenticated once on a
// 401). Everything else (Explore, Stop, restoreDeviceCode and every item action) changes VBO's
// state and is sent once: a failure is never retried, and its error is an *ActionError that says
// whether the request may have reached VBO (OutcomeUnknown: the caller must find out, e.g. list
// the restore sessions or read the session's events, before sending it again), never left the
// gateway (OutcomeNotSent: safe to send again) or was refused by VBO before it acted
// (OutcomeRefused: a 3xx or 4xx answer). The one exception is a 401: VBO refuses an unauthorised
// request before acting on it, so the client re-authenticates and sends it once more, as it
// does for a GET.

// Outcome says what is known about a state-changing request that failed.
type Outcome int

// Outcomes of a failed state-changing request.
const (
	// OutcomeUnknown: the request may have reached VBO and been carried out (the connection
	// broke or timed out after the request was written, VBO or a proxy answered 5xx or 408, or
	// a 2xx answer could not be read).
	OutcomeUnknown Outcome = iota
	// OutcomeNotSent: the request never left the gateway (open circuit breaker, no connection
	// slot, no token, the connection could not be made, the caller's context ended first).
	OutcomeNotSent
	// OutcomeRefused: VBO answered 3xx or 4xx (other than 408): it did not carry the request out.
	OutcomeRefused
)

func (o Outcome) String() string {
	switch o {
	case OutcomeUnknown:
		return "outcome unknown"
	case OutcomeNotSent:
		return "not sent"
	case OutcomeRefused:
		return "refused"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Sentinels of the outcomes, for errors.Is on an *ActionError.
var (
	// ErrOutcomeUnknown: the request may have reached VBO; do not send it again blindly.
	ErrOutcomeUnknown = errors.New("vbo: the request may have reached the server; outcome unknown")
	// ErrNotSent: the request never left the gateway; it is safe to send again.
	ErrNotSent = errors.New("vbo: the request was not sent")
)

// ActionError is the error of a failed state-changing request: Err (usually an *Error, which
// errors.As still finds) and what is known of its outcome.
type ActionError struct {
	Outcome Outcome
	Err     error
}

func (e *ActionError) Error() string { return fmt.Sprintf("%s: %v", e.Outcome, e.Err) }

// Unwrap returns the underlying error.
func (e *ActionError) Unwrap() error { return e.Err }

// Is matches ErrOutcomeUnknown and ErrNotSent by outcome.
func (e *ActionError) Is(target error) bool {
	switch target {
	case ErrOutcomeUnknown:
		return e.Outcome == OutcomeUnknown
	case ErrNotSent:
		return e.Outcome == OutcomeNotSent
	}
	return false
}

// MaybeApplied reports whether err is the failure of a state-changing request that may
// nevertheless have been carried out by VBO.
func MaybeApplied(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// classifyAction wraps the failure of a state-changing request in an *ActionError. wrote
// reports whether the request's headers were written to a connection.
func classifyAction(err error, wrote bool) error {
	if err == nil {
		return nil
	}
	out := OutcomeUnknown
	var e *Error
	switch {
	case errors.As(err, &e) && e.StatusCode >= 300 && e.StatusCode < 500 && e.StatusCode != http.StatusRequestTimeout:
		out = OutcomeRefused
	case errors.As(err, &e) && e.StatusCode != 0:
		// 5xx, 408, or a 2xx whose body could not be read: VBO had the request.
	case !wrote:
		out = OutcomeNotSent
	}
	return &ActionError{Outcome: out, Err: err}
}

// readOnlyKey marks a request context as a read-only POST (a search), which do retries as a GET.
type readOnlyKey struct{}

func withReadOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, readOnlyKey{}, true)
}

func isReadOnly(ctx context.Context) bool {
	v, _ := ctx.Value(readOnlyKey{}).(bool)
	return v
}

// postKind says how a POST is sent.
type postKind int

const (
	postAction   postKind = iota // changes state: once, failures classified
	postReadOnly                 // a search: the GET policy
)

// post sends a JSON body (nil: none) to path and decodes a 2xx answer into v (if non-nil).
func (c *Client) post(ctx context.Context, kind postKind, path string, q url.Values, body, v any) (*Response, error) {
	countCall(ctx)
	payload, err := jsonBody(body)
	if err != nil {
		if kind == postAction {
			return nil, notSent(err)
		}
		return nil, err
	}
	var wrote *atomic.Bool // the last attempt's
	resp, sent, err := authorized(c, ctx, func() (*http.Request, error) {
		rctx := ctx
		wrote = new(atomic.Bool)
		if kind == postReadOnly {
			rctx = withReadOnly(rctx)
		} else {
			// Only this request's trace: the token call runs on its own.
			rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
		}
		return c.newPostRequest(rctx, path, q, payload)
	}, func(req *http.Request) (*Response, error) { return c.do(req, v) })
	switch {
	case kind == postReadOnly || err == nil:
		return resp, err
	case !sent:
		return nil, notSent(err)
	}
	return resp, classifyAction(err, wrote.Load())
}

// newPostRequest builds a POST with an optional JSON payload (nil: no body).
func (c *Client) newPostRequest(ctx context.Context, path string, q url.Values, payload []byte) (*http.Request, error) {
	if payload == nil {
		return c.newRequest(ctx, http.MethodPost, path, q, nil)
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, q, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
