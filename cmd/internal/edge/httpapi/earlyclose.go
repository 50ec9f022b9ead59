package httpapi

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// closeUnreadBodies answers `Connection: close` whenever a response starts before the request's
// body was read to its end: an early refusal (401 from the auth gate, 429 from a limit, 413 for
// a body over maxBodyBytes, 400 from the CSRF check) that never read the body.
//
// Without it net/http, to keep the connection, reads up to 256 KiB of the unread body before it
// sends the response. A chunked body that never ends (or arrives slowly) then holds the refusal
// back until the server's read timeout (30 s): the 401 came only after 30 s. With the header,
// net/http skips that read, sends the refusal at once and closes the connection; a client that
// meant well opens another. (HTTP/1 only: an HTTP/2 stream does not hold its connection.)
func closeUnreadBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ProtoMajor != 1 { // HTTP/2 streams end on their own
			next.ServeHTTP(w, r)
			return
		}
		body := &eofBody{ReadCloser: r.Body}
		r.Body = body
		next.ServeHTTP(&closeUnreadWriter{ResponseWriter: w, body: body}, r)
	})
}

// eofBody remembers whether its reader saw the body's end.
type eofBody struct {
	io.ReadCloser
	done atomic.Bool
}

func (b *eofBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.done.Store(true)
	}
	return n, err
}

// closeUnreadWriter adds `Connection: close` to a response started while its body is unread.
type closeUnreadWriter struct {
	http.ResponseWriter
	body    *eofBody
	started bool
}

func (c *closeUnreadWriter) start(code int) {
	if c.started || code < http.StatusOK { // 1xx are not the response
		return
	}
	c.started = true
	if !c.body.done.Load() {
		c.Header().Set("Connection", "close")
		// net/http still closes the body after the handler, reading up to 256 KiB of it to
		// find its end: a read deadline in the past ends that read at once, so the
		// connection closes now rather than at the read timeout.
		_ = http.NewResponseController(c.ResponseWriter).SetReadDeadline(time.Now())
	}
}

func (c *closeUnreadWriter) WriteHeader(code int) {
	c.start(code)
	c.ResponseWriter.WriteHeader(code)
}

func (c *closeUnreadWriter) Write(b []byte) (int, error) {
	c.start(http.StatusOK)
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (flushes, deadlines, the websocket upgrade) reach the
// connection.
func (c *closeUnreadWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
