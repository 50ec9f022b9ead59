package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// fuzzQueries are what a fuzzed client subscribes to: a replay larger than the socket buffers,
// a live feed with nothing new, refusals (a bad id, a syntax error) and a plain query.
var fuzzQueries = []string{
	replayQuery,
	`subscription { restoreSessionStarted { upstreamId } }`,
	`subscription { restoreSessionStarted(since: "2000-01-01T00:00:00Z") { upstreamId details a: details } }`,
	`subscription { restoreEventAdded(sessionId: "nope") { __typename } }`,
	`subscription { restoreSessionStarted(`,
	`{ __typename }`,
}

// Client steps, one byte each (its argument in the next byte).
const (
	stepRead      = iota // SSE: read up to 64·(arg+1) bytes; websocket: read one message (a timeout closes it)
	stepStall            // read nothing for arg%4 ms (keep-alives fall due every 2 ms)
	stepClose            // SSE: close the connection; websocket: close without a handshake
	stepHalfClose        // SSE: close the write side (the server reads EOF); websocket: send garbage
	stepReset            // SSE: close with RST; websocket: connection_init
	stepSubscribe        // websocket: subscribe (id arg%3, query arg); SSE: read a little
	stepComplete         // websocket: complete (id arg%3); SSE: stall 1 ms
	stepPing             // websocket: ping; SSE: read a little
	numSteps
)

// maxSteps bounds one execution (CI runs 5000 of them).
const maxSteps = 10

// FuzzSubscriptionTransports drives SSE and graphql-transport-ws clients of an in-process
// gateway with scripts of reads, stalls, partial reads, half and abrupt closes, duplicate
// subscribes and completes. Whatever the script, the gateway must not panic (a panic in any of
// its goroutines fails the run), must release every subscription slot once the client is gone,
// and must still serve. The first byte picks the transport (even: SSE) and, for SSE, the query.
func FuzzSubscriptionTransports(f *testing.F) {
	// A short keep-alive, so that pings fall due during stalls; a short write timeout, so that
	// a stalled client is cut within an execution.
	g := newStreamGateway(f, replayFeed{n: 60, details: strings.Repeat("d", 512)},
		httpapi.Options{SSEKeepAlive: 2 * time.Millisecond, SSEWriteTimeout: 50 * time.Millisecond})
	for _, seed := range [][]byte{
		{0},                             // SSE replay, gone at once
		{0, stepStall, 3, stepClose, 0}, // C1: read nothing past keep-alives, then close
		{0, stepRead, 0, stepStall, 3, stepStall, 3, stepReset, 0},
		{2, stepRead, 3, stepHalfClose, 0, stepStall, 3},
		{4, stepRead, 255, stepRead, 255, stepClose, 0},
		{6, stepStall, 3, stepStall, 3, stepStall, 3, stepStall, 3},
		{1, stepReset, 0, stepSubscribe, 0, stepStall, 3, stepClose, 0},
		{1, stepReset, 0, stepSubscribe, 0, stepSubscribe, 3, stepRead, 0, stepComplete, 0, stepPing, 0},
		{1, stepSubscribe, 1, stepReset, 0, stepHalfClose, 0},
		{1, stepReset, 0, stepSubscribe, 2, stepSubscribe, 5, stepStall, 3, stepRead, 0, stepRead, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) == 0 {
			return
		}
		if script[0]%2 == 0 {
			g.fuzzSSE(t, fuzzQueries[int(script[0]/2)%len(fuzzQueries)], script[1:])
		} else {
			g.fuzzWebsocket(t, script[1:])
		}
		g.waitClosed(t, 3*time.Second)
	})
	f.Cleanup(func() {
		if f.Failed() {
			return
		}
		g.alive(f)
	})
}

// steps yields at most maxSteps (step, argument) pairs of script.
func steps(script []byte, do func(step, arg byte) bool) {
	for i := 0; i < len(script) && i/2 < maxSteps; i += 2 {
		var arg byte
		if i+1 < len(script) {
			arg = script[i+1]
		}
		if !do(script[i]%numSteps, arg) {
			return
		}
	}
}

func (g *streamGateway) fuzzSSE(t *testing.T, query string, script []byte) {
	c := g.dialSSE(t, query)
	defer c.Close()
	buf := make([]byte, 64*256)
	read := func(n int) {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, _ = io.ReadFull(c, buf[:n])
	}
	steps(script, func(step, arg byte) bool {
		switch step {
		case stepRead:
			read(64 * (int(arg) + 1))
		case stepStall:
			time.Sleep(time.Duration(arg%4) * time.Millisecond)
		case stepClose:
			return false
		case stepHalfClose:
			_ = c.(*net.TCPConn).CloseWrite()
		case stepReset:
			_ = c.(*net.TCPConn).SetLinger(0)
			return false
		case stepSubscribe, stepPing:
			read(16)
		case stepComplete:
			time.Sleep(time.Millisecond)
		}
		return true
	})
}

func (g *streamGateway) fuzzWebsocket(t *testing.T, script []byte) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(m map[string]any) bool {
		b, _ := json.Marshal(m)
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, b) == nil
	}
	ids := []string{"a", "b", "c"}
	steps(script, func(step, arg byte) bool {
		switch step {
		case stepRead:
			rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
			defer cancel()
			_, _, err := c.Read(rctx)
			return err == nil // a read that times out closes the connection
		case stepStall:
			time.Sleep(time.Duration(arg%4) * time.Millisecond)
		case stepClose:
			return false
		case stepHalfClose:
			wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			return c.Write(wctx, websocket.MessageText, []byte{'{', arg}) == nil
		case stepReset:
			return send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer k"}})
		case stepSubscribe:
			return send(map[string]any{"id": ids[int(arg)%len(ids)], "type": "subscribe",
				"payload": map[string]any{"query": fuzzQueries[int(arg/3)%len(fuzzQueries)]}})
		case stepComplete:
			return send(map[string]any{"id": ids[int(arg)%len(ids)], "type": "complete"})
		case stepPing:
			return send(map[string]any{"type": "ping"})
		}
		return true
	})
}
