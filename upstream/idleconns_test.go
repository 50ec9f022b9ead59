package upstream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientReusesConnectionsUpToItsConcurrency: rounds of as many calls in flight at once as
// the client's MaxConcurrency reuse the first round's connections. With net/http's default of 2
// idle connections per host, every round of 8 would dial 6 more; past net/http's default of 100
// idle connections in all, every round of 128 would dial 28 more.
func TestClientReusesConnectionsUpToItsConcurrency(t *testing.T) {
	for _, conc := range []int{8, 128} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) { testConnectionReuse(t, conc) })
	}
}

func testConnectionReuse(t *testing.T, conc int) {
	const rounds = 5
	var dialed atomic.Int32
	var mu sync.Mutex
	var arrived *sync.WaitGroup
	var release chan struct{}
	mux := tokenMux()
	mux.HandleFunc("GET /v6/RestoreSessions", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a, rel := arrived, release
		mu.Unlock()
		a.Done()
		<-rel
		fmt.Fprint(w, `{"offset":0,"limit":30,"results":[]}`)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := NewClient(srv.URL, ClientOptions{Name: "conns", Username: "u", Password: "p", MaxConcurrency: conc})
	if err != nil {
		t.Fatal(err)
	}
	for range rounds {
		var a sync.WaitGroup
		a.Add(conc)
		mu.Lock()
		arrived, release = &a, make(chan struct{})
		mu.Unlock()
		var calls sync.WaitGroup
		errs := make(chan error, conc)
		for range conc {
			calls.Go(func() {
				_, _, err := c.RestoreSessions(context.Background(), RestoreSessionListOptions{})
				errs <- err
			})
		}
		a.Wait() // all in flight
		close(release)
		calls.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// conc connections for the calls, and possibly one more for the token call.
	if n := int(dialed.Load()); n > conc+1 {
		t.Errorf("%d connections dialed for %d rounds of %d calls, want at most %d", n, rounds, conc, conc+1)
	}
}

// onlyRoundTrip is a wrapping transport that knows nothing of idle connections (as a
// ClientOptions.WrapTransport need not).
type onlyRoundTrip struct{ http.RoundTripper }

// TestClientCloseIdleConnections: the connections kept for the next calls close on request,
// through a wrapping transport too.
func TestClientCloseIdleConnections(t *testing.T) {
	var open atomic.Int32
	mux := tokenMux()
	mux.HandleFunc("GET /v6/RestoreSessions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"offset":0,"limit":30,"results":[]}`)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := NewClient(srv.URL, ClientOptions{Name: "idle", Username: "u", Password: "p", MaxConcurrency: 4,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper { return onlyRoundTrip{rt} }})
	if err != nil {
		t.Fatal(err)
	}
	var calls sync.WaitGroup
	for range 4 {
		calls.Go(func() {
			if _, _, err := c.RestoreSessions(context.Background(), RestoreSessionListOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	calls.Wait()
	if open.Load() == 0 {
		t.Fatal("no connection kept open")
	}
	c.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n > 0 {
		t.Fatalf("%d connections still open", n)
	}
}
