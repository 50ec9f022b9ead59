package upstream

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// Download is a streamed save/export answer (application/octet-stream: MSG, ZIP, PST). Body is
// read straight from VBO's connection, never buffered; the caller must Close it, which also
// releases the call's connection slot. Each Read is bounded by the client's idle timeout
// (Timeouts.Idle); the whole-attempt timeout (Timeouts.Attempt) bounds only the wait for the
// answer to start (either unset: the HTTP client's Timeout, 60s by default, never the whole
// stream), and the caller's context bounds the whole download.
type Download struct {
	Body        io.ReadCloser
	ContentType string
	Length      int64  // -1 when VBO did not say
	FileName    string // from Content-Disposition, "" when absent
	Response    *Response
}

// postDownload sends a save/export POST once (it is an action: VBO writes a Save/Export event
// per item) and returns its body as a stream.
func (c *Client) postDownload(ctx context.Context, path string, body any) (*Download, error) {
	countCall(ctx)
	payload, err := jsonBody(body)
	if err != nil {
		return nil, notSent(err)
	}
	var wrote *atomic.Bool // the last attempt's
	d, sent, err := authorized(c, ctx, func() (*http.Request, error) {
		wrote = new(atomic.Bool)
		rctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
		req, err := c.newPostRequest(rctx, path, nil, payload)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/octet-stream, application/json")
		return req, nil
	}, c.attemptStream)
	switch {
	case err == nil:
		return d, nil
	case !sent:
		return nil, notSent(err)
	}
	return nil, classifyAction(err, wrote.Load())
}

// attemptStream is attempt and send for a streamed answer: the breaker and the concurrency slot
// as for any call (the slot is held until the body is closed), the whole-attempt deadline until
// the headers arrive, then the idle deadline per read.
func (c *Client) attemptStream(req *http.Request) (*Download, error) {
	ctx := req.Context()
	release, done, err := c.admit(req)
	if err != nil {
		return nil, err
	}
	c.stats.attempts.Add(1)
	// http.Client.Timeout bounds a whole exchange, body included: on a stream it would cut
	// every download longer than it, whatever its pace. The stream goes through a copy without
	// it; the client's Timeout bounds the wait for the headers and each silence instead when
	// Timeouts.Attempt or Timeouts.Idle are not set.
	hc := *c.httpClient
	hc.Timeout = 0
	headerWait, idle := c.timeouts.Attempt, c.timeouts.Idle
	if headerWait <= 0 {
		headerWait = c.httpClient.Timeout
	}
	if idle <= 0 {
		idle = c.httpClient.Timeout
	}
	rctx, cancel := context.WithCancelCause(ctx)
	var headers *time.Timer
	if to := headerWait; to > 0 {
		headers = time.AfterFunc(to, func() { cancel(fmt.Errorf("%w (%s)", ErrAttemptTimeout, to)) })
	}
	resp, err := hc.Do(req.WithContext(rctx))
	if headers != nil && !headers.Stop() && err == nil {
		resp.Body.Close() // the deadline passed as the headers arrived
		err = context.Cause(rctx)
	}
	fail := func(err error) (*Download, error) {
		cancel(nil)
		done(err)
		release()
		return nil, err
	}
	if err != nil {
		if to := attemptTimeout(ctx, rctx); to != nil {
			err = to
		}
		return fail(c.transportError(req, markTimeout(err)))
	}
	if isRedirect(resp.StatusCode) {
		resp.Body.Close()
		return fail(newRedirectError(c.name, resp))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return fail(newResponseError(c.name, resp, b))
	}
	done(nil)
	body := &streamBody{body: resp.Body, parent: ctx, ctx: rctx, idle: idle}
	if body.idle > 0 {
		body.timer = time.AfterFunc(body.idle, func() { cancel(fmt.Errorf("%w: no byte for %s", ErrIdleTimeout, body.idle)) })
	}
	var once sync.Once
	body.release = func() {
		once.Do(func() {
			if body.timer != nil {
				body.timer.Stop()
			}
			cancel(nil)
			release()
		})
	}
	d := &Download{Body: body, ContentType: resp.Header.Get("Content-Type"), Length: resp.ContentLength,
		Response: &Response{Response: resp}}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			d.FileName = params["filename"]
		}
	}
	return d, nil
}

// streamBody is a download's body: every byte re-arms the idle deadline, a read the deadline
// ended fails with a timeout error (errors.Is(err, ErrIdleTimeout) and
// context.DeadlineExceeded), and Close releases the call's slot.
type streamBody struct {
	body        io.ReadCloser
	parent, ctx context.Context
	idle        time.Duration
	timer       *time.Timer
	release     func()
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 && b.timer != nil {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		if to := attemptTimeout(b.parent, b.ctx); to != nil {
			err = to
		}
	}
	return n, err
}

func (b *streamBody) Close() error {
	err := b.body.Close()
	b.release()
	return err
}
