package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/vbo-gateway/vbo-gateway/resolvers"
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

// Resume positions over SSE: each event of a subscription carries its position (the
// response's extensions.position, see subscriptions.go) as the SSE id field too, and a client
// that reconnects with Last-Event-ID resumes after it (resolvers.WithResume), so any
// EventSource-style client resumes without reading the payload.

// maxLastEventID bounds the Last-Event-ID header taken as a resume position (a position is far
// shorter; a longer one is refused by the resolver as any malformed position would be).
const maxLastEventID = 8 << 10

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx, cancel := context.WithCancel(r.Context())
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		ctx = resolvers.WithResume(ctx, id[:min(len(id), maxLastEventID)])
	}
	sw := newStreamWriter(w, t.writeTimeout)
	defer func() {
		sw.close() // first: from here on nothing reaches w, whatever goroutine writes
		cancel()   // then the keep-alive goroutine stops
	}()
	t.sse.Do(sw, r.WithContext(ctx), sseExecutor{GraphExecutor: exec, sw: sw})
}

// sseExecutor hands each response's resume position to the writer, which sends it as the id
// of the event the transport writes next (the transport writes each response right after
// reading it, in the same goroutine).
type sseExecutor struct {
	graphql.GraphExecutor
	sw *streamWriter
}

func (e sseExecutor) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	next, dctx := e.GraphExecutor.DispatchOperation(ctx, oc)
	return func(ctx context.Context) *graphql.Response {
		resp := next(ctx)
		if resp != nil {
			pos, _ := resp.Extensions[positionExtension].(string)
			e.sw.setEventID(pos)
		}
		return resp
	}, dctx
}

// sseEventPrefix starts every event the transport writes for a response.
var sseEventPrefix = []byte("event: next\n")

// setEventID makes id the id of the next event written ("" for none).
func (s *streamWriter) setEventID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.ContainsAny(id, "\r\n") {
		id = "" // never: positions are base64url
	}
	s.eventID = id
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
	armed   bool   // the message being written has its deadline set
	eventID string // the id of the next event (sseExecutor)
	closed  bool   // the handler returned
	err     error  // the first failed write; every later one fails with it
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
	if s.eventID != "" && bytes.HasPrefix(p, sseEventPrefix) {
		id := s.eventID
		s.eventID = ""
		if _, err := io.WriteString(s.w, "id: "+id+"\n"); err != nil {
			s.err = err
			return 0, err
		}
	}
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
