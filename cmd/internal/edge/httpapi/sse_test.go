package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// replayFeed is an archive of n sessions: a subscription with since replays them, then (live)
// waits for news that never come, or with end, completes after the replay.
type replayFeed struct {
	n       int
	details string // each session's details (the size of an event)
	end     bool
}

func (f replayFeed) FollowSessions(ctx context.Context, _ resolvers.FeedKind, from resolvers.FeedFrom) (*resolvers.Stream[resolvers.FeedSession], error) {
	ch := make(chan resolvers.FeedSession)
	since, first := from.Since, 0
	if from.After != nil { // session i is at position i+1 of s1's feed
		since, first = from.After.Since, int(from.After.Seqs["s1"])
	}
	go func() {
		defer close(ch)
		for i := first; since != nil && i < f.n; i++ {
			s := resolvers.FeedSession{Server: "s1", OrgID: "o1", At: time.Unix(int64(i), 0), Session: upstream.RestoreSession{
				ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Organization: "Org One", Details: f.details,
				CreationTime: time.Unix(int64(i), 0).UTC()},
				Position: resolvers.FeedPosition{Seqs: map[string]int64{"s1": int64(i + 1)}, Since: since}}
			select {
			case ch <- s:
			case <-ctx.Done():
				return
			}
		}
		if !f.end {
			<-ctx.Done()
		}
	}()
	return &resolvers.Stream[resolvers.FeedSession]{C: ch}, nil
}

func (replayFeed) FollowEvents(ctx context.Context, _, _ string, _ int) (*resolvers.Stream[resolvers.FeedEvent], error) {
	ch := make(chan resolvers.FeedEvent)
	go func() { <-ctx.Done(); close(ch) }()
	return &resolvers.Stream[resolvers.FeedEvent]{C: ch}, nil
}

func (replayFeed) Archived(context.Context, string, string) (bool, error) { return true, nil }

// replayQuery replays the whole archive (C1's shape: a replay larger than the socket buffers).
const replayQuery = `subscription { restoreSessionStarted(since: "2000-01-01T00:00:00Z") { upstreamId details } }`

// streamGateway is an in-process gateway serving subscriptions from feed on loopback, with
// small socket buffers so that a client reading nothing stalls the gateway's writes after a few
// kilobytes. slots counts its open subscriptions.
type streamGateway struct {
	url   string
	addr  string
	slots *httpapi.SubscriptionSlots
}

func newStreamGateway(t testing.TB, feed resolvers.SessionFeed, opts httpapi.Options) *streamGateway {
	t.Helper()
	opts.Feed = feed
	opts.Subscriptions = httpapi.NewSubscriptionSlots()
	h := stubHandler(t, opts)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return &streamGateway{url: srv.URL, addr: srv.Listener.Addr().String(), slots: opts.Subscriptions}
}

// smallBuffers shrinks every accepted connection's send buffer.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// dialSSE opens a connection with a small receive buffer and sends an SSE subscription
// request for query; what the client reads (if anything) is up to the caller.
func (g *streamGateway) dialSSE(t testing.TB, query string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	body, _ := json.Marshal(map[string]string{"query": query})
	req := fmt.Sprintf("POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"+
		"Content-Length: %d\r\n\r\n%s", g.addr, len(body), body)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitClosed waits (bounded) until no subscription is open, failing with what is.
func (g *streamGateway) waitClosed(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for g.slots.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions still open %s after their clients stalled or left", g.slots.Open(), within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive fails unless the gateway answers a query and a new SSE subscription reaches its end.
func (g *streamGateway) alive(t testing.TB) {
	t.Helper()
	resp, err := http.Get(g.url + "/healthz")
	if err != nil {
		t.Fatalf("gateway gone: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
}

// sseSessions subscribes with replayQuery and reads n sessions, then leaves.
func (g *streamGateway) sseSessions(t testing.TB, n int) {
	t.Helper()
	c := g.dialSSE(t, replayQuery)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	got := 0
	for got < n && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), "upstreamId") {
			got++
		}
	}
	if got < n {
		t.Fatalf("read %d sessions, want %d: %v", got, n, sc.Err())
	}
}

// TestSSEStalledReaderThenGone is C1: SSE subscribers whose replay is larger than the socket
// buffers read nothing for several keep-alive periods, then close. Before the fix the
// keep-alive goroutine of gqlgen's transport wrote to the response after the handler had
// returned and the process died (nil pointer in bufio.(*Writer).Flush). Now every subscription
// ends, its slot comes back, and the gateway still serves.
func TestSSEStalledReaderThenGone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		feed replayFeed
		// read is how many sessions a client reads before it stalls (0: none).
		read int
	}{
		{"live replay, nothing read", replayFeed{n: 400, details: strings.Repeat("d", 2<<10)}, 0},
		{"live replay, some read", replayFeed{n: 400, details: strings.Repeat("d", 2<<10)}, 3},
		{"replay that completes, nothing read", replayFeed{n: 200, details: strings.Repeat("d", 2<<10), end: true}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const keepAlive = 5 * time.Millisecond
			g := newStreamGateway(t, tc.feed, httpapi.Options{SSEKeepAlive: keepAlive})
			var wg sync.WaitGroup
			for range 12 {
				wg.Go(func() {
					c := g.dialSSE(t, replayQuery)
					if tc.read > 0 {
						br := bufio.NewReader(c)
						for got := 0; got < tc.read; {
							line, err := br.ReadString('\n')
							if err != nil {
								t.Errorf("read: %v", err)
								break
							}
							if strings.HasPrefix(line, "data: ") {
								got++
							}
						}
					}
					time.Sleep(20 * keepAlive) // stalled: several keep-alives fall due
					_ = c.Close()
				})
			}
			wg.Wait()
			g.waitClosed(t, 5*time.Second)
			time.Sleep(20 * keepAlive) // a ping due after the handlers returned would panic now
			g.alive(t)
			g.sseSessions(t, 2)
		})
	}
}

// TestSSEStalledClientCut: a client that reads nothing and never closes holds its subscription
// (a slot, a goroutine, buffers) only for the write timeout: the stalled write fails, the
// subscription ends and its slot comes back, while the client still holds the connection.
func TestSSEStalledClientCut(t *testing.T) {
	t.Parallel()
	const writeTimeout = 150 * time.Millisecond
	g := newStreamGateway(t, replayFeed{n: 400, details: strings.Repeat("d", 2<<10)},
		httpapi.Options{SSEKeepAlive: 20 * time.Millisecond, SSEWriteTimeout: writeTimeout})
	var conns []net.Conn
	for range 4 {
		conns = append(conns, g.dialSSE(t, replayQuery))
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for g.slots.Open() != 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	g.waitClosed(t, 5*time.Second) // without a write deadline: never
	t.Logf("4 stalled subscriptions ended %s after they started (write timeout %s)", time.Since(start).Round(time.Millisecond), writeTimeout)
	g.alive(t)
}
