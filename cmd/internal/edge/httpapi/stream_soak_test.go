package httpapi_test

import (
	"context"
	"encoding/json"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// TestStreamSoak is the bounded soak of issue 20: rounds of SSE and websocket subscribers whose
// replays exceed the socket buffers stall (some past the write timeout), vanish (close, RST,
// half-close) or linger. At the end the gateway serves, every subscription slot is back, the
// goroutine count is back to its baseline and the heap is roughly where it started. Not
// parallel: it counts the process's goroutines.
func TestStreamSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	g := newStreamGateway(t, replayFeed{n: 300, details: strings.Repeat("d", 1<<10)}, httpapi.Options{
		SSEKeepAlive: 5 * time.Millisecond, SSEWriteTimeout: 100 * time.Millisecond,
		Limits: config.Limits{Subscriptions: config.Subscriptions{PerPrincipal: -1, Total: -1}},
	})
	g.alive(t)
	baseGoroutines, baseHeap := settle()

	const rounds, sse, ws = 4, 40, 10
	for round := range rounds {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var lingering []net.Conn // stalled clients that never close: cut by the write timeout
		for i := range sse {
			wg.Go(func() {
				c := g.dialSSE(t, replayQuery)
				switch i % 4 {
				case 0: // read a little, stall past several keep-alives, close (C1)
					_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
					_, _ = c.Read(make([]byte, 512))
					time.Sleep(30 * time.Millisecond)
					_ = c.Close()
				case 1: // vanish abruptly (RST)
					time.Sleep(10 * time.Millisecond)
					_ = c.(*net.TCPConn).SetLinger(0)
					_ = c.Close()
				case 2: // half-close: the request is done, the response never read
					_ = c.(*net.TCPConn).CloseWrite()
					time.Sleep(20 * time.Millisecond)
					_ = c.Close()
				default: // stall and stay
					mu.Lock()
					lingering = append(lingering, c)
					mu.Unlock()
				}
			})
		}
		for i := range ws {
			wg.Go(func() { wsStallAndVanish(t, g, i) })
		}
		wg.Wait()
		// The lingering clients lose their subscriptions to the write timeout while they
		// still hold their connections.
		g.waitClosed(t, 5*time.Second)
		for _, c := range lingering {
			_ = c.Close()
		}
		t.Logf("round %d: %d goroutines", round, runtime.NumGoroutine())
	}

	g.waitClosed(t, 5*time.Second)
	g.alive(t)
	g.sseSessions(t, 3)
	var goroutines int
	var heap uint64
	for deadline := time.Now().Add(5 * time.Second); ; {
		goroutines, heap = settle()
		if goroutines <= baseGoroutines+5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("goroutines %d -> %d, heap %d KB -> %d KB after %d SSE and %d websocket clients",
		baseGoroutines, goroutines, baseHeap>>10, heap>>10, rounds*sse, rounds*ws)
	if goroutines > baseGoroutines+5 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d at the start, %d at the end\n%s", baseGoroutines, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if heap > baseHeap+16<<20 {
		t.Fatalf("heap: %d KB at the start, %d KB at the end", baseHeap>>10, heap>>10)
	}
}

// settle collects garbage and reports the goroutine count and the live heap.
func settle() (int, uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

// wsStallAndVanish subscribes to the replay over graphql-transport-ws, reads nothing, and
// leaves: abruptly, or after completing the operation, or by a read that times out.
func wsStallAndVanish(t *testing.T, g *streamGateway, i int) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Error(err)
		return
	}
	defer c.CloseNow()
	for _, m := range []map[string]any{
		{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer k"}},
		{"id": "1", "type": "subscribe", "payload": map[string]any{"query": replayQuery}},
	} {
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Error(err)
			return
		}
	}
	time.Sleep(30 * time.Millisecond)
	switch i % 3 {
	case 0:
		b, _ := json.Marshal(map[string]any{"id": "1", "type": "complete"})
		_ = c.Write(ctx, websocket.MessageText, b)
	case 1:
		rctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		defer cancel()
		_, _, _ = c.Read(rctx)
	}
}
