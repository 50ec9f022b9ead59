package httpapi

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// SSE subscriptions run gqlgen's transport.SSE, whose lifetime this file owns.
//
// transport.SSE starts a keep-alive goroutine that stops only when the request's context ends,
// and net/http ends it after the handler has returned: a ping falling due around then (one
// waiting for the transport's lock while a write to a stalled client blocked, say) wrote to and
// flushed a finished response, a nil-pointer panic in bufio.(*Writer).Flush that killed the
// process (issue 20, C1). The transport cannot be stopped from outside, so sseTransport.Do hands
// it a streamWriter that goes inert when Do returns (writes fail, Flush does nothing; one lock
// means no write straddles the return) and a context that ends then, which stops the goroutine.
//
// A slow or vanished client costs bounded time: every message (an event or a keep-alive, its
// writes and the flush that ends it) has writeTimeout to reach the client, after which the
// write fails, net/http ends the connection's context and the subscription ends with it (its
// slot comes back). Memory is bounded already: the transport writes one response at a time and
// the feed cuts a subscriber that falls behind (resolvers.ErrSlowSubscriber).

// Defaults for Options.SSEKeepAlive and Options.SSEWriteTimeout.
const (
	defaultSSEKeepAlive    = 15 * time.Second
	defaultSSEWriteTimeout = 30 * time.Second
)

// errStreamClosed is a write to an SSE stream whose handler has returned.
var errStreamClosed = errors.New("httpapi: SSE stream already closed")

// sseTransport is transport.SSE with its writer and keep-alives confined to Do's call.
type sseTransport struct {
	sse          transport.SSE
	writeTimeout time.Duration
}

func newSSETransport(opts Options) sseTransport {
	return sseTransport{
		sse:          transport.SSE{KeepAlivePingInterval: cmp.Or(opts.SSEKeepAlive, defaultSSEKeepAlive)},
		writeTimeout: cmp.Or(opts.SSEWriteTimeout, defaultSSEWriteTimeout),
	}
}

var _ graphql.Transport = sseTransport{}

func (t sseTransport) Supports(r *http.Request) bool { return t.sse.Supports(r) }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx, cancel := context.WithCancel(r.Context())
	sw := newStreamWriter(w, t.writeTimeout)
	defer func() {
		sw.close() // first: from here on nothing reaches w, whatever goroutine writes
		cancel()   // then the keep-alive goroutine stops
	}()
	t.sse.Do(sw, r.WithContext(ctx), exec)
}

// streamWriter is the http.ResponseWriter and http.Flusher a streaming transport sees: every
// call holds one lock, each message has a write deadline, and after close (its handler
// returned) or a failed write it does nothing and writes fail. It has no Unwrap on purpose:
// nothing may reach the response around it.
type streamWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool  // the message being written has its deadline set
	closed  bool  // the handler returned
	err     error // the first failed write; every later one fails with it
}

func newStreamWriter(w http.ResponseWriter, timeout time.Duration) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// Header is the response's header until close, then a throwaway one.
func (s *streamWriter) Header() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return http.Header{}
	}
	return s.w.Header()
}

func (s *streamWriter) WriteHeader(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.w.WriteHeader(code)
	}
}

func (s *streamWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return 0, errStreamClosed
	case s.err != nil:
		return 0, s.err
	}
	s.arm()
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// Flush ends a message: it sends what was written and the next write gets a fresh deadline.
func (s *streamWriter) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return
	}
	s.arm()
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	s.armed = false
}

// arm gives the message being written its deadline (the lock is held).
func (s *streamWriter) arm() {
	if s.armed {
		return
	}
	s.armed = true
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout)) // not every writer supports it (httptest.ResponseRecorder)
}

// close makes the writer inert; it waits for a write in progress (bounded by its deadline).
// What net/http still writes after the handler (the last chunk) gets one more deadline,
// unless a write failed already.
func (s *streamWriter) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.err == nil {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	}
}
